"""What the sanitizer build of the backend reports: its settings, and the findings in its log."""

import re

# Every report ends the program with an error exit (not an abort and its core dump), so no
# finding scrolls by unnoticed.
ASAN_OPTIONS = "halt_on_error=1:abort_on_error=0:detect_leaks=1:print_summary=1"
UBSAN_OPTIONS = "halt_on_error=1:print_stacktrace=1"

# The first line of each kind of report: ASan (and its leak checker), UBSan.
FINDING = re.compile(r"ERROR: (?:AddressSanitizer|LeakSanitizer)\b|runtime error:")
MAX_FINDINGS = 10


def sanitizer_findings(log_text: str) -> list[str]:
    """The lines of `log_text` that start a sanitizer report (at most MAX_FINDINGS), stripped."""
    found = [line.strip() for line in log_text.splitlines() if FINDING.search(line)]
    return found[:MAX_FINDINGS]
