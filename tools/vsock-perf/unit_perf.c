/* unit_perf.c: vsock-perf's pure parts on the build machine: nearest-rank percentiles and the
 * report line in both forms (the runner parses the text one, perf_tool.c the JSON one). */
#include <string.h>

#include "perf.h"
#include "vsc.h"

static void expect_text(const char *file, int line, const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		vsc_fail_at(file, line, "got '%s', want '%s'", got, want);
}
#define EXPECT_TEXT(got, want) expect_text(__FILE__, __LINE__, got, want)

static void percentiles(const struct vsc_env *env)
{
	uint64_t values[100], one[1] = { 7 };
	unsigned int i;

	(void)env;
	for (i = 0; i < 100; i++)
		values[i] = 100 - i;	/* 100 .. 1, sorted below */
	sort_u64(values, 100);
	EXPECT_EQ(values[0], 1);
	EXPECT_EQ(percentile(values, 100, 0), 1);
	EXPECT_EQ(percentile(values, 100, 50), 50);
	EXPECT_EQ(percentile(values, 100, 90), 90);
	EXPECT_EQ(percentile(values, 100, 99), 99);
	EXPECT_EQ(percentile(values, 100, 100), 100);
	/* Nearest rank over 10 values: p99 is the 10th (ceil(9.9)), p50 the 5th. */
	EXPECT_EQ(percentile(values, 10, 99), 10);
	EXPECT_EQ(percentile(values, 10, 50), 5);
	EXPECT_EQ(percentile(one, 1, 50), 7);
	EXPECT_EQ(percentile(one, 0, 50), 0);
}
VSC_CASE(perf_unit_percentiles, .summary = "nearest-rank p0/p50/p90/p99/p100 over 100, 10, 1 and 0 values",
	 .run = percentiles);

static void report_lines(const struct vsc_env *env)
{
	struct report r = { 0 };
	char line[512];

	(void)env;
	report_u64(&r, "bytes", 1048576);
	report_f(&r, "mib_per_s", "%.2f", 12.345);
	report_text(&r, "role", "listen");
	report_format(&r, "recv", 0, line, sizeof(line));
	EXPECT_TEXT(line, "vsock-perf: recv bytes=1048576 mib_per_s=12.35 role=listen\n");
	report_format(&r, "recv", 1, line, sizeof(line));
	EXPECT_TEXT(line, "{\"tool\": \"vsock-perf\", \"mode\": \"recv\", \"bytes\": 1048576, "
			  "\"mib_per_s\": 12.35, \"role\": \"listen\"}\n");
	/* Too small a line is cut, never overrun. */
	report_format(&r, "recv", 0, line, 12);
	EXPECT_TEXT(line, "vsock-perf:");
}
VSC_CASE(perf_unit_report_lines, .summary = "a report as text k=v words and as a flat JSON object",
	 .run = report_lines);
