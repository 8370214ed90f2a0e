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
/* glibc declares these only under _GNU_SOURCE, which Swift's Glibc module does not set */
#include <linux/sched.h>
extern int unshare(int flags);
extern int setns(int fd, int nstype);
