#ifndef HAVPN_CNFTABLES_H
#define HAVPN_CNFTABLES_H
/* libnftables, opened with dlopen on first use instead of linked. Linking it made every havpn process
   map and relocate libnftables and its five libraries (libmnl, libnftnl, libxtables, libjansson, libgmp)
   at start-up, about 45 ms under user-mode-linux, although a host without nf_tables for inet never calls
   it (the precheck below decides that first) and `validate` or `--version` never touch a packet filter.
   The calls keep libnftables' own signatures (1.0.6, stable API); the library's header is not included:
   it defines _GNU_SOURCE before <stdio.h>, which gives glibc's types another shape in this module than in
   Swift's Glibc module ("'__fds_bits' from module 'SwiftGlibc' is not present in definition of 'fd_set'"). */
#include <stddef.h>
#include <stdint.h>

struct nft_ctx;
#define NFT_CTX_DEFAULT 0

/* The soname havpn opens: Debian's libnftables1. */
#define HAVPN_NFT_SONAME "libnftables.so.1"

/* Loads HAVPN_NFT_SONAME once per process (thread-safe). 0 when the calls below can be made; -1 with the
   loader's one-line reason in `error` otherwise (every later call gives the same answer). */
int havpn_nft_load(char *error, size_t size);

/* Opens `soname` and checks that it has every call havpn makes, then closes it again: what
   havpn_nft_load does, for tests of its failures. 0, or -1 with the reason in `error`. */
int havpn_nft_check_library(const char *soname, char *error, size_t size);

/* libnftables' calls, valid only after havpn_nft_load returned 0. */
struct nft_ctx *havpn_nft_ctx_new(uint32_t flags);
void havpn_nft_ctx_free(struct nft_ctx *ctx);
int havpn_nft_ctx_buffer_output(struct nft_ctx *ctx);
const char *havpn_nft_ctx_get_output_buffer(struct nft_ctx *ctx);
int havpn_nft_ctx_buffer_error(struct nft_ctx *ctx);
const char *havpn_nft_ctx_get_error_buffer(struct nft_ctx *ctx);
int havpn_nft_run_cmd_from_buffer(struct nft_ctx *nft, const char *buf);
/* Dry run: the batch goes to the kernel without its end message, so the kernel validates every
   command and aborts (NFNL_ABORT_VALIDATE): errors are real, nothing is committed. */
void havpn_nft_ctx_set_dry_run(struct nft_ctx *ctx, _Bool dry);

/* Whether the kernel's nf_tables can create an inet table, asked with one raw netfilter batch of two
   messages (batch begin, NEWTABLE inet "havpn-probe" with an ack) and no batch end, so the kernel
   checks the command and then aborts the batch: nothing is committed. Returns 0 when it can, or the
   kernel's -errno (-EOPNOTSUPP: nf_tables without the inet family, as in the user-mode-linux lab;
   -EPROTONOSUPPORT: no nfnetlink). Cheaper than libnftables' own probe where nftables cannot be
   used: it needs neither libnftables nor its parser and cache. Constants from linux/netlink.h,
   nfnetlink.h and nf_tables.h, spelled out to keep kernel headers out of this module. Runs in the
   calling thread's network namespace. */
int havpn_nft_inet_table_probe(void);

/* glibc declares pipe2 only under _GNU_SOURCE, which Swift's Glibc module does not set. */
extern int pipe2(int pipefd[2], int flags);

#endif
