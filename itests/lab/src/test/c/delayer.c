/*
 * Holds every packet of one NFQUEUE for a fixed time, then accepts it: link delay
 * without the kernel's netem. Only packet metadata is copied to user space.
 * Usage: delayer QUEUE-NUM DELAY-MS
 *
 * Fast enough for about 1 Gbit/s of full-size packets on one core: messages are
 * read many per system call (recvmmsg), the packets that are due are accepted with
 * one batch verdict (every id up to the newest due one: the delay is the same for
 * all, so packets leave in the order they came), the process sleeps until the next
 * packet is due with a nanosecond timeout instead of spinning, GSO packets are
 * queued whole (NFQA_CFG_F_GSO), and the netlink socket has a large receive buffer,
 * so a burst is held rather than dropped. Packets the kernel could not hand over
 * (queue or socket full) are counted in /proc/net/netfilter/nfnetlink_queue
 * (queue_dropped, user_dropped); the delayer reports them when it ends.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define SLOTS 65536          /* packets held at once; the kernel queue is as long */
#define BATCH 64             /* netlink messages per recvmmsg */
#define MESSAGE 2048         /* one message: metadata only, a few hundred bytes */
#define RCVBUF (32 << 20)    /* netlink receive buffer: a burst of ~100,000 messages */
#define SLACK_NS 20000       /* timer slack: a packet leaves at most this late */

static uint32_t ids[SLOTS];
static uint64_t due[SLOTS];
static unsigned head, tail;
static uint64_t delay_ns;
static volatile sig_atomic_t stop;
static unsigned long long held, passed;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t) t.tv_sec * 1000000000u + t.tv_nsec;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *m, struct nfq_data *d, void *arg) {
    struct nfqnl_msg_packet_hdr *h = nfq_get_msg_packet_hdr(d);
    if (!h) return 0;
    uint32_t id = ntohl(h->packet_id);
    uint64_t t = *(uint64_t *) arg;
    if (head - tail >= SLOTS) {
        /* full: release the oldest now (a batch verdict covers every lower id), then hold this one */
        nfq_set_verdict_batch(qh, ids[tail % SLOTS], NF_ACCEPT);
        tail++;
        passed++;
    }
    ids[head % SLOTS] = id;
    due[head % SLOTS] = t + delay_ns;
    head++;
    held++;
    return 0;
}

static void on_signal(int sig) {
    stop = 1;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: delayer QUEUE-NUM DELAY-MS\n"); return 2; }
    char *end;
    long queue = strtol(argv[1], &end, 10);
    if (*end || queue < 0 || queue > 65535) { fprintf(stderr, "queue %s: 0 to 65535\n", argv[1]); return 2; }
    long ms = strtol(argv[2], &end, 10);
    if (*end || ms < 1 || ms > 10000) { fprintf(stderr, "delay %s ms: 1 to 10000\n", argv[2]); return 2; }
    delay_ns = (uint64_t) ms * 1000000u;
    prctl(PR_SET_TIMERSLACK, SLACK_NS, 0, 0, 0);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    uint64_t arrived = 0; /* the time the current batch of messages was read */
    struct nfq_handle *h = nfq_open();
    if (!h) { perror("nfq_open"); return 1; }
    struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t) queue, &on_packet, &arrived);
    if (!qh) { perror("nfq_create_queue"); return 1; }
    if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) { perror("nfq_set_mode"); return 1; }
    if (nfq_set_queue_maxlen(qh, SLOTS) < 0) { perror("nfq_set_queue_maxlen"); return 1; }
    /* GSO packets whole: without it the kernel segments them before queueing */
    if (nfq_set_queue_flags(qh, NFQA_CFG_F_GSO, NFQA_CFG_F_GSO) < 0) {
        fprintf(stderr, "delayer: no NFQA_CFG_F_GSO in this kernel, GSO packets are segmented\n");
    }
    int fd = nfq_fd(h);
    /* as root the buffer may exceed net.core.rmem_max (SO_RCVBUFFORCE) */
    if (nfnl_rcvbufsiz(nfq_nfnlh(h), RCVBUF) < RCVBUF) {
        fprintf(stderr, "delayer: receive buffer smaller than %d bytes\n", RCVBUF);
    }
    int one = 1;
    /* an overrun drops packets (counted by the kernel) but is no error for the reader */
    setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);

    static char bufs[BATCH][MESSAGE];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = MESSAGE;
    }
    printf("delaying queue %ld by %ld ms\n", queue, ms);
    fflush(stdout);
    while (!stop) {
        uint64_t t = now_ns();
        if (tail != head && due[tail % SLOTS] <= t) {
            while (tail != head && due[tail % SLOTS] <= t) tail++;
            nfq_set_verdict_batch(qh, ids[(tail - 1) % SLOTS], NF_ACCEPT);
        }
        struct timespec wait = { .tv_sec = 0, .tv_nsec = 100000000 };
        if (tail != head) {
            uint64_t left = due[tail % SLOTS] - t;
            wait.tv_sec = left / 1000000000u;
            wait.tv_nsec = left % 1000000000u;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = ppoll(&p, 1, &wait, NULL);
        if (r < 0 && errno != EINTR) { perror("ppoll"); return 1; }
        if (r <= 0) continue;
        /* read what is there, a bounded amount per round so that due packets are not kept waiting */
        for (int rounds = 0; rounds < 16; rounds++) {
            for (int i = 0; i < BATCH; i++) {
                memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
            if (n <= 0) {
                if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ENOBUFS) {
                    perror("recvmmsg");
                    return 1;
                }
                break;
            }
            arrived = now_ns();
            for (int i = 0; i < n; i++) {
                nfq_handle_packet(h, bufs[i], (int) msgs[i].msg_len);
            }
            if (n < BATCH) break;
        }
    }
    /* let everything held go before the queue is destroyed */
    if (tail != head) nfq_set_verdict_batch(qh, ids[(head - 1) % SLOTS], NF_ACCEPT);
    fprintf(stderr, "delayer: %llu packets delayed, %llu released early (more than %d held)\n", held, passed, SLOTS);
    nfq_destroy_queue(qh);
    nfq_close(h);
    return 0;
}
