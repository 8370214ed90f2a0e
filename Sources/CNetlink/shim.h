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
