/* floor.c - the "floor" of the SSE benchmarks: what the machine does with no
 * server logic at all.
 *
 * Listens on 127.0.0.1:PORT, answers every request with a bare
 * "HTTP/1.1 200 OK" + "Content-Type: text/event-stream" head (close-delimited
 * body), then at R events/s writes the same bytes
 *     data: <CLOCK_MONOTONIC ns> <padding up to B bytes of data>\n\n
 * into every socket, K events per send() (default 1).  Single thread, epoll.
 *
 * A socket whose send buffer is full does not get queued data: the unsent
 * tail of the event being written is kept so the stream stays well-formed,
 * and further events for that socket are dropped (and counted) until the
 * tail is flushed.  At most one broadcast happens per loop turn, so new
 * connections are still accepted when the sender cannot keep up; if it falls
 * more than one second behind schedule, the backlog is skipped (and counted)
 * rather than replayed.
 *
 * With --ticker-ms T instead, every stream gets its own event every T ms from
 * the moment its head went out (the per-stream timer pattern), as
 *     id: <n>\ndata: <CLOCK_MONOTONIC ns> <padding>\n\n
 * one send() each (--batch applies to --rate only).  All periods are equal, so
 * the streams wait in one FIFO in due order; the loop wakes at millisecond
 * granularity, like libuv and Asio.
 *
 * usage: floor --port P [--rate R | --ticker-ms T] [--payload B] [--batch K] [--max-seconds S]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_SEC 1000000000LL

static const char kHead[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";

struct conn {
  int open;          /* accepted and not yet closed */
  int streaming;     /* head sent, member of the active list */
  int head_match;    /* progress through "\r\n\r\n" of the request */
  size_t active_pos; /* index in active[] while streaming */
  unsigned gen;      /* bumped when the fd is dropped: older ticker entries are stale */
  unsigned long long ticks; /* ticker events sent (the next id) */
  char *tail;        /* unsent rest of a partially written batch */
  size_t tail_len, tail_off;
};

static volatile sig_atomic_t g_stop;
static struct conn *g_conns; /* indexed by fd */
static int *g_active;        /* fds of streaming connections */
static size_t g_nactive;
static int g_ep;
static unsigned long long g_events, g_sends, g_dropped, g_skipped, g_accepted;

/* Ticker mode: streams in due order (a growable ring). */
struct tick_entry {
  int fd;
  unsigned gen;
  int64_t due;
};
static struct tick_entry *g_ring;
static size_t g_ring_cap, g_ring_head, g_ring_len;
static int64_t g_ticker_ns;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void set_events(int fd, uint32_t events, int op) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.fd = fd;
  epoll_ctl(g_ep, op, fd, &ev);
}

static void drop_conn(int fd) {
  struct conn *c = &g_conns[fd];
  if (c->streaming) { /* swap-remove from the active list */
    int last = g_active[--g_nactive];
    g_active[c->active_pos] = last;
    g_conns[last].active_pos = c->active_pos;
  }
  free(c->tail);
  unsigned gen = c->gen + 1;
  memset(c, 0, sizeof *c);
  c->gen = gen;
  close(fd);
}

/* Writes buf to fd; a partial write keeps the remainder as the tail. */
static void write_conn(int fd, const char *buf, size_t len) {
  struct conn *c = &g_conns[fd];
  ssize_t w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  ++g_sends;
  if (w == (ssize_t)len) return;
  if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    drop_conn(fd);
    return;
  }
  if (w <= 0) { /* nothing went out: the batch is simply dropped */
    ++g_dropped;
    return;
  }
  c->tail_len = len - (size_t)w;
  c->tail_off = 0;
  c->tail = malloc(c->tail_len);
  if (!c->tail) {
    drop_conn(fd);
    return;
  }
  memcpy(c->tail, buf + w, c->tail_len);
  set_events(fd, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
}

static void flush_tail(int fd) {
  struct conn *c = &g_conns[fd];
  ssize_t w = send(fd, c->tail + c->tail_off, c->tail_len - c->tail_off, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) drop_conn(fd);
    return;
  }
  c->tail_off += (size_t)w;
  if (c->tail_off == c->tail_len) {
    free(c->tail);
    c->tail = NULL;
    set_events(fd, EPOLLIN, EPOLL_CTL_MOD);
  }
}

/* The stream a ticker entry was made for is still the one on its fd. */
static int tick_live(const struct tick_entry *e) {
  return g_conns[e->fd].streaming && g_conns[e->fd].gen == e->gen;
}

static int ring_push(int fd, unsigned gen, int64_t due) {
  if (g_ring_len == g_ring_cap) { /* grow, unwrapping the ring */
    size_t cap = g_ring_cap ? 2 * g_ring_cap : 1024;
    struct tick_entry *r = malloc(cap * sizeof *r);
    if (!r) return 0;
    for (size_t i = 0; i < g_ring_len; ++i) r[i] = g_ring[(g_ring_head + i) % g_ring_cap];
    free(g_ring);
    g_ring = r;
    g_ring_cap = cap;
    g_ring_head = 0;
  }
  g_ring[(g_ring_head + g_ring_len++) % g_ring_cap] = (struct tick_entry){fd, gen, due};
  return 1;
}

/* Reads the request (only its end matters) or notices the peer closing. */
static void on_readable(int fd) {
  struct conn *c = &g_conns[fd];
  char buf[4096];
  ssize_t r = recv(fd, buf, sizeof buf, 0);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (r <= 0) {
    drop_conn(fd);
    return;
  }
  if (c->streaming) return; /* clients send nothing after the request */
  for (ssize_t i = 0; i < r && c->head_match < 4; ++i) {
    char want = "\r\n\r\n"[c->head_match];
    c->head_match = buf[i] == want ? c->head_match + 1 : (buf[i] == '\r' ? 1 : 0);
  }
  if (c->head_match < 4) return;
  c->streaming = 1;
  c->active_pos = g_nactive;
  g_active[g_nactive++] = fd;
  if (g_ticker_ns > 0 && !ring_push(fd, c->gen, now_ns() + g_ticker_ns)) {
    drop_conn(fd);
    return;
  }
  write_conn(fd, kHead, sizeof kHead - 1);
}

static void accept_all(int lfd, int max_fds) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return; /* EAGAIN, or EMFILE: retried on the next wakeup */
    if (fd >= max_fds) {
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(&g_conns[fd], 0, sizeof g_conns[fd]);
    g_conns[fd].open = 1;
    set_events(fd, EPOLLIN, EPOLL_CTL_ADD);
    ++g_accepted;
  }
}

/* Formats K events (same stamp) into buf; returns the byte count. */
static size_t build_batch(char *buf, int batch, int payload, int64_t stamp_ns) {
  char stamp[32];
  int slen = snprintf(stamp, sizeof stamp, "%lld", (long long)stamp_ns);
  int pad = payload - slen - 1;
  size_t n = 0;
  if (pad < 0) pad = 0;
  for (int k = 0; k < batch; ++k) {
    memcpy(buf + n, "data: ", 6);
    n += 6;
    memcpy(buf + n, stamp, (size_t)slen);
    n += (size_t)slen;
    buf[n++] = ' ';
    memset(buf + n, 'x', (size_t)pad);
    n += (size_t)pad;
    buf[n++] = '\n';
    buf[n++] = '\n';
  }
  return n;
}

static void broadcast(char *buf, int batch, int payload) {
  size_t len = build_batch(buf, batch, payload, now_ns());
  /* Iterate backwards: write_conn may swap-remove the current entry. */
  for (size_t i = g_nactive; i-- > 0;) {
    int fd = g_active[i];
    if (g_conns[fd].tail) {
      ++g_dropped;
      continue;
    }
    write_conn(fd, buf, len);
  }
  g_events += (unsigned long long)batch;
}

/* Sends every stream whose tick is due its event (formatted into buf); returns
 * the next due time (0: no stream). */
static int64_t run_ticks(char *buf, int payload) {
  while (g_ring_len > 0) {
    struct tick_entry e = g_ring[g_ring_head];
    struct conn *c = &g_conns[e.fd];
    int live = tick_live(&e);
    int64_t now = now_ns();
    if (live && e.due > now) return e.due;
    g_ring_head = (g_ring_head + 1) % g_ring_cap;
    --g_ring_len;
    if (!live) continue; /* the stream closed */
    size_t len = (size_t)sprintf(buf, "id: %llu\n", ++c->ticks);
    len += build_batch(buf + len, 1, payload, now);
    ++g_events;
    if (c->tail)
      ++g_dropped;
    else
      write_conn(e.fd, buf, len);
    if (tick_live(&e) && !ring_push(e.fd, e.gen, e.due + g_ticker_ns)) drop_conn(e.fd); /* the send may have dropped it */
  }
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: floor --port P [--rate R | --ticker-ms T] [--payload B] [--batch K] [--max-seconds S]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int port = 0, batch = 1, payload = 64;
  double rate = 0, ticker_ms = 0, max_seconds = 600;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--rate")) rate = atof(v);
    else if (!strcmp(a, "--payload")) payload = atoi(v);
    else if (!strcmp(a, "--batch")) batch = atoi(v);
    else if (!strcmp(a, "--ticker-ms")) ticker_ms = atof(v);
    else if (!strcmp(a, "--max-seconds")) max_seconds = atof(v);
    else usage();
  }
  if (argc % 2 == 0 || port <= 0 || port > 65535 || batch < 1 || payload < 0 || payload > 1 << 20 ||
      rate < 0 || ticker_ms < 0 || (rate > 0 && ticker_ms > 0) || max_seconds <= 0)
    usage();
  g_ticker_ns = (int64_t)(ticker_ms * 1e6);

  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  int max_fds = rl.rlim_cur > 1 << 20 ? 1 << 20 : (int)rl.rlim_cur;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  g_conns = calloc((size_t)max_fds, sizeof *g_conns);
  g_active = calloc((size_t)max_fds, sizeof *g_active);
  char *buf = malloc((size_t)batch * ((size_t)payload + 40) + 32); /* + an id line */
  if (!g_conns || !g_active || !buf) return 1;

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0) {
    perror("floor: bind/listen");
    return 1;
  }
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  set_events(lfd, EPOLLIN, EPOLL_CTL_ADD);
  fprintf(stderr, "floor: listening on 127.0.0.1:%d rate=%g ticker-ms=%g payload=%d batch=%d\n", port,
          rate, ticker_ms, payload, batch);

  const int64_t period = rate > 0 ? (int64_t)((double)batch * NS_PER_SEC / rate) : 0;
  const int64_t deadline = now_ns() + (int64_t)(max_seconds * NS_PER_SEC);
  int64_t next = now_ns();
  struct epoll_event evs[256];
  while (!g_stop) {
    int64_t now = now_ns();
    if (now >= deadline) break;
    int timeout_ms = 1000;
    if (period > 0) timeout_ms = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
    if (g_ticker_ns > 0) {
      int64_t due = run_ticks(buf, payload);
      if (due > 0) timeout_ms = (int)((due - now_ns() + 999999) / 1000000);
    }
    int n = epoll_wait(g_ep, evs, 256, timeout_ms);
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        accept_all(lfd, max_fds);
        continue;
      }
      if ((evs[i].events & EPOLLOUT) && g_conns[fd].tail) flush_tail(fd);
      if (g_conns[fd].open && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(fd);
    }
    if (period == 0) continue;
    now = now_ns();
    if (now - next > NS_PER_SEC) { /* hopelessly behind: skip the backlog */
      g_skipped += (unsigned long long)((now - next) / period) * (unsigned long long)batch;
      next = now;
    }
    if (next <= now) {
      broadcast(buf, batch, payload);
      next += period;
    }
  }
  fprintf(stderr,
          "floor: accepted=%llu events=%llu sends=%llu dropped_batches=%llu skipped_events=%llu\n",
          g_accepted, g_events, g_sends, g_dropped, g_skipped);
  return 0;
}
