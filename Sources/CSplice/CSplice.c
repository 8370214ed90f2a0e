#define _GNU_SOURCE
#include "CSplice.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

_Static_assert(CSPLICE_EPOLLIN == EPOLLIN, "EPOLLIN");
_Static_assert(CSPLICE_EPOLLOUT == EPOLLOUT, "EPOLLOUT");
_Static_assert(CSPLICE_EPOLLERR == EPOLLERR, "EPOLLERR");
_Static_assert(CSPLICE_EPOLLHUP == EPOLLHUP, "EPOLLHUP");

int csplice_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int csplice_epoll_ctl(int epoll, int op, int fd, uint32_t events) {
    struct epoll_event event = {.events = events, .data = {.fd = fd}};
    return epoll_ctl(epoll, op, fd, &event);
}

int csplice_epoll_wait(int epoll, int32_t *fds, uint32_t *events, int max, int timeout) {
    struct epoll_event ready[256];
    if (max > 256) max = 256;
    int count = epoll_wait(epoll, ready, max, timeout);
    for (int i = 0; i < count; i++) {
        fds[i] = ready[i].data.fd;
        events[i] = ready[i].events;
    }
    return count;
}

int csplice_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int csplice_pipe(int32_t ends[2]) {
    int fds[2];
    int result = pipe2(fds, O_NONBLOCK | O_CLOEXEC);
    if (result == 0) {
        ends[0] = fds[0];
        ends[1] = fds[1];
    }
    return result;
}

int csplice_pipe_resize(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }

int csplice_pipe_size(int fd) { return fcntl(fd, F_GETPIPE_SZ); }

ssize_t csplice_splice(int from, int to, size_t length) {
    return splice(from, NULL, to, NULL, length, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
}

int csplice_accept(int listener) { return accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }

int csplice_tcp_socket(int family) { return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }
