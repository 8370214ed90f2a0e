#include "CXtables.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
// After glibc's <netinet/in.h>, so that the kernel's libc-compat.h leaves its in.h definitions out.
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

// The public header mirrors the kernel's structs; a mismatch must not compile.
_Static_assert(sizeof(struct ipt_getinfo) == XT_TABLE_MAXNAMELEN + sizeof(havpn_xt_info), "ipt_getinfo");
_Static_assert(offsetof(struct ipt_getinfo, valid_hooks) == XT_TABLE_MAXNAMELEN, "ipt_getinfo.valid_hooks");
_Static_assert(sizeof(struct ip6t_getinfo) == sizeof(struct ipt_getinfo), "ip6t_getinfo");
_Static_assert(sizeof(struct ip6t_get_entries) == sizeof(struct ipt_get_entries), "ip6t_get_entries");
_Static_assert(IP6T_SO_GET_INFO == IPT_SO_GET_INFO && IP6T_SO_GET_ENTRIES == IPT_SO_GET_ENTRIES, "sockopts");
_Static_assert(sizeof(struct ipt_ip) == 84, "ipt_ip has no padding (compared whole)");

int havpn_xt_socket(int family) {
    int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    return fd < 0 ? -errno : fd;
}

int havpn_xt_table_info(int family, const char *table, uint32_t *entries, uint32_t *size, uint32_t *hooks) {
    int fd = havpn_xt_socket(family);
    if (fd < 0) return fd;
    struct ipt_getinfo info;
    memset(&info, 0, sizeof info);
    strncpy(info.name, table, sizeof info.name - 1);
    socklen_t len = sizeof info;
    int rc = getsockopt(fd, family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP, IPT_SO_GET_INFO, &info, &len);
    int err = errno;
    close(fd);
    if (rc < 0) return -err;
    *entries = info.num_entries;
    *size = info.size;
    *hooks = (uint32_t)__builtin_popcount(info.valid_hooks);
    return 0;
}

int havpn_xt_read(int family, const char *table, havpn_xt_info *out, uint8_t **blob) {
    *blob = NULL;
    int fd = havpn_xt_socket(family);
    if (fd < 0) return fd;
    int rc = havpn_xt_read_on(fd, family, table, out, blob);
    close(fd);
    return rc;
}

int havpn_xt_read_on(int fd, int family, const char *table, havpn_xt_info *out, uint8_t **blob) {
    *blob = NULL;
    int level = family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
    int rc = -EAGAIN;
    // The kernel answers EAGAIN when the table's size changed since GET_INFO (a rule added in
    // between): ask again, a few times.
    for (int attempt = 0; attempt < 5 && rc == -EAGAIN; attempt++) {
        struct ipt_getinfo info;
        memset(&info, 0, sizeof info);
        strncpy(info.name, table, sizeof info.name - 1);
        socklen_t len = sizeof info;
        if (getsockopt(fd, level, IPT_SO_GET_INFO, &info, &len) < 0) {
            rc = -errno;
            break;
        }
        size_t total = sizeof(struct ipt_get_entries) + info.size;
        struct ipt_get_entries *get = malloc(total);
        if (get == NULL) {
            rc = -ENOMEM;
            break;
        }
        memset(get, 0, sizeof *get);
        strncpy(get->name, table, sizeof get->name - 1);
        get->size = info.size;
        len = (socklen_t)total;
        if (getsockopt(fd, level, IPT_SO_GET_ENTRIES, get, &len) < 0) {
            rc = -errno;
            free(get);
            continue;
        }
        if (len != total || get->size != info.size) {
            rc = -EAGAIN;
            free(get);
            continue;
        }
        memmove(get, get->entrytable, info.size);
        memcpy(out, &info.valid_hooks, sizeof *out);
        *blob = (uint8_t *)get;
        rc = 0;
    }
    return rc;
}

/// The parts of an entry's header the walk needs, either family.
struct header {
    uint32_t target_offset, next_offset;
    uint8_t is_goto, ip_wildcard;
};

static int all_zero(const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0) return 0;
    return 1;
}

/// Copies the header out (the blob need not be aligned). `room` bytes are readable at `p`.
static int read_header(int family, const uint8_t *p, uint32_t room, struct header *h) {
    if (family == AF_INET6) {
        struct ip6t_entry e;
        if (room < sizeof e) return -EINVAL;
        memcpy(&e, p, sizeof e);
        const struct ip6t_ip6 *ip = &e.ipv6;
        h->target_offset = e.target_offset;
        h->next_offset = e.next_offset;
        h->is_goto = (ip->flags & IP6T_F_GOTO) != 0;
        // Field by field: the struct has padding.
        h->ip_wildcard = all_zero(&ip->src, sizeof ip->src) && all_zero(&ip->dst, sizeof ip->dst) &&
                         all_zero(&ip->smsk, sizeof ip->smsk) && all_zero(&ip->dmsk, sizeof ip->dmsk) &&
                         all_zero(ip->iniface, sizeof ip->iniface) && all_zero(ip->outiface, sizeof ip->outiface) &&
                         all_zero(ip->iniface_mask, sizeof ip->iniface_mask) &&
                         all_zero(ip->outiface_mask, sizeof ip->outiface_mask) && ip->proto == 0 && ip->tos == 0 &&
                         (ip->flags & ~IP6T_F_GOTO) == 0 && ip->invflags == 0;
    } else {
        struct ipt_entry e;
        if (room < sizeof e) return -EINVAL;
        memcpy(&e, p, sizeof e);
        h->target_offset = e.target_offset;
        h->next_offset = e.next_offset;
        h->is_goto = (e.ip.flags & IPT_F_GOTO) != 0;
        e.ip.flags &= (uint8_t)~IPT_F_GOTO;
        h->ip_wildcard = all_zero(&e.ip, sizeof e.ip);
    }
    return 0;
}

/// The hook whose built-in chain starts at `offset`, or -1.
static int hook_at(const havpn_xt_info *info, uint32_t offset) {
    for (int i = 0; i < 5; i++)
        if ((info->valid_hooks & (1u << i)) && info->hook_entry[i] == offset) return i;
    return -1;
}

// Walks the blob as libiptc does for iptables-save: a chain starts at an ERROR entry (a user
// chain, named by the entry) or at a hook entry (a built-in chain, whose first entry is a rule);
// the last entry of every chain (the policy, a user chain's tail RETURN) is no rule; the final
// entry of the table (an ERROR entry) ends it; a jump goes to the chain whose entries hold its
// offset. Every read is bounds-checked against `size` and each entry's own sizes.
int havpn_xt_walk(int family, const uint8_t *blob, uint32_t size, const havpn_xt_info *info, havpn_xt_chain *chains,
                  uint32_t *chain_count, havpn_xt_rule *rules, uint32_t *rule_count) {
    const uint32_t header_size = family == AF_INET6 ? sizeof(struct ip6t_entry) : sizeof(struct ipt_entry);
    const uint32_t target_header = sizeof(struct xt_entry_target);
    const uint32_t match_header = sizeof(struct xt_entry_match);
    uint32_t entries = 0, nchains = 0, nrules = 0, in_chain = 0;
    int ended = 0;
    *chain_count = 0;
    *rule_count = 0;
    for (uint32_t off = 0; off < size;) {
        // Room for one record per entry: more entries than GET_INFO counted is malformed.
        if (ended || entries >= info->num_entries) return -EINVAL;
        entries++;
        struct header h;
        if (read_header(family, blob + off, size - off, &h) < 0) return -EINVAL;
        if (h.next_offset < header_size + target_header || h.next_offset > size - off) return -EINVAL;
        if (h.target_offset < header_size || h.target_offset > h.next_offset - target_header) return -EINVAL;
        struct xt_entry_target t;
        memcpy(&t, blob + off + h.target_offset, sizeof t);
        uint32_t target_size = t.u.user.target_size;
        if (target_size < target_header || target_size > h.next_offset - h.target_offset) return -EINVAL;
        if (strnlen(t.u.user.name, sizeof t.u.user.name) == sizeof t.u.user.name) return -EINVAL;
        const uint32_t data_offset = off + h.target_offset + target_header;
        const uint32_t data_size = target_size - target_header;
        const int is_error = strcmp(t.u.user.name, XT_ERROR_TARGET) == 0;
        const int is_final = h.next_offset == size - off;
        const int hook = hook_at(info, off);

        if (is_final || is_error || hook >= 0) {
            // The chain before ends here: its last entry was its policy or tail RETURN.
            if (nchains > 0) {
                if (in_chain == 0) return -EINVAL;
                nrules--;
                chains[nchains - 1].foot_offset = rules[nrules].offset;
            }
            in_chain = 0;
            if (is_final) {
                if (!is_error) return -EINVAL;
                ended = 1;
                off += h.next_offset;
                continue;
            }
            havpn_xt_chain *c = &chains[nchains++];
            memset(c, 0, sizeof *c);
            c->hook = is_error ? -1 : hook;
            c->head_offset = off;
            c->foot_offset = off;
            if (is_error) {
                uint32_t limit = data_size < XT_FUNCTION_MAXNAMELEN ? data_size : XT_FUNCTION_MAXNAMELEN;
                uint32_t length = (uint32_t)strnlen((const char *)blob + data_offset, limit);
                if (length == limit) return -EINVAL;
                c->name_offset = data_offset;
                c->name_length = length;
                off += h.next_offset;
                continue;
            }
        }
        if (nchains == 0) return -EINVAL; // a rule before the first chain

        havpn_xt_rule *r = &rules[nrules];
        memset(r, 0, sizeof *r);
        r->chain = nchains - 1;
        r->offset = off;
        r->is_goto = h.is_goto;
        r->ip_wildcard = h.ip_wildcard;
        for (uint32_t at = header_size; at < h.target_offset;) {
            if (h.target_offset - at < match_header) return -EINVAL;
            struct xt_entry_match m;
            memcpy(&m, blob + off + at, sizeof m);
            uint32_t match_size = m.u.user.match_size;
            if (match_size < match_header || match_size > h.target_offset - at) return -EINVAL;
            if (strnlen(m.u.user.name, sizeof m.u.user.name) == sizeof m.u.user.name) return -EINVAL;
            if (!r->has_comment && strcmp(m.u.user.name, "comment") == 0 &&
                match_size - match_header >= sizeof(struct xt_comment_info)) {
                const char *text = (const char *)blob + off + at + match_header;
                uint32_t length = (uint32_t)strnlen(text, XT_MAX_COMMENT_LEN);
                if (length == XT_MAX_COMMENT_LEN) return -EINVAL;
                r->has_comment = 1;
                r->comment_offset = off + at + match_header;
                r->comment_length = length;
            } else {
                r->other_matches++;
            }
            at += match_size;
        }
        if (t.u.user.name[0] == '\0') {
            int32_t verdict;
            if (data_size < sizeof verdict) return -EINVAL;
            memcpy(&verdict, blob + data_offset, sizeof verdict);
            if (verdict < 0) {
                int32_t code = -(verdict + 1);
                if (code != NF_DROP && code != NF_ACCEPT && code != NF_QUEUE && code != NF_REPEAT) return -EINVAL;
                r->kind = HAVPN_XT_VERDICT;
                r->verdict = code;
            } else if ((uint32_t)verdict == off + h.next_offset) {
                r->kind = HAVPN_XT_FALLTHROUGH;
            } else {
                r->kind = HAVPN_XT_JUMP;
                r->jump_chain = (uint32_t)verdict; // an offset until every chain's extent is known
            }
        } else {
            r->kind = HAVPN_XT_EXTENSION;
            r->name_offset = off + h.target_offset + (uint32_t)offsetof(struct xt_entry_target, u.user.name);
            r->name_length = (uint32_t)strlen(t.u.user.name);
        }
        nrules++;
        in_chain++;
        off += h.next_offset;
    }
    if (!ended || entries != info->num_entries) return -EINVAL;
    for (uint32_t i = 0; i < nrules; i++) {
        if (rules[i].kind != HAVPN_XT_JUMP) continue;
        uint32_t target = rules[i].jump_chain, found = nchains;
        for (uint32_t c = 0; c < nchains && found == nchains; c++)
            if (chains[c].head_offset <= target && target <= chains[c].foot_offset) found = c;
        if (found == nchains) return -EINVAL;
        rules[i].jump_chain = found;
    }
    *chain_count = nchains;
    *rule_count = nrules;
    return 0;
}
