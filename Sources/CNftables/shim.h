#include <nftables/libnftables.h>
/* glibc declares setns only under _GNU_SOURCE, which Swift's Glibc module does not set */
#include <linux/sched.h>
extern int setns(int fd, int nstype);
extern int pipe2(int pipefd[2], int flags);
