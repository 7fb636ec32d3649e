/* vu_loop.c: epoll over the descriptors of every VM; the callbacks do the work. */
#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "vu_loop.h"

#define EVENTS_PER_WAIT 64

static int epoll_fd = -1;

int vu_loop_init(char *error, size_t error_size)
{
	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (epoll_fd < 0) {
		snprintf(error, error_size, "epoll_create1: %m");
		return -1;
	}
	return 0;
}

int vu_loop_add(int fd, uint32_t events, struct vu_watch *watch)
{
	struct epoll_event ev = { .events = events, .data.ptr = watch };

	return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

void vu_loop_del(int fd)
{
	if (fd >= 0)
		epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
}

int vu_loop_wait(int timeout_ms)
{
	struct epoll_event events[EVENTS_PER_WAIT];
	int n, i;

	n = epoll_wait(epoll_fd, events, EVENTS_PER_WAIT, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n; i++) {
		struct vu_watch *watch = events[i].data.ptr;

		watch->on_event(watch, events[i].events);
	}
	return n;
}

uint64_t vu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
