/* Open-loop, fixed-rate HTTP/1.1 GET load: latency at a given rate, measured from each request's schedule.
 *
 *   openloop PORT PATH RATE DURATION_S WARMUP_S CONNECTIONS TIMEOUT_S
 *
 * Request i is due at start + i/RATE. A timerfd (nanosecond, absolute) wakes the loop at each due time; the
 * request goes out on an idle keep-alive connection (a new one is opened when none is idle, so a slow server
 * never delays a send: no coordinated omission). Latency = response complete - scheduled time.
 * Only 127.0.0.1. Prints one line per measured request: "status latency_ns service_ns" (status -1: error),
 * then "# sent N extra_connections N max_send_lag_ns N". Bounded: gives up TIMEOUT_S after the last send.
 * Built by bench/loadgen.py with `cc -O2`; the Python generator in bench/loadgen.py is the fallback.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define BUF 65536

typedef struct {
    int fd;
    int busy;
    int connected;
    long index;
    int64_t scheduled, sent;
    char buf[BUF];
    size_t len;
} conn_t;

static conn_t conns[MAX_CONNS];
static int nconns;
static int port;
static char request[2048];
static size_t request_len;
static int epfd;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

typedef struct { int status; int64_t latency, service; } sample_t;
static sample_t *samples;
static long nsamples, warm_count, total, sent_measured, errors_total, extra_conns;
static int64_t max_lag;
static long answered_or_failed;

/* A non-blocking TCP_NODELAY socket connecting to the server on loopback (-1 if there is none); *failed is
   set when connect() failed at once rather than being in progress. */
static int dial(int *failed) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    *failed = 0;
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) *failed = 1;
    return fd;
}

/* Put `fd` in connection slot `i`, idle and not yet connected, and watch it. */
static void attach(int i, int fd) {
    conn_t *c = &conns[i];
    c->fd = fd;
    c->busy = 0;
    c->connected = 0;
    c->len = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u32 = (uint32_t)i};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int open_conn(void) {
    if (nconns >= MAX_CONNS) return -1;
    int failed;
    int fd = dial(&failed);
    if (fd < 0) return -1;
    if (failed) {
        close(fd);
        return -1;
    }
    attach(nconns, fd);
    return nconns++;
}

static void record(long index, int status, int64_t scheduled, int64_t sent, int64_t done) {
    answered_or_failed++;
    if (index < warm_count) return;
    samples[nsamples].status = status;
    samples[nsamples].latency = done - scheduled;
    samples[nsamples].service = status < 0 ? 0 : done - sent;
    nsamples++;
    if (status < 0) errors_total++;
}

static void send_on(int i, long index, int64_t scheduled) {
    conn_t *c = &conns[i];
    c->busy = 1;
    c->index = index;
    c->scheduled = scheduled;
    c->len = 0;
    if (!c->connected) return; /* sent when the connect completes (EPOLLOUT) */
    c->sent = now_ns();
    ssize_t n = write(c->fd, request, request_len);
    if (n != (ssize_t)request_len) {
        record(index, -1, scheduled, c->sent, now_ns());
        close(c->fd);
        c->fd = -1;
        c->busy = 0;
    }
}

static void reopen(int i) {
    /* replace a dead connection in place (as before, a connect() that fails at once is not checked here) */
    if (conns[i].fd >= 0) close(conns[i].fd);
    int failed;
    attach(i, dial(&failed));
}

/* 1: a whole response is in the buffer (status and its length set), 0: need more, -1: cannot parse. */
static int parse(conn_t *c, int *status, size_t *consumed) {
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end) return c->len >= BUF ? -1 : 0;
    size_t head = (size_t)(end - c->buf) + 4;
    if (c->len < 12 || strncmp(c->buf, "HTTP/1.", 7) != 0) return -1;
    *status = atoi(c->buf + 9);
    long length = -1;
    for (char *line = memchr(c->buf, '\n', head); line && line < end; line = memchr(line + 1, '\n', (size_t)(end - line))) {
        if (strncasecmp(line + 1, "content-length:", 15) == 0) length = strtol(line + 16, NULL, 10);
        if (strncasecmp(line + 1, "transfer-encoding:", 18) == 0) return -1; /* not expected here */
    }
    if (length < 0) length = 0;
    if (c->len < head + (size_t)length) return head + (size_t)length > BUF ? -1 : 0;
    *consumed = head + (size_t)length;
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s PORT PATH RATE DURATION_S WARMUP_S CONNECTIONS TIMEOUT_S\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    const char *path = argv[2];
    double rate = atof(argv[3]), duration = atof(argv[4]), warmup = atof(argv[5]);
    int want_conns = atoi(argv[6]);
    double timeout = atof(argv[7]);
    if (rate <= 0 || duration <= 0 || want_conns < 1 || want_conns > MAX_CONNS / 2) return 2;
    request_len = (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
    warm_count = (long)(warmup * rate);
    total = warm_count + (long)(duration * rate);
    samples = calloc((size_t)total + 1, sizeof *samples);
    epfd = epoll_create1(0);
    for (int i = 0; i < want_conns; i++)
        if (open_conn() < 0) { fprintf(stderr, "cannot connect\n"); return 1; }

    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = 0xFFFFFFFFu};
    epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);

    /* let the connections finish connecting before the schedule starts */
    int64_t start = now_ns() + 100000000LL;
    double interval = 1e9 / rate;
    long next = 0;
    int64_t last_send_deadline = 0;
    struct epoll_event events[256];

    for (;;) {
        int64_t now = now_ns();
        while (next < total && start + (int64_t)(next * interval) <= now) {
            int64_t scheduled = start + (int64_t)(next * interval);
            int pick = -1;
            for (int i = 0; i < nconns; i++)
                if (!conns[i].busy && conns[i].fd >= 0 && conns[i].connected) { pick = i; break; }
            if (pick < 0) {
                pick = open_conn();
                if (pick >= 0) extra_conns++;
            }
            if (pick < 0) record(next, -1, scheduled, scheduled, now);
            else {
                int64_t lag = now_ns() - scheduled;
                if (next >= warm_count && lag > max_lag) max_lag = lag;
                send_on(pick, next, scheduled);
            }
            if (next >= warm_count) sent_measured++;
            next++;
        }
        if (next < total) {
            int64_t due = start + (int64_t)(next * interval);
            struct itimerspec its = {0};
            its.it_value.tv_sec = due / 1000000000LL;
            its.it_value.tv_nsec = due % 1000000000LL;
            timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        } else {
            if (!last_send_deadline) last_send_deadline = now_ns() + (int64_t)(timeout * 1e9);
            if (answered_or_failed >= total || now_ns() > last_send_deadline) break;
        }
        int n = epoll_wait(epfd, events, 256, next < total ? -1 : 50);
        for (int e = 0; e < n; e++) {
            uint32_t id = events[e].data.u32;
            if (id == 0xFFFFFFFFu) {
                uint64_t expirations;
                while (read(tfd, &expirations, sizeof expirations) > 0) {}
                continue;
            }
            conn_t *c = &conns[id];
            if (c->fd < 0) continue;
            if (!c->connected && (events[e].events & EPOLLOUT)) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) {
                    if (c->busy) record(c->index, -1, c->scheduled, c->scheduled, now_ns());
                    reopen((int)id);
                    continue;
                }
                c->connected = 1;
                struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = id};
                epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
                if (c->busy) send_on((int)id, c->index, c->scheduled);
            }
            if (events[e].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                ssize_t got = read(c->fd, c->buf + c->len, BUF - c->len);
                if (got <= 0) {
                    if (got < 0 && errno == EAGAIN) continue;
                    if (c->busy) record(c->index, -1, c->scheduled, c->sent, now_ns());
                    reopen((int)id);
                    continue;
                }
                c->len += (size_t)got;
                int status;
                size_t consumed;
                int state = parse(c, &status, &consumed);
                if (state == 0) continue;
                int64_t done = now_ns();
                if (state < 0 || !c->busy) {
                    if (c->busy) record(c->index, -1, c->scheduled, c->sent, done);
                    reopen((int)id);
                    continue;
                }
                record(c->index, status, c->scheduled, c->sent, done);
                c->busy = 0;
                c->len = 0;
            }
        }
    }
    for (long i = 0; i < nsamples; i++)
        printf("%d %lld %lld\n", samples[i].status, (long long)samples[i].latency, (long long)samples[i].service);
    printf("# sent %ld extra_connections %ld max_send_lag_ns %lld unanswered %ld\n", sent_measured, extra_conns,
           (long long)max_lag, total - answered_or_failed);
    return 0;
}
