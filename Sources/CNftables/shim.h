/* libnftables.h defines _GNU_SOURCE before it includes <stdio.h>, which gives glibc's types another
   shape in this module than in Swift's Glibc module: a clean build then fails ("'__fds_bits' from module
   'SwiftGlibc' is not present in definition of 'fd_set'"). So the shim declares the few calls havpn
   makes, with the library's own signatures (libnftables 1.0.6, stable API), and links the library. */
#include <stdint.h>
struct nft_ctx;
#define NFT_CTX_DEFAULT 0
struct nft_ctx *nft_ctx_new(uint32_t flags);
void nft_ctx_free(struct nft_ctx *ctx);
int nft_ctx_buffer_output(struct nft_ctx *ctx);
const char *nft_ctx_get_output_buffer(struct nft_ctx *ctx);
int nft_ctx_buffer_error(struct nft_ctx *ctx);
const char *nft_ctx_get_error_buffer(struct nft_ctx *ctx);
int nft_run_cmd_from_buffer(struct nft_ctx *nft, const char *buf);
/* Dry run: the batch goes to the kernel without its end message, so the kernel validates every
   command and aborts (NFNL_ABORT_VALIDATE): errors are real, nothing is committed. */
void nft_ctx_set_dry_run(struct nft_ctx *ctx, _Bool dry);

/* glibc declares pipe2 only under _GNU_SOURCE, which Swift's Glibc module does not set */
extern int pipe2(int pipefd[2], int flags);

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* Entry count, blob size and hook count of one iptables-legacy table (IPT_SO_GET_INFO /
   IP6T_SO_GET_INFO, both 64, on a raw socket of the calling thread's namespace): a cheap change
   detector without spawning iptables-save. A table with one entry per hook (the built-in chains'
   policies) plus the final error entry holds no rule and no user chain. Returns 0, or -errno
   (ENOENT: the table does not exist). The struct mirrors ipt_getinfo/ip6t_getinfo, which have the
   same layout. */
static inline int havpn_xt_table_info(int family, const char *table, unsigned int *entries, unsigned int *size,
                                      unsigned int *hooks) {
    struct { char name[32]; unsigned int valid_hooks, hook_entry[5], underflow[5], num_entries, size; } info;
    memset(&info, 0, sizeof info);
    strncpy(info.name, table, sizeof info.name - 1);
    int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0) return -errno;
    socklen_t len = sizeof info;
    int rc = getsockopt(fd, family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP, 64, &info, &len);
    int err = errno;
    close(fd);
    if (rc < 0) return -err;
    *entries = info.num_entries;
    *size = info.size;
    *hooks = (unsigned int)__builtin_popcount(info.valid_hooks);
    return 0;
}
