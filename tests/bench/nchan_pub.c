/* nchan_pub.c - publisher for the nginx + Nchan peer of the SSE benchmarks.
 *
 * POSTs R events/s to an Nchan publisher location over ONE keep-alive
 * HTTP/1.1 connection, one request at a time (no pipelining: it waits for
 * each response).  Each body is "<CLOCK_MONOTONIC ns> <padding>" of B bytes,
 * stamped just before the request is sent.  If it falls more than one second
 * behind schedule the backlog is skipped (and counted), not replayed.
 *
 * usage: nchan-pub --url http://127.0.0.1:PORT/pub --rate R [--payload B]
 *                  [--max-seconds S]
 * Stops on SIGTERM/SIGINT or after S seconds (default 600); prints counts on
 * stderr.  Nchan answers with a Content-Length body, which is all this reads.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_SEC 1000000000LL
#define MAX_RECONNECTS 100

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int connect_to(const struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  struct timeval tv = {5, 0}; /* no request may hang the publisher */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads one response; returns its status code, or -1 on a broken connection.
 * *keep_alive is cleared when the server announces "Connection: close". */
static int read_response(int fd, int *keep_alive) {
  char buf[8192];
  size_t have = 0;
  char *end = NULL;
  while (!end) {
    if (have == sizeof buf - 1) return -1;
    ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    have += (size_t)r;
    buf[have] = '\0';
    end = strstr(buf, "\r\n\r\n");
  }
  int status = 0;
  if (sscanf(buf, "HTTP/1.%*c %d", &status) != 1) return -1;
  long body = -1;
  *keep_alive = 1;
  for (char *line = strstr(buf, "\r\n") + 2; line < end;) {
    char *eol = strstr(line, "\r\n");
    *eol = '\0'; /* restored below; lets the checks stop at the line's end */
    if (!strncasecmp(line, "content-length:", 15)) body = strtol(line + 15, NULL, 10);
    if (!strncasecmp(line, "connection:", 11) && strcasestr(line + 11, "close")) *keep_alive = 0;
    *eol = '\r';
    line = eol + 2;
  }
  if (body < 0) return -1; /* Nchan always sends Content-Length */
  long left = body - (long)(buf + have - (end + 4));
  while (left > 0) { /* drain the rest of the body */
    ssize_t r = recv(fd, buf, left < (long)sizeof buf ? (size_t)left : sizeof buf, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    left -= r;
  }
  return status;
}

static void usage(void) {
  fprintf(stderr,
          "usage: nchan-pub --url http://127.0.0.1:PORT/pub --rate R [--payload B] [--max-seconds S]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *url = NULL;
  double rate = 0, max_seconds = 600;
  int payload = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    if (!strcmp(a, "--url")) url = v;
    else if (!strcmp(a, "--rate")) rate = atof(v);
    else if (!strcmp(a, "--payload")) payload = atoi(v);
    else if (!strcmp(a, "--max-seconds")) max_seconds = atof(v);
    else usage();
  }
  if (argc % 2 == 0 || !url || rate <= 0 || payload < 0 || payload > 1 << 20 || max_seconds <= 0)
    usage();

  /* http://IPV4:PORT/path - no DNS on purpose. */
  char host[64], path[512];
  int port = 0;
  if (sscanf(url, "http://%63[0-9.]:%d%511s", host, &port, path) != 3 || path[0] != '/')
    usage();
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &addr.sin_addr) != 1) usage();

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  size_t cap = (size_t)payload + 1024;
  char *req = malloc(cap);
  char *body = malloc((size_t)payload + 32);
  if (!req || !body) return 1;

  int fd = connect_to(&addr);
  if (fd < 0) {
    perror("nchan-pub: connect");
    return 1;
  }
  unsigned long long published = 0, failed = 0, skipped = 0, reconnects = 0;
  const int64_t period = (int64_t)(NS_PER_SEC / rate);
  const int64_t start = now_ns();
  const int64_t deadline = start + (int64_t)(max_seconds * NS_PER_SEC);
  int64_t next = start;
  while (!g_stop) {
    int64_t now = now_ns();
    if (now >= deadline) break;
    if (now < next) {
      struct timespec ts = {(time_t)(next / NS_PER_SEC), (long)(next % NS_PER_SEC)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL); /* EINTR: loop re-checks */
      continue;
    }
    if (now - next > NS_PER_SEC) {
      skipped += (unsigned long long)((now - next) / period);
      next = now;
    }
    next += period;

    int blen = snprintf(body, (size_t)payload + 32, "%lld ", (long long)now_ns());
    if (blen < payload) {
      memset(body + blen, 'x', (size_t)(payload - blen));
      blen = payload;
    }
    int hlen = snprintf(req, cap,
                        "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: text/plain\r\n"
                        "Content-Length: %d\r\n\r\n",
                        path, host, port, blen);
    memcpy(req + hlen, body, (size_t)blen);

    int keep_alive = 1;
    int status = send_all(fd, req, (size_t)(hlen + blen)) == 0 ? read_response(fd, &keep_alive) : -1;
    if (status >= 200 && status < 300) ++published;
    else ++failed;
    if (status < 0 || !keep_alive) { /* the connection is gone: open a new one */
      close(fd);
      if (g_stop || ++reconnects > MAX_RECONNECTS || (fd = connect_to(&addr)) < 0) {
        fprintf(stderr, "nchan-pub: connection lost, giving up\n");
        fd = -1;
        break;
      }
    }
  }
  if (fd >= 0) close(fd);
  double secs = (double)(now_ns() - start) / NS_PER_SEC;
  fprintf(stderr,
          "nchan-pub: published=%llu (%.0f/s) failed=%llu skipped=%llu reconnects=%llu\n",
          published, secs > 0 ? (double)published / secs : 0.0, failed, skipped, reconnects);
  return 0;
}
