/*
 * Holds every packet of one NFQUEUE for a fixed time, then accepts it: link delay
 * without the kernel's netem. Only packet metadata is copied to user space.
 * Usage: delayer QUEUE-NUM DELAY-MS
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define SLOTS 65536 /* packets held at once; beyond that the kernel queue fills and drops */

static uint32_t ids[SLOTS];
static uint64_t due[SLOTS];
static unsigned head, tail;
static uint64_t delay_ns;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t) t.tv_sec * 1000000000u + t.tv_nsec;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *m, struct nfq_data *d, void *arg) {
    struct nfqnl_msg_packet_hdr *h = nfq_get_msg_packet_hdr(d);
    if (!h) return 0;
    uint32_t id = ntohl(h->packet_id);
    if (head - tail >= SLOTS) { /* full: pass it on undelayed rather than stall the link */
        return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
    }
    ids[head % SLOTS] = id;
    due[head % SLOTS] = now_ns() + delay_ns;
    head++;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: delayer QUEUE-NUM DELAY-MS\n"); return 2; }
    delay_ns = (uint64_t) atol(argv[2]) * 1000000u;
    struct nfq_handle *h = nfq_open();
    if (!h) { perror("nfq_open"); return 1; }
    struct nfq_q_handle *qh = nfq_create_queue(h, atoi(argv[1]), &on_packet, NULL);
    if (!qh) { perror("nfq_create_queue"); return 1; }
    if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) { perror("nfq_set_mode"); return 1; }
    nfq_set_queue_maxlen(qh, SLOTS);
    int fd = nfq_fd(h);
    char buf[65536];
    printf("delaying queue %s by %s ms\n", argv[1], argv[2]);
    fflush(stdout);
    for (;;) {
        uint64_t t = now_ns();
        while (tail != head && due[tail % SLOTS] <= t) {
            nfq_set_verdict(qh, ids[tail % SLOTS], NF_ACCEPT, 0, NULL);
            tail++;
        }
        int wait_ms = tail == head ? 100 : (int) ((due[tail % SLOTS] - t) / 1000000u);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        /* poll has millisecond resolution: wake early and spin the remainder for sub-ms accuracy */
        int r = poll(&p, 1, wait_ms > 1 ? wait_ms - 1 : 0);
        if (r < 0 && errno != EINTR) { perror("poll"); return 1; }
        if (r > 0) {
            int n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            while (n > 0) {
                nfq_handle_packet(h, buf, n);
                n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            }
        }
    }
}
