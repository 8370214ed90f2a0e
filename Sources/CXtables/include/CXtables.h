#ifndef CXTABLES_H
#define CXTABLES_H

#include <stdint.h>

// An iptables-legacy table read in-process: the blob of IPT_SO_GET_ENTRIES / IP6T_SO_GET_ENTRIES
// (what iptables-save reads through libiptc) walked into plain records, so that havpn can see its
// chains without spawning iptables-save (30-60 ms per child in user-mode-linux). Only plain C types
// here: the kernel's UAPI headers clash with glibc's in Swift's module, so they stay in the .c file.

/// What IPT_SO_GET_INFO tells about a table (ipt_getinfo and ip6t_getinfo have the same layout).
typedef struct {
    uint32_t valid_hooks;
    uint32_t hook_entry[5];
    uint32_t underflow[5];
    uint32_t num_entries;
    uint32_t size;
} havpn_xt_info;

/// A chain in blob order: built-in (hook 0-4: PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING) or
/// user-defined (hook -1, its name at name_offset in the blob, name_length bytes).
typedef struct {
    int32_t hook;
    uint32_t name_offset;
    uint32_t name_length;
    uint32_t head_offset; // the hook entry, or the user chain's ERROR head entry
    uint32_t foot_offset; // the policy, or the user chain's tail RETURN
} havpn_xt_chain;

enum {
    HAVPN_XT_FALLTHROUGH = 0, // no target: iptables-save prints no -j
    HAVPN_XT_VERDICT = 1,     // verdict: 0 DROP, 1 ACCEPT, 3 QUEUE, 4 RETURN (NF_REPEAT)
    HAVPN_XT_JUMP = 2,        // to chain jump_chain (an index into the chains)
    HAVPN_XT_EXTENSION = 3,   // an extension target, its name at name_offset in the blob
};

/// One rule (not a policy, not a user chain's tail RETURN, not an ERROR entry).
typedef struct {
    uint32_t chain;          // index into the chains
    uint32_t offset;         // of the entry in the blob
    uint32_t kind;           // HAVPN_XT_*
    int32_t verdict;         // HAVPN_XT_VERDICT
    uint32_t jump_chain;     // HAVPN_XT_JUMP
    uint32_t name_offset;    // HAVPN_XT_EXTENSION
    uint32_t name_length;
    uint32_t comment_offset; // the first comment match's text, when has_comment
    uint32_t comment_length;
    uint32_t other_matches;  // matches other than that comment
    uint8_t has_comment;
    uint8_t is_goto;         // -g rather than -j
    uint8_t ip_wildcard;     // no address, interface, protocol, fragment or TOS condition, no inversion
} havpn_xt_rule;

/// Reads table `table` of `family` (AF_INET or AF_INET6) in the calling thread's network namespace.
/// On success (0) `*blob` is a malloc'ed copy of the entries (`info->size` bytes; free it).
/// Returns -errno: ENOENT no such table, ENOPROTOOPT no ip_tables, EPERM, EAGAIN the table kept
/// changing between the size query and the read.
int havpn_xt_read(int family, const char *table, havpn_xt_info *info, uint8_t **blob);

/// Entry count, blob size and hook count of one table (IPT_SO_GET_INFO alone): a cheap change
/// detector. A table with one entry per hook (the built-in chains' policies) plus the final error
/// entry holds no rule and no user chain. Returns 0, or -errno (ENOENT: no such table).
int havpn_xt_table_info(int family, const char *table, uint32_t *entries, uint32_t *size, uint32_t *hooks);

/// A raw socket of `family` in the calling thread's namespace for ``havpn_xt_read_on`` (one for all
/// the tables of a reading: a system call costs about 9 µs in user-mode-linux), or -errno.
int havpn_xt_socket(int family);

/// ``havpn_xt_read`` on a socket from ``havpn_xt_socket``, which it leaves open.
int havpn_xt_read_on(int fd, int family, const char *table, havpn_xt_info *info, uint8_t **blob);

/// Walks `size` bytes of entries (no alignment needed) as `info` describes them. `chains` and
/// `rules` need room for `info->num_entries` records each. Returns 0, or -EINVAL when the blob is
/// malformed (offsets out of range, sizes inconsistent, an unknown verdict, a jump to no chain):
/// never reads outside `blob`.
int havpn_xt_walk(int family, const uint8_t *blob, uint32_t size, const havpn_xt_info *info, havpn_xt_chain *chains,
                  uint32_t *chain_count, havpn_xt_rule *rules, uint32_t *rule_count);

#endif
