#ifndef CSPLICE_H
#define CSPLICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// The Linux calls the CONNECT proxy's splice relay needs and Swift's Glibc module does not import
// (epoll, splice, pipe2, accept4 and F_SETPIPE_SZ are behind _GNU_SOURCE or outside its module map).
// Every call is non-blocking and close-on-exec; epoll events carry the descriptor as their data.

enum {
    CSPLICE_EPOLLIN = 0x001,
    CSPLICE_EPOLLOUT = 0x004,
    CSPLICE_EPOLLERR = 0x008,
    CSPLICE_EPOLLHUP = 0x010,
};

int csplice_epoll_create(void);
/// op: 1 add, 2 delete, 3 modify (EPOLL_CTL_*).
int csplice_epoll_ctl(int epoll, int op, int fd, uint32_t events);
/// Waits up to `timeout` ms (-1 forever); fills `fds` and `events` with up to `max` entries.
int csplice_epoll_wait(int epoll, int32_t *fds, uint32_t *events, int max, int timeout);
int csplice_eventfd(void);
/// A pipe, both ends non-blocking.
int csplice_pipe(int32_t ends[2]);
/// Resizes a pipe; returns the new size or -1.
int csplice_pipe_resize(int fd, int size);
/// A pipe's size in bytes, or -1.
int csplice_pipe_size(int fd);
/// splice(2) without offsets, SPLICE_F_NONBLOCK | SPLICE_F_MOVE.
ssize_t csplice_splice(int from, int to, size_t length);
/// accept4(2), the new socket non-blocking.
int csplice_accept(int listener);
/// A non-blocking TCP socket of `family`.
int csplice_tcp_socket(int family);

#endif
