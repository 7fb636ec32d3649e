/* kmemleak.h: the kernel's memory leak detector, for cases that drive a pattern known to leak. */
#ifndef VSC_KMEMLEAK_H
#define VSC_KMEMLEAK_H

#include <stddef.h>

#define VSC_KMEMLEAK_PATH "/sys/kernel/debug/kmemleak"

/* Backtrace substrings that mark an object as allocated by vsock code. */
#define VSC_KMEMLEAK_VSOCK_SYMBOLS ((const char *const[]){ "vsock", "virtio_transport", NULL })

/*
 * The run-time need VSC_NEED_KMEMLEAK: NULL when kmemleak's control file is there, else why not
 * (static storage).
 */
const char *vsc_kmemleak_unavailable(void);

/*
 * Call before the leaky pattern, in the role that later calls vsc_kmemleak_expect_none(): leaks
 * reported so far are forgotten, and objects allocated before this call are not counted.
 */
void vsc_kmemleak_begin_at(const char *file, int line);
#define vsc_kmemleak_begin() vsc_kmemleak_begin_at(__FILE__, __LINE__)

/*
 * Call once the pattern's sockets are closed: waits out kmemleak's minimum object age, scans
 * twice and fails the role (not fatally) for every unreferenced object whose allocation
 * backtrace names one of `symbols`, quoting the first. Skips the role if kmemleak is disabled.
 * Returns how many such objects it found.
 */
int vsc_kmemleak_expect_none_at(const char *file, int line, const char *const *symbols);
#define vsc_kmemleak_expect_none(symbols) vsc_kmemleak_expect_none_at(__FILE__, __LINE__, symbols)

/*
 * The parser behind it, for the library's self-test: counts the records of a kmemleak report
 * allocated at or after jiffies `since` (0: all) whose backtrace names one of `symbols`, and
 * condenses the first into `first` (one line).
 */
int vsc_kmemleak_count(const char *report, unsigned long long since,
		       const char *const *symbols, char *first, size_t first_size);

#endif
