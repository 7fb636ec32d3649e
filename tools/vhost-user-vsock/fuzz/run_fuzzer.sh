#!/bin/sh
# run_fuzzer.sh: runs one libFuzzer target for a bounded time; prints its runs and coverage,
# and "no crash" or where the crashing input was written (then exits 1).
# usage: run_fuzzer.sh TARGET SECONDS CORPUS_DIR SEED_DIR OUT_DIR [libFuzzer options]
# OUT_DIR receives the log (TARGET.log) and any crashing input (TARGET-crash-*).
set -u
if [ $# -lt 5 ]; then
	echo "usage: $0 TARGET SECONDS CORPUS_DIR SEED_DIR OUT_DIR [libFuzzer options]" >&2
	exit 2
fi
target=$1 seconds=$2 corpus=$3 seeds=$4 out=$5
shift 5
name=$(basename "$target")
log=$out/$name.log
mkdir -p "$corpus" "$out"
# New inputs go to the first directory (the corpus); the checked-in seeds are only read.
# A single input running 10 s is a hang: reported like a crash.
"$target" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
	-artifact_prefix="$out/$name-" "$@" "$corpus" "$seeds" >"$log" 2>&1
status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
if [ "$status" -eq 0 ]; then
	echo "$name: ${runs:-?} runs, ${coverage:-no coverage line}, no crash (log: $log)"
	exit 0
fi
crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | head -n 1)
echo "$name: ${runs:-?} runs, CRASH: ${crash:-no input saved} (log: $log)"
[ -n "$crash" ] && echo "$name: reproduce with: $target $crash"
exit 1
