/* The inet-table probe: one raw netfilter batch, no libnftables (see CNftables.h). */
#include "CNftables.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int havpn_nft_inet_table_probe(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 12 /* NETLINK_NETFILTER */);
    if (fd < 0) return -errno;
    struct timeval timeout = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    uint8_t request[56];
    memset(request, 0, sizeof request);
    uint32_t u32;
    uint16_t u16;
    /* batch begin: nlmsghdr (len, type NFNL_MSG_BATCH_BEGIN, flags NLM_F_REQUEST, seq 1) + nfgenmsg
       (AF_UNSPEC, NFNETLINK_V0, res_id NFNL_SUBSYS_NFTABLES in network order) */
    u32 = 20; memcpy(request + 0, &u32, 4);
    u16 = 16; memcpy(request + 4, &u16, 2);
    u16 = 1; memcpy(request + 6, &u16, 2);
    u32 = 1; memcpy(request + 8, &u32, 4);
    request[16 + 3] = 10;
    /* NFT_MSG_NEWTABLE (subsystem 10 << 8 | 0), NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, seq 2,
       nfgenmsg family NFPROTO_INET, attribute NFTA_TABLE_NAME "havpn-probe" */
    uint8_t *table = request + 20;
    u32 = 36; memcpy(table + 0, &u32, 4);
    u16 = 10 << 8; memcpy(table + 4, &u16, 2);
    u16 = 0x1 | 0x4 | 0x400; memcpy(table + 6, &u16, 2);
    u32 = 2; memcpy(table + 8, &u32, 4);
    table[16] = 1;
    u16 = 16; memcpy(table + 20, &u16, 2);
    u16 = 1; memcpy(table + 22, &u16, 2);
    memcpy(table + 24, "havpn-probe", 12);
    if (send(fd, request, 56, 0) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    /* The answer to seq 2 (or to the batch begin, when the batch is refused as a whole). */
    for (;;) {
        uint8_t answer[4096];
        ssize_t n = recv(fd, answer, sizeof answer, 0);
        if (n < 0) {
            int err = errno;
            close(fd);
            return -(err == EAGAIN || err == EWOULDBLOCK ? ETIMEDOUT : err);
        }
        for (ssize_t at = 0; at + 16 <= n;) {
            uint32_t length, sequence;
            uint16_t type;
            memcpy(&length, answer + at, 4);
            memcpy(&type, answer + at + 4, 2);
            if (length < 16 || at + (ssize_t)length > n) break;
            if (type == 2 /* NLMSG_ERROR */ && length >= 16 + 4 + 16) {
                int32_t error;
                memcpy(&error, answer + at + 16, 4);
                memcpy(&sequence, answer + at + 16 + 4 + 8, 4);
                if (sequence == 2 || (sequence == 1 && error != 0)) {
                    close(fd);
                    return error;
                }
            }
            at += (length + 3) & ~(uint32_t)3;
        }
    }
}
