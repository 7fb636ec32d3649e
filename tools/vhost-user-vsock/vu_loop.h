/* vu_loop.h: the one epoll loop of the process; every descriptor it watches names a callback. */
#ifndef VU_LOOP_H
#define VU_LOOP_H

#include <stddef.h>
#include <stdint.h>

/* Embedded in whatever owns the descriptor; the callback finds its owner with container_of. */
struct vu_watch {
	void (*on_event)(struct vu_watch *watch, uint32_t events);
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

int vu_loop_init(char *error, size_t error_size);
/* Level-triggered unless `events` has EPOLLET; 0 or -1 (errno). */
int vu_loop_add(int fd, uint32_t events, struct vu_watch *watch);
void vu_loop_del(int fd);
/* Waits at most timeout_ms (-1: no limit) and runs the callbacks of what is ready; -1 on failure. */
int vu_loop_wait(int timeout_ms);
uint64_t vu_now_ms(void);

#endif
