#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/link/bonding.h>
#include <netlink/route/link/ip6tnl.h>
#include <netlink/route/link/veth.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <linux/if_tun.h>
#include <linux/ip6_tunnel.h>
#include <linux/if_tunnel.h>
#include <linux/if_arp.h>
/* glibc declares these only under _GNU_SOURCE, which Swift's Glibc module does not set */
#include <linux/sched.h>
extern int unshare(int flags);
extern int setns(int fd, int nstype);

/* Persistent taps: libnl has no tun/tap API, and TUNSETIFF/TUNSETPERSIST are function-like
 * ioctl macros that Swift cannot import, so the two ioctls live here. */
#include <sys/ioctl.h>
#include <string.h>
#include <errno.h>

/* Creates a persistent tap `name` through an open /dev/net/tun fd. IFF_TUN_EXCL makes an existing
 * device an error (EBUSY) instead of silently attaching to it. Returns 0 or -errno. */
static inline int havpn_create_persistent_tap(int fd, const char *name) {
    struct { char name[16]; short flags; char pad[22]; } req; /* struct ifreq, without <net/if.h> */
    memset(&req, 0, sizeof req);
    strncpy(req.name, name, sizeof req.name - 1);
    req.flags = IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL;
    if (ioctl(fd, TUNSETIFF, &req) < 0) return -errno;
    if (ioctl(fd, TUNSETPERSIST, 1) < 0) return -errno;
    return 0;
}

/* ---- Parsing policies for nlmsg_parse / nla_parse ----
 * Kept in C because designated initialisers index them by attribute number; Swift gets each
 * table through an accessor, and the anonymous enum gives it every table's highest type. */
#include <netlink/socket.h>
#include <linux/netlink.h>

enum {
    HAVPN_IFLA_MAX = IFLA_MAX,
    HAVPN_IFLA_INFO_MAX = IFLA_INFO_MAX,
    HAVPN_IFLA_BOND_MAX = IFLA_BOND_MAX,
    HAVPN_IFLA_IPTUN_MAX = IFLA_IPTUN_MAX,
    HAVPN_IFLA_TUN_MAX = IFLA_TUN_MAX,
    HAVPN_IFA_MAX = IFA_MAX,
    HAVPN_RTA_MAX = RTA_MAX,
    HAVPN_NLMSGERR_ATTR_MAX = NLMSGERR_ATTR_MAX,
};

static inline const struct nla_policy *havpn_link_policy(void) {
    static const struct nla_policy policy[IFLA_MAX + 1] = {
        [IFLA_IFNAME] = { .type = NLA_STRING },
        [IFLA_MTU] = { .type = NLA_U32 },
        [IFLA_MASTER] = { .type = NLA_U32 },
        [IFLA_IFALIAS] = { .type = NLA_STRING },
        [IFLA_LINKINFO] = { .type = NLA_NESTED },
    };
    return policy;
}

static inline const struct nla_policy *havpn_link_info_policy(void) {
    static const struct nla_policy policy[IFLA_INFO_MAX + 1] = {
        [IFLA_INFO_KIND] = { .type = NLA_STRING },
        [IFLA_INFO_DATA] = { .type = NLA_NESTED },
    };
    return policy;
}

static inline const struct nla_policy *havpn_bond_policy(void) {
    static const struct nla_policy policy[IFLA_BOND_MAX + 1] = {
        [IFLA_BOND_MODE] = { .type = NLA_U8 },
        [IFLA_BOND_MIIMON] = { .type = NLA_U32 },
        [IFLA_BOND_FAIL_OVER_MAC] = { .type = NLA_U8 },
        [IFLA_BOND_USE_CARRIER] = { .type = NLA_U8 },
        [IFLA_BOND_PRIMARY] = { .type = NLA_U32 },
        [IFLA_BOND_NUM_PEER_NOTIF] = { .type = NLA_U8 },
    };
    return policy;
}

static inline const struct nla_policy *havpn_ip6tnl_policy(void) {
    static const struct nla_policy policy[IFLA_IPTUN_MAX + 1] = {
        [IFLA_IPTUN_LOCAL] = { .type = NLA_UNSPEC, .minlen = 16 },
        [IFLA_IPTUN_REMOTE] = { .type = NLA_UNSPEC, .minlen = 16 },
        [IFLA_IPTUN_PROTO] = { .type = NLA_U8 },
        [IFLA_IPTUN_FLAGS] = { .type = NLA_U32 },
    };
    return policy;
}

static inline const struct nla_policy *havpn_tun_policy(void) {
    static const struct nla_policy policy[IFLA_TUN_MAX + 1] = {
        [IFLA_TUN_TYPE] = { .type = NLA_U8 },
    };
    return policy;
}

static inline const struct nla_policy *havpn_address_policy(void) {
    static const struct nla_policy policy[IFA_MAX + 1] = {
        [IFA_LOCAL] = { .type = NLA_UNSPEC, .minlen = 4 },
        [IFA_ADDRESS] = { .type = NLA_UNSPEC, .minlen = 4 },
        [IFA_FLAGS] = { .type = NLA_U32 },
        [IFA_PROTO] = { .type = NLA_U8 },
    };
    return policy;
}

static inline const struct nla_policy *havpn_route_policy(void) {
    static const struct nla_policy policy[RTA_MAX + 1] = {
        [RTA_TABLE] = { .type = NLA_U32 },
        [RTA_DST] = { .type = NLA_UNSPEC, .minlen = 4 },
        [RTA_OIF] = { .type = NLA_U32 },
        [RTA_PRIORITY] = { .type = NLA_U32 },
        [RTA_MULTIPATH] = { .type = NLA_UNSPEC, .minlen = sizeof(struct rtnexthop) },
    };
    return policy;
}

/* The attributes after an NLMSG_ERROR's nlmsgerr (extended ack, NETLINK_EXT_ACK). */
static inline const struct nla_policy *havpn_ack_policy(void) {
    static const struct nla_policy policy[NLMSGERR_ATTR_MAX + 1] = {
        [NLMSGERR_ATTR_MSG] = { .type = NLA_STRING },
        [NLMSGERR_ATTR_OFFS] = { .type = NLA_U32 },
    };
    return policy;
}
