// sse_load.cpp - Server-Sent Events load client for the asio-sse benchmarks.
//
// Opens N HTTP/1.1 connections to one SSE endpoint, parses every event per
// the WHATWG EventSource rules, and measures delivery latency.  Each event's
// data must begin with the sender's CLOCK_MONOTONIC time in nanoseconds
// (decimal, followed by a space or the end of the data); latency is the
// receive time minus that stamp, so sender and client must share a machine.
//
// Timeline: ramp (connect all streams, bounded by --connect-timeout), then
// --warmup seconds, then --duration seconds of measurement.  Only events
// dispatched inside the measuring window are counted.  The process always
// stops by itself: ramp + warmup + duration + 10 s is a hard upper bound.
//
// HTTPS (an https:// URL; needs a build with OpenSSL, SSE_LOAD_TLS): every stream does a TLS
// handshake (no certificate check: loopback, the server's own throwaway certificate) before its
// request, and reads through OpenSSL; GET streams only (not --post, --probe or --churn).
//
// Raw epoll, no other dependencies.  One thread by default; --threads T splits the
// streams over T threads, each with its own epoll instance.  Thread 0 is the
// main thread and also drives the timeline.
//
// Several sse-load processes can share one window: with --hold 1 each one,
// its ramp over, says so on stderr ("holding until SIGUSR1") and waits (at
// most kHoldMaxS) for SIGUSR1 before warming up; send it to all at once.
// --histogram FILE writes the window's latency histogram ("<bucket upper
// bound ns> <count>" per non-empty bucket, then "max <ns>"), so that several
// processes' histograms can be merged exactly (run.sh's cluster scenario).
//
// POST mode (--post BODY, run.sh's post scenario: a chat model's token stream): every
// connection sends `POST <path> HTTP/1.1` (the URL's path, or --post-path) with
// `Content-Type: application/json`, a Content-Length and BODY, and reads the streamed answer
// (chunked or close-delimited).  Events carry no timestamp there: each event is a token, until
// one whose data is `[DONE]`, after which the stream is complete and the client closes it.
// Per stream it records the time to first event (TTFE: from writing the request to receiving
// the first byte of the first `data` line), the tokens received in the window and whether the
// stream completed.  The ramp then only paces connects and request writes: a request once
// written frees its slot whether or not the server has answered yet (a server that queues
// requests behind busy threads is measured as such, not waited for), and a stream still waiting
// for its answer when the ramp times out is left waiting.  Latency figures are TTFE (over the
// streams that got a first event); a stream is served if it completed or got tokens in the
// window; tokens/s per stream is given over all N requested streams (a stream never answered
// counts as 0).  These TTFE figures are the burst's: all N requests at once.
//
// --probe K (POST mode): the TTFE of a new stream under load.  Once the measuring window has begun
// (the N streams open and streaming), thread 0 opens K extra POST streams one at a time on its own
// event loop: each connects, sends the same request, and is closed as soon as the first byte of
// its first `data` line is in (so probes add no lasting streams); the next one starts 10 ms
// after that, or 10 ms after a probe failed (an error, or no data within 2 s of its connect).
// Probes not finished by the end of the window are not counted.  Their TTFE (request written
// -> first data byte, as for the burst) goes to a histogram of its own; their tokens, bytes and
// heads count nowhere else.
//
// Scale (scale.sh: 100,000 streams on one machine).  The open-files limit is raised to what the
// streams need (the soft limit to the hard one; as root the hard one too; fd_limit.hpp), and the
// run fails at once when it stays too low.  --source-addrs K spreads the connections round-robin
// over K source addresses 127.1.0.1, 127.1.0.2, ... (each connect is bound to one first, with
// IP_BIND_ADDRESS_NO_PORT so that the kernel picks the port per 4-tuple): one source address has
// only the ephemeral port range (about 28,000 ports) to reach one server port.  connect_ms is the
// time from the first connect to the last stream's response head.  --churn K: from the end of
// the ramp on (so that it is steady by the time the window begins), every thread opens its share
// of K extra streams per second, evenly spaced, and closes each one --churn-life-ms after it
// opened it (default 1000), so K streams join and K leave per second beside the N steady ones;
// only the steady streams count in the latency histogram, events, bytes, established and errors,
// the churn ones in churn_* keys of their own (over the window).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fd_limit.hpp"
#include "load_common.hpp"

#ifdef SSE_LOAD_TLS
#include <openssl/ssl.h>
#endif

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24  // <linux/in.h>, which clashes with <netinet/in.h>
#endif

namespace {

using namespace bench;
constexpr int kHoldMaxS = 60;  // --hold: the longest wait for SIGUSR1
constexpr int64_t kProbeGapNs = 10 * 1000000;         // --probe: pause between probes
constexpr int64_t kProbeTimeoutNs = 2 * kNsPerSec;    // --probe: connect -> first data, at most
constexpr uint64_t kProbeTag = UINT64_MAX;            // epoll data of the probe's socket
constexpr uint64_t kChurnTag = uint64_t(1) << 62;     // epoll data of a churn stream: | its slot
constexpr int kMaxSourceAddrs = 65535;                // 127.1.0.1 .. 127.1.255.255

volatile sig_atomic_t g_go = 0;  // --hold: SIGUSR1 arrived
void on_go(int) { g_go = 1; }

[[noreturn]] void die(const char* msg) {
  std::fprintf(stderr, "sse-load: %s\n", msg);
  std::exit(2);
}

// ---------------------------------------------------------------------------
// HTTP/1.1 chunked transfer-coding decoder, incremental over arbitrary splits.
class ChunkedDecoder {
 public:
  enum class Result { kOk, kDone, kError };

  // Feeds raw body bytes; `out(ptr, len)` receives the decoded payload.
  template <class Out>
  Result feed(const char* p, size_t n, Out&& out) {
    size_t i = 0;
    while (i < n) {
      const char c = p[i];
      switch (state_) {
        case State::kSize: {
          const int d = hex_value(c);
          if (d >= 0) {
            if (++digits_ > 15) return Result::kError;
            remaining_ = remaining_ * 16 + uint64_t(d);
          } else if (digits_ == 0) {
            return Result::kError;
          } else if (c == ';' || c == ' ' || c == '\t') {
            state_ = State::kSizeExt;
          } else if (c == '\r') {
            state_ = State::kSizeLf;
          } else if (c == '\n') {
            end_size_line();
          } else {
            return Result::kError;
          }
          ++i;
          break;
        }
        case State::kSizeExt:
          if (c == '\r') state_ = State::kSizeLf;
          else if (c == '\n') end_size_line();
          ++i;
          break;
        case State::kSizeLf:
          if (c != '\n') return Result::kError;
          end_size_line();
          ++i;
          break;
        case State::kData: {
          const size_t take = size_t(std::min<uint64_t>(remaining_, n - i));
          out(p + i, take);
          remaining_ -= take;
          i += take;
          if (remaining_ == 0) state_ = State::kDataCr;
          break;
        }
        case State::kDataCr:
          if (c == '\r') state_ = State::kDataLf;
          else if (c == '\n') state_ = State::kSize;
          else return Result::kError;
          ++i;
          break;
        case State::kDataLf:
          if (c != '\n') return Result::kError;
          state_ = State::kSize;
          ++i;
          break;
        case State::kTrailerStart:
          if (c == '\r') state_ = State::kTrailerEndLf;
          else if (c == '\n') state_ = State::kDone;
          else state_ = State::kTrailerLine;
          ++i;
          break;
        case State::kTrailerLine:
          if (c == '\n') state_ = State::kTrailerStart;
          ++i;
          break;
        case State::kTrailerEndLf:
          if (c != '\n') return Result::kError;
          state_ = State::kDone;
          ++i;
          break;
        case State::kDone:
          return Result::kDone;
      }
    }
    return state_ == State::kDone ? Result::kDone : Result::kOk;
  }

 private:
  enum class State {
    kSize, kSizeExt, kSizeLf, kData, kDataCr, kDataLf,
    kTrailerStart, kTrailerLine, kTrailerEndLf, kDone
  };

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  void end_size_line() {
    state_ = remaining_ == 0 ? State::kTrailerStart : State::kData;
    digits_ = 0;
  }

  State state_ = State::kSize;
  uint64_t remaining_ = 0;
  int digits_ = 0;
};

// ---------------------------------------------------------------------------
struct Config {
  sockaddr_in addr{};
  std::string request;
  int streams = 0;
  double duration_s = 0;
  double warmup_s = 0;
  double connect_timeout_s = 20;
  int threads = 1;
  int ramp_batch = 128;
  bool hold = false;  // after the ramp, wait for SIGUSR1 before the warmup
  bool post = false;  // POST mode: token streams, TTFE
  int probes = 0;     // POST mode: --probe K, new streams opened one at a time in the window
  int source_addrs = 1;  // --source-addrs K: > 1 binds connection i to source_addr(i % K)
  int churn = 0;         // --churn K: extra streams opened and closed per second
  double churn_life_ms = 1000;  // --churn-life-ms: how long each of them stays open
  std::vector<int> server_pids;
  bool tls = false;      // an https:// URL
#ifdef SSE_LOAD_TLS
  SSL_CTX* tls_ctx = nullptr;
#endif
};

// The k-th source address of --source-addrs (k < kMaxSourceAddrs), host byte order: 127.1.0.1 + k.
uint32_t source_addr(int k) { return (uint32_t(127) << 24 | uint32_t(1) << 16) + 1 + uint32_t(k); }

// A worker's share of --churn K streams per second, and the ring its open ones live in.
int churn_share(const Config& cfg, int t) {
  return cfg.churn / cfg.threads + (t < cfg.churn % cfg.threads ? 1 : 0);
}
size_t churn_slots(const Config& cfg, int rate) {
  if (rate <= 0) return 0;  // room for a quarter of a lifetime of late closes, and a burst
  return size_t(std::ceil(double(rate) * cfg.churn_life_ms / 1000.0 * 1.25)) + 64;
}

// Timeline shared by all threads.  Thread 0 sets the window once the ramp is
// over; INT64_MAX means "not yet known".
struct Timeline {
  int64_t ramp_start = 0;
  int64_t ramp_deadline = 0;  // handshakes still pending then are abandoned
  int64_t hard_deadline = 0;  // absolute cap on the whole run
  std::atomic<int64_t> window_start{INT64_MAX};
  std::atomic<int64_t> window_end{INT64_MAX};
  std::atomic<int> handshakes_left{0};
};

struct Counters {
  uint64_t events = 0;
  uint64_t bytes = 0;
  uint64_t established = 0;
  uint64_t receiving = 0;
  uint64_t connect_failed = 0;
  uint64_t bad_status = 0;
  uint64_t handshake_timeout = 0;
  uint64_t closed_by_peer = 0;
  uint64_t protocol = 0;
  uint64_t bad_stamp = 0;
  uint64_t completed = 0;  // POST mode: streams that got [DONE]
  uint64_t served = 0;     // POST mode: completed, or got tokens in the window
  int64_t first_connect_ns = -1;  // the first steady stream's connect()
  int64_t last_head_ns = -1;      // the last steady stream's response head
  // --churn, over the window: streams opened, closed by us (while open), that got their head,
  // that failed (error, or closed by the server), and closed before their time (ring full).
  uint64_t churn_opened = 0, churn_closed = 0, churn_established = 0, churn_failed = 0,
           churn_forced = 0;

  uint64_t errors() const {
    return connect_failed + bad_status + handshake_timeout + closed_by_peer + protocol + bad_stamp;
  }
  void merge(const Counters& o) {
    events += o.events;
    bytes += o.bytes;
    established += o.established;
    receiving += o.receiving;
    connect_failed += o.connect_failed;
    bad_status += o.bad_status;
    handshake_timeout += o.handshake_timeout;
    closed_by_peer += o.closed_by_peer;
    protocol += o.protocol;
    bad_stamp += o.bad_stamp;
    completed += o.completed;
    served += o.served;
    if (o.first_connect_ns >= 0 && (first_connect_ns < 0 || o.first_connect_ns < first_connect_ns))
      first_connect_ns = o.first_connect_ns;
    last_head_ns = std::max(last_head_ns, o.last_head_ns);
    churn_opened += o.churn_opened;
    churn_closed += o.churn_closed;
    churn_established += o.churn_established;
    churn_failed += o.churn_failed;
    churn_forced += o.churn_forced;
  }
};

enum class Phase { kIdle, kConnecting, kHandshake, kSending, kHead, kBody, kClosed };

// --probe results (thread 0's).
struct ProbeStats {
  uint64_t ok = 0;         // got a first data byte
  uint64_t failed = 0;     // timed out or failed (connect, status, closed, protocol)
  uint64_t timed_out = 0;  // of the failed: no data within kProbeTimeoutNs of the connect
  Histogram ttfe;          // request written -> first data byte, over the ok probes
  Histogram connect;       // connect() -> connected, over the probes that connected
};

struct Stream {
  int fd = -1;
#ifdef SSE_LOAD_TLS
  SSL* ssl = nullptr;      // HTTPS
#endif
  Phase phase = Phase::kIdle;
  size_t sent = 0;         // request bytes written
  std::string head;        // response head until its blank line
  bool chunked = false;
  bool receiving = false;  // got an event inside the window
  bool pending = false;    // holds a ramp slot and a handshakes_left count
  bool completed = false;  // POST mode: got [DONE]
  bool churn = false;      // a --churn stream, not one of the N
  int64_t request_ns = -1; // when the request's first byte was written
  int64_t connect_ns = -1; // probes and churn streams only: when connect() was called
  int64_t ttfe_ns = -1;    // POST mode: time to first event
  uint64_t window_tokens = 0;  // POST mode: tokens received in the window
  ChunkedDecoder chunks;
  SseParser sse;
};

enum class HeadResult { kMore, kOk, kBadStatus, kProtocol };

// Accumulates a response head in s.head.  kOk once its blank line is in: the status was 200,
// s.chunked is set and *body_off is where the body starts in p.
HeadResult read_head(Stream& s, const char* p, size_t n, size_t* body_off) {
  const size_t old = s.head.size();
  s.head.append(p, n);
  const size_t end = s.head.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
  if (end == std::string::npos)
    return s.head.size() > 16 * 1024 ? HeadResult::kProtocol : HeadResult::kMore;
  // Status line: "HTTP/1.x 200 ...".
  const size_t sp = s.head.find(' ');
  if (s.head.compare(0, 5, "HTTP/") != 0 || sp == std::string::npos ||
      s.head.compare(sp + 1, 3, "200") != 0)
    return HeadResult::kBadStatus;
  // Header lines: only Transfer-Encoding changes how the body is framed.
  size_t pos = s.head.find("\r\n") + 2;
  while (pos < end) {
    const size_t eol = s.head.find("\r\n", pos);
    const char* line = s.head.data() + pos;
    const size_t len = eol - pos;
    if (iequals_prefix(line, len, "transfer-encoding:")) {
      std::string value(line + 18, len - 18);
      for (char& ch : value) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      s.chunked = value.find("chunked") != std::string::npos;
    }
    pos = eol + 2;
  }
  *body_off = end + 4 - old;  // offset of the body inside p
  s.head.clear();
  s.head.shrink_to_fit();
  return HeadResult::kOk;
}

class Worker {
 public:
  // `first`: the global index of its first stream (for --source-addrs); `churn`: its share of
  // --churn streams per second.
  Worker(const Config& cfg, Timeline& tl, int count, int first, int churn, bool coordinator)
      : cfg_(cfg), tl_(tl), streams_(size_t(count)), coordinator_(coordinator),
        ramp_batch_(std::max(1, cfg.ramp_batch / cfg.threads)), connects_(uint64_t(first)),
        churn_(churn_slots(cfg, churn)), churn_rate_(churn) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) die("epoll_create1 failed");
  }
  ~Worker() {
    for (Stream& s : streams_) {
      end_tls(s);
      if (s.fd >= 0) close(s.fd);
    }
    for (Stream& s : churn_)
      if (s.fd >= 0) close(s.fd);
    if (probe_.fd >= 0) close(probe_.fd);
    close(ep_);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void run();

  const Histogram& histogram() const { return hist_; }
  const Histogram& ttfe() const { return ttfe_; }
  const ProbeStats& probe_stats() const { return probe_stats_; }
  const Counters& counters() const { return c_; }
  const std::vector<Stream>& streams() const { return streams_; }
  // Coordinator only: samples at the window edges.
  bool sampled_start = false;
  CpuSample at_start, at_end;

 private:
  bool in_window(int64_t t) const {
    return t >= tl_.window_start.load(std::memory_order_relaxed) &&
           t < tl_.window_end.load(std::memory_order_relaxed);
  }
  bool start_connect(Stream& s);
  void connected(Stream& s);
  void handshake(Stream& s);
  void end_tls(Stream& s);
  ssize_t read_some(Stream& s);
  void read_once(Stream& s);
  void ramp();
  int64_t churn_tick(int64_t now);
  void churn_close(Stream& s, int64_t now);
  void expire_handshakes();
  void coordinate(int64_t now);
  void on_ready(Stream& s, uint32_t events);
  void send_request(Stream& s);
  void on_readable(Stream& s);
  void on_body(Stream& s, const char* p, size_t n, int64_t now);
  void on_token(Stream& s, const char* data, size_t len, bool window);
  int64_t probe_tick(int64_t now);
  void probe_start(int64_t now);
  void probe_send();
  void on_probe(uint32_t events);
  void probe_end(bool ok, bool timed_out);
  void settle(Stream& s);
  void fail(Stream& s, uint64_t* reason);
  void watch(Stream& s, uint32_t events, int op);

  const Config& cfg_;
  Timeline& tl_;
  std::vector<Stream> streams_;
  const bool coordinator_;
  const int ramp_batch_;
  int ep_ = -1;
  size_t next_ = 0;     // next stream to open
  int inflight_ = 0;    // streams in connect/request/head phase
  bool ramp_over_ = false;
  bool ramp_reported_ = false;  // coordinator: "ramp over" printed
  Histogram hist_;
  Histogram ttfe_;  // POST mode
  Counters c_;
  // --probe (coordinator only): at most one probe in flight.
  Stream probe_;
  bool probe_active_ = false;
  int probes_started_ = 0;
  int64_t probe_next_ns_ = 0;  // no probe starts before this (nor before the window)
  ProbeStats probe_stats_;
  uint64_t connects_;  // connects so far, plus the first stream's global index: --source-addrs
  // --churn: a ring of streams, opened at head_, closed (oldest first) at tail_.
  std::vector<Stream> churn_;
  const int churn_rate_;     // streams per second, this thread's share
  uint64_t churn_head_ = 0;  // streams ever opened
  uint64_t churn_tail_ = 0;  // streams ever closed
  char buf_[64 * 1024];
};

void Worker::watch(Stream& s, uint32_t events, int op) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = &s == &probe_ ? kProbeTag
                : s.churn      ? kChurnTag | uint64_t(&s - churn_.data())
                               : uint64_t(&s - streams_.data());
  if (epoll_ctl(ep_, op, s.fd, &ev) < 0) die("epoll_ctl failed");
}

// Frees the stream's ramp slot: once its head arrived (GET) or its request is
// written (POST), or when it fails before.
void Worker::settle(Stream& s) {
  if (!s.pending) return;
  s.pending = false;
  --inflight_;
  tl_.handshakes_left.fetch_sub(1, std::memory_order_relaxed);
}

void Worker::fail(Stream& s, uint64_t* reason) {
  if (!s.churn) ++*reason;
  else if (in_window(now_ns())) ++c_.churn_failed;
  settle(s);
  end_tls(s);
  close(s.fd);  // also removes it from the epoll set
  s.fd = -1;
  s.phase = Phase::kClosed;
}

void Worker::end_tls(Stream& s) {
#ifdef SSE_LOAD_TLS
  SSL_free(s.ssl);
  s.ssl = nullptr;
#else
  (void)s;
#endif
}

// The connect is done: the request goes, after a TLS handshake for HTTPS.
void Worker::connected(Stream& s) {
#ifdef SSE_LOAD_TLS
  if (cfg_.tls) {
    s.ssl = SSL_new(cfg_.tls_ctx);
    if (!s.ssl || SSL_set_fd(s.ssl, s.fd) != 1) {
      fail(s, &c_.connect_failed);
      return;
    }
    SSL_set_connect_state(s.ssl);
    s.phase = Phase::kHandshake;
    handshake(s);
    return;
  }
#endif
  s.phase = Phase::kSending;
  send_request(s);
}

// HTTPS: the handshake's next step, waiting for the socket as OpenSSL asks.
void Worker::handshake(Stream& s) {
#ifdef SSE_LOAD_TLS
  const int r = SSL_do_handshake(s.ssl);
  if (r == 1) {
    s.phase = Phase::kSending;
    watch(s, EPOLLOUT, EPOLL_CTL_MOD);
    send_request(s);
    return;
  }
  const int e = SSL_get_error(s.ssl, r);
  if (e == SSL_ERROR_WANT_READ) return watch(s, EPOLLIN, EPOLL_CTL_MOD);
  if (e == SSL_ERROR_WANT_WRITE) return watch(s, EPOLLOUT, EPOLL_CTL_MOD);
  fail(s, &c_.connect_failed);
#else
  (void)s;
#endif
}

// Reads what is there (through OpenSSL for HTTPS) into buf_: > 0 bytes, 0 at the end, < 0 with
// errno EAGAIN when nothing is ready yet, or another error.
ssize_t Worker::read_some(Stream& s) {
#ifdef SSE_LOAD_TLS
  if (s.ssl) {
    const int r = SSL_read(s.ssl, buf_, int(sizeof buf_));
    if (r > 0) return r;
    const int e = SSL_get_error(s.ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      errno = EAGAIN;  // (a KeyUpdate or a session ticket: no data yet)
      return -1;
    }
    errno = e == SSL_ERROR_ZERO_RETURN ? 0 : ECONNRESET;
    return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
  }
#endif
  return recv(s.fd, buf_, sizeof buf_, 0);
}

// Opens s's socket (bound to the next source address with --source-addrs > 1) and starts its
// connect.  False when that failed at once: s.fd is closed and the caller counts the failure.
bool Worker::start_connect(Stream& s) {
  s.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return false;
  const int one = 1;
  setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (cfg_.source_addrs > 1) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_port = 0;  // with IP_BIND_ADDRESS_NO_PORT, connect() picks it per 4-tuple
    src.sin_addr.s_addr = htonl(source_addr(int(connects_ % uint64_t(cfg_.source_addrs))));
    setsockopt(s.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(s.fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) < 0) {
      close(s.fd);
      s.fd = -1;
      return false;
    }
  }
  ++connects_;
  if (!s.churn && c_.first_connect_ns < 0) c_.first_connect_ns = now_ns();
  const int rc = connect(s.fd, reinterpret_cast<const sockaddr*>(&cfg_.addr), sizeof cfg_.addr);
  if (rc == 0) {
    watch(s, EPOLLOUT, EPOLL_CTL_ADD);
    connected(s);  // counts its own failure
  } else if (errno == EINPROGRESS) {
    s.phase = Phase::kConnecting;
    watch(s, EPOLLOUT, EPOLL_CTL_ADD);
  } else {
    close(s.fd);
    s.fd = -1;
    return false;
  }
  return true;
}

// Keeps at most ramp_batch_ handshakes in flight so that the server's accept
// backlog is never flooded; finished handshakes free slots for new connects.
void Worker::ramp() {
  while (!ramp_over_ && next_ < streams_.size() && inflight_ < ramp_batch_) {
    Stream& s = streams_[next_++];
    ++inflight_;
    s.pending = true;
    if (!start_connect(s)) {
      settle(s);
      ++c_.connect_failed;
      s.phase = Phase::kClosed;
    }
  }
}

// --churn: from the ramp's end (the window's start minus the warmup) on, opens this thread's
// share of streams per second on an even schedule and closes each one churn_life_ms after it
// opened it (oldest first; the oldest before its time when the ring is full).  Returns when it
// next has something to do (INT64_MAX: nothing until the window is fixed).
int64_t Worker::churn_tick(int64_t now) {
  const int64_t ws = tl_.window_start.load(std::memory_order_relaxed);
  if (ws == INT64_MAX) return INT64_MAX;  // the ramp is not over: coordinate() fixes it
  const int64_t begin = ws - int64_t(cfg_.warmup_s * kNsPerSec);
  if (now < begin) return begin;
  const int64_t life = int64_t(cfg_.churn_life_ms * 1e6);
  const size_t slots = churn_.size();
  while (churn_tail_ < churn_head_ && churn_[churn_tail_ % slots].connect_ns + life <= now)
    churn_close(churn_[churn_tail_++ % slots], now);
  const uint64_t due = uint64_t((now - begin) / 1000) * uint64_t(churn_rate_) / 1000000;
  while (churn_head_ < due) {
    if (churn_head_ - churn_tail_ == slots) {  // full: the oldest goes early
      if (in_window(now)) ++c_.churn_forced;
      churn_close(churn_[churn_tail_++ % slots], now);
    }
    Stream& s = churn_[churn_head_++ % slots];
    s = Stream{};
    s.churn = true;
    s.connect_ns = now;
    if (in_window(now)) ++c_.churn_opened;
    if (!start_connect(s)) {
      if (in_window(now)) ++c_.churn_failed;
      s.phase = Phase::kClosed;
    }
  }
  // The next open is due at begin + (head + 1) / rate; the oldest closes at its time.
  int64_t next = begin + int64_t((churn_head_ + 1) * 1000000000ull / uint64_t(churn_rate_));
  if (churn_tail_ < churn_head_) next = std::min(next, churn_[churn_tail_ % slots].connect_ns + life);
  return next;
}

// Closes a churn stream (the server sees its client leave); counted if it was still open.
void Worker::churn_close(Stream& s, int64_t now) {
  if (s.fd >= 0) {
    close(s.fd);  // also removes it from the epoll set
    s.fd = -1;
    if (in_window(now)) ++c_.churn_closed;
  }
  s.phase = Phase::kClosed;
}

// Past the ramp deadline: abandon pending handshakes and never-opened streams
// (POST mode: a written request keeps waiting for its answer).
void Worker::expire_handshakes() {
  ramp_over_ = true;
  for (Stream& s : streams_) {
    if (s.phase == Phase::kIdle) {
      s.phase = Phase::kClosed;
      ++c_.handshake_timeout;
      tl_.handshakes_left.fetch_sub(1, std::memory_order_relaxed);
    } else if (s.phase == Phase::kConnecting || s.phase == Phase::kHandshake || s.phase == Phase::kSending ||
               (s.phase == Phase::kHead && !cfg_.post)) {
      fail(s, &c_.handshake_timeout);
    }
  }
}

// Thread 0 only: fixes the window once every handshake is settled and samples
// the server's CPU time and RSS at the window edges.
void Worker::coordinate(int64_t now) {
  if (tl_.window_start.load(std::memory_order_relaxed) == INT64_MAX &&
      (tl_.handshakes_left.load(std::memory_order_relaxed) <= 0 || now >= tl_.ramp_deadline)) {
    const bool go = !cfg_.hold || g_go;
    if (!ramp_reported_) {
      std::fprintf(stderr, "sse-load: ramp over after %.2f s, %s\n",
                   double(now - tl_.ramp_start) / kNsPerSec, go ? "warming up" : "holding until SIGUSR1");
      ramp_reported_ = true;
    } else if (go) {
      std::fprintf(stderr, "sse-load: SIGUSR1 after %.2f s, warming up\n",
                   double(now - tl_.ramp_start) / kNsPerSec);
    }
    if (go) {
      const int64_t start = now + int64_t(cfg_.warmup_s * kNsPerSec);
      tl_.window_end.store(start + int64_t(cfg_.duration_s * kNsPerSec), std::memory_order_relaxed);
      tl_.window_start.store(start, std::memory_order_relaxed);
    }
  }
  if (!sampled_start && now >= tl_.window_start.load(std::memory_order_relaxed)) {
    at_start = CpuSample::take(cfg_.server_pids);
    sampled_start = true;
  }
}

void Worker::send_request(Stream& s) {
  const std::string& req = cfg_.request;
  if (s.sent == 0) s.request_ns = now_ns();
  while (s.sent < req.size()) {
    ssize_t w;
#ifdef SSE_LOAD_TLS
    if (s.ssl) {
      w = SSL_write(s.ssl, req.data() + s.sent, int(req.size() - s.sent));
      if (w <= 0) {
        const int e = SSL_get_error(s.ssl, int(w));
        errno = e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? EAGAIN : ECONNRESET;
        w = -1;
      }
    } else
#endif
    w = send(s.fd, req.data() + s.sent, req.size() - s.sent, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // wait for EPOLLOUT
      fail(s, &c_.connect_failed);
      return;
    }
    s.sent += size_t(w);
  }
  s.phase = Phase::kHead;
  watch(s, EPOLLIN, EPOLL_CTL_MOD);
  if (cfg_.post) settle(s);
}

void Worker::on_ready(Stream& s, uint32_t events) {
  switch (s.phase) {
    case Phase::kConnecting: {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        fail(s, &c_.connect_failed);
        return;
      }
      connected(s);
      return;
    }
    case Phase::kHandshake:
      handshake(s);
      return;
    case Phase::kSending:
      send_request(s);
      return;
    case Phase::kHead:
    case Phase::kBody:
      if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(s);
      return;
    case Phase::kIdle:
    case Phase::kClosed:
      return;
  }
}

void Worker::on_readable(Stream& s) {
  read_once(s);
#ifdef SSE_LOAD_TLS
  // OpenSSL reads ahead: what it holds already is no longer the socket's, and epoll would miss it
  while (s.ssl && (s.phase == Phase::kHead || s.phase == Phase::kBody) && SSL_has_pending(s.ssl)) read_once(s);
#endif
}

void Worker::read_once(Stream& s) {
  // Level-triggered, one read per wakeup: fair across streams.
  const ssize_t r = read_some(s);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (r <= 0) {
    fail(s, s.phase == Phase::kHead ? &c_.bad_status : &c_.closed_by_peer);
    return;
  }
  const int64_t now = now_ns();  // one clock read per recv: all bytes arrived together
  if (in_window(now) && !s.churn) c_.bytes += uint64_t(r);
  const char* p = buf_;
  size_t n = size_t(r);
  if (s.phase == Phase::kHead) {
    size_t body_off = 0;
    switch (read_head(s, p, n, &body_off)) {
      case HeadResult::kMore: return;
      case HeadResult::kBadStatus: fail(s, &c_.bad_status); return;
      case HeadResult::kProtocol: fail(s, &c_.protocol); return;
      case HeadResult::kOk: break;
    }
    s.phase = Phase::kBody;
    if (s.churn) {
      if (in_window(now)) ++c_.churn_established;
    } else {
      ++c_.established;
      c_.last_head_ns = now;
    }
    settle(s);  // GET: the handshake is over (POST: it was when the request went out)
    p += body_off;
    n -= body_off;
  }
  if (n > 0) on_body(s, p, n, now);
}

void Worker::on_body(Stream& s, const char* p, size_t n, int64_t now) {
  const bool window = in_window(now);
  auto on_event = [&](const char* data, size_t len) {
    if (s.churn) return;  // only the steady streams are measured
    if (cfg_.post) {
      on_token(s, data, len, window);
      return;
    }
    int64_t stamp = 0;
    if (!parse_stamp(data, len, &stamp)) {
      ++c_.bad_stamp;
      return;
    }
    if (!window) return;
    ++c_.events;
    hist_.record(uint64_t(std::max<int64_t>(0, now - stamp)));
    s.receiving = true;
  };
  bool ok = true;
  auto res = ChunkedDecoder::Result::kOk;
  if (s.chunked) {
    res = s.chunks.feed(p, n, [&](const char* d, size_t len) {
      ok = ok && s.sse.feed(d, len, now, on_event);
    });
  } else {
    ok = s.sse.feed(p, n, now, on_event);
  }
  if (cfg_.post) {
    if (s.ttfe_ns < 0 && s.sse.first_data_ns() >= 0) {
      s.ttfe_ns = std::max<int64_t>(0, s.sse.first_data_ns() - s.request_ns);
      ttfe_.record(uint64_t(s.ttfe_ns));
    }
    if (s.completed) {  // [DONE]: the stream is over; whatever follows does not matter
      ++c_.completed;
      close(s.fd);
      s.fd = -1;
      s.phase = Phase::kClosed;
      return;
    }
  }
  if (res == ChunkedDecoder::Result::kDone) {  // server ended the stream
    fail(s, &c_.closed_by_peer);
  } else if (res == ChunkedDecoder::Result::kError || !ok) {
    fail(s, &c_.protocol);
  }
}

// POST mode: one event is one token, until [DONE].
void Worker::on_token(Stream& s, const char* data, size_t len, bool window) {
  if (s.completed) return;
  if (len == 6 && std::memcmp(data, "[DONE]", 6) == 0) {
    s.completed = true;
    return;
  }
  if (!window) return;
  ++c_.events;
  ++s.window_tokens;
  s.receiving = true;
}

// --probe, thread 0: times out the probe in flight and starts the next one when it is due (in
// the window, kProbeGapNs after the previous one ended).  Returns when it next needs a look
// (INT64_MAX: nothing due).
int64_t Worker::probe_tick(int64_t now) {
  const int64_t ws = tl_.window_start.load(std::memory_order_relaxed);
  const int64_t we = tl_.window_end.load(std::memory_order_relaxed);
  if (ws == INT64_MAX) return INT64_MAX;  // not fixed yet: coordinate() wakes the loop for it
  if (probe_active_ && now - probe_.connect_ns >= kProbeTimeoutNs) probe_end(false, true);
  if (!probe_active_ && probes_started_ < cfg_.probes && now >= ws && now >= probe_next_ns_ &&
      now < we)
    probe_start(now_ns());
  if (probe_active_) return probe_.connect_ns + kProbeTimeoutNs;
  if (probes_started_ < cfg_.probes) return std::max(ws, probe_next_ns_);
  return INT64_MAX;
}

void Worker::probe_start(int64_t now) {
  ++probes_started_;
  probe_ = Stream{};
  probe_active_ = true;
  probe_.connect_ns = now;
  probe_.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe_.fd < 0) {
    probe_end(false, false);
    return;
  }
  const int one = 1;
  setsockopt(probe_.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const int rc = connect(probe_.fd, reinterpret_cast<const sockaddr*>(&cfg_.addr), sizeof cfg_.addr);
  if (rc == 0) {
    probe_stats_.connect.record(uint64_t(std::max<int64_t>(0, now_ns() - now)));
    probe_.phase = Phase::kSending;
    watch(probe_, EPOLLOUT, EPOLL_CTL_ADD);
    probe_send();
  } else if (errno == EINPROGRESS) {
    probe_.phase = Phase::kConnecting;
    watch(probe_, EPOLLOUT, EPOLL_CTL_ADD);
  } else {
    probe_end(false, false);
  }
}

void Worker::probe_send() {
  Stream& s = probe_;
  const std::string& req = cfg_.request;
  if (s.sent == 0) s.request_ns = now_ns();
  while (s.sent < req.size()) {
    const ssize_t w = send(s.fd, req.data() + s.sent, req.size() - s.sent, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // wait for EPOLLOUT
      probe_end(false, false);
      return;
    }
    s.sent += size_t(w);
  }
  s.phase = Phase::kHead;
  watch(s, EPOLLIN, EPOLL_CTL_MOD);
}

// The probe's socket is ready: connect, write, then read until the first data byte is in.
// Nothing here touches the counters of the N streams.
void Worker::on_probe(uint32_t events) {
  Stream& s = probe_;
  if (!probe_active_ || s.fd < 0) return;
  switch (s.phase) {
    case Phase::kConnecting: {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        probe_end(false, false);
        return;
      }
      probe_stats_.connect.record(uint64_t(std::max<int64_t>(0, now_ns() - s.connect_ns)));
      s.phase = Phase::kSending;
      probe_send();
      return;
    }
    case Phase::kSending:
      probe_send();
      return;
    case Phase::kHead:
    case Phase::kBody:
      break;
    case Phase::kIdle:
    case Phase::kHandshake:  // (probes are plain HTTP)
    case Phase::kClosed:
      return;
  }
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  const ssize_t r = recv(s.fd, buf_, sizeof buf_, 0);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (r <= 0) {
    probe_end(false, false);
    return;
  }
  const int64_t now = now_ns();
  const char* p = buf_;
  size_t n = size_t(r);
  if (s.phase == Phase::kHead) {
    size_t body_off = 0;
    const HeadResult h = read_head(s, p, n, &body_off);
    if (h == HeadResult::kMore) return;
    if (h != HeadResult::kOk) {
      probe_end(false, false);
      return;
    }
    s.phase = Phase::kBody;
    p += body_off;
    n -= body_off;
  }
  if (n == 0) return;
  bool ok = true;
  auto ignore = [](const char*, size_t) {};
  auto res = ChunkedDecoder::Result::kOk;
  if (s.chunked) {
    res = s.chunks.feed(p, n, [&](const char* d, size_t len) {
      ok = ok && s.sse.feed(d, len, now, ignore);
    });
  } else {
    ok = s.sse.feed(p, n, now, ignore);
  }
  if (s.sse.first_data_ns() >= 0) {
    probe_stats_.ttfe.record(uint64_t(std::max<int64_t>(0, s.sse.first_data_ns() - s.request_ns)));
    probe_end(true, false);
  } else if (res != ChunkedDecoder::Result::kOk || !ok) {  // ended or broken before any data
    probe_end(false, false);
  }
}

// Closes the probe in flight (the server sees a client going away) and schedules the next.
void Worker::probe_end(bool ok, bool timed_out) {
  if (ok) {
    ++probe_stats_.ok;
  } else {
    ++probe_stats_.failed;
    if (timed_out) ++probe_stats_.timed_out;
  }
  if (probe_.fd >= 0) close(probe_.fd);  // also removes it from the epoll set
  probe_.fd = -1;
  probe_.phase = Phase::kClosed;
  probe_active_ = false;
  probe_next_ns_ = now_ns() + kProbeGapNs;
}

void Worker::run() {
  epoll_event evs[512];
  for (;;) {
    const int64_t now = now_ns();
    if (now >= tl_.window_end.load(std::memory_order_relaxed) || now >= tl_.hard_deadline) break;
    if (!ramp_over_ && now >= tl_.ramp_deadline) expire_handshakes();
    ramp();
    if (coordinator_) coordinate(now);
    // Sleep at most 10 ms, or less when a window edge (or a probe) is due sooner.
    int64_t wake = now + 10 * 1000000;
    if (coordinator_ && cfg_.probes > 0) wake = std::min(wake, probe_tick(now));
    if (churn_rate_ > 0) wake = std::min(wake, churn_tick(now));
    const int64_t ws = tl_.window_start.load(std::memory_order_relaxed);
    const int64_t we = tl_.window_end.load(std::memory_order_relaxed);
    if (coordinator_ && !sampled_start && ws > now) wake = std::min(wake, ws);
    wake = std::min(wake, we);
    const int timeout_ms = int((std::max<int64_t>(0, wake - now) + 999999) / 1000000);
    const int n = epoll_wait(ep_, evs, 512, timeout_ms);
    if (n < 0 && errno != EINTR) die("epoll_wait failed");
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = evs[i].data.u64;
      if (tag == kProbeTag) on_probe(evs[i].events);
      else if (tag & kChurnTag) on_ready(churn_[tag & ~kChurnTag], evs[i].events);
      else on_ready(streams_[tag], evs[i].events);
    }
  }
  if (coordinator_ && sampled_start) at_end = CpuSample::take(cfg_.server_pids);
  for (const Stream& s : streams_) {
    if (s.receiving) ++c_.receiving;
    if (s.receiving || s.completed) ++c_.served;
  }
}

// ---------------------------------------------------------------------------
void usage() {
  std::fprintf(stderr,
      "usage: sse-load --url http[s]://127.0.0.1:PORT/path --streams N --duration S --warmup W\n"
      "                [--last-event-id X] [--threads T] [--ramp-batch B]\n"
      "                [--connect-timeout S] [--server-pid PID[,PID...]]\n"
      "                [--hold 1] [--histogram FILE]\n"
      "                [--post BODY [--post-path PATH] [--probe K]]\n"
      "                [--source-addrs K] [--churn K [--churn-life-ms L]]\n");
  std::exit(2);
}

double parse_num(const char* s, const char* what) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || v < 0) {
    std::fprintf(stderr, "sse-load: bad value for %s: %s\n", what, s);
    std::exit(2);
  }
  return v;
}

void parse_url(const std::string& url, Config& cfg, std::string* host, std::string* path) {
  std::string u = url;
  if (u.rfind("https://", 0) == 0) {
#ifndef SSE_LOAD_TLS
    die("an https:// URL needs a build with OpenSSL");
#endif
    cfg.tls = true;
    u.erase(4, 1);  // the rest is read as for http://
  }
  if (const char* error = parse_http_url(u, &cfg.addr, host, path)) die(error);
}


}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  std::string url, last_event_id, histogram_path, post_body, post_path;
  bool have_id = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage();
    const char* v = argv[++i];
    if (a == "--url") url = v;
    else if (a == "--streams") cfg.streams = int(parse_num(v, "--streams"));
    else if (a == "--duration") cfg.duration_s = parse_num(v, "--duration");
    else if (a == "--warmup") cfg.warmup_s = parse_num(v, "--warmup");
    else if (a == "--last-event-id") { last_event_id = v; have_id = true; }
    else if (a == "--threads") cfg.threads = int(parse_num(v, "--threads"));
    else if (a == "--ramp-batch") cfg.ramp_batch = int(parse_num(v, "--ramp-batch"));
    else if (a == "--connect-timeout") cfg.connect_timeout_s = parse_num(v, "--connect-timeout");
    else if (a == "--hold") cfg.hold = parse_num(v, "--hold") != 0;
    else if (a == "--histogram") histogram_path = v;
    else if (a == "--post") { post_body = v; cfg.post = true; }
    else if (a == "--post-path") post_path = v;
    else if (a == "--probe") cfg.probes = int(parse_num(v, "--probe"));
    else if (a == "--source-addrs") cfg.source_addrs = int(parse_num(v, "--source-addrs"));
    else if (a == "--churn") cfg.churn = int(parse_num(v, "--churn"));
    else if (a == "--churn-life-ms") cfg.churn_life_ms = parse_num(v, "--churn-life-ms");
    else if (a == "--server-pid") {
      std::istringstream in(v);
      std::string tok;
      while (std::getline(in, tok, ',')) cfg.server_pids.push_back(std::atoi(tok.c_str()));
    } else usage();
  }
  if (url.empty() || cfg.streams <= 0 || cfg.duration_s <= 0 || cfg.threads <= 0 ||
      cfg.ramp_batch <= 0)
    usage();
  cfg.threads = std::min(cfg.threads, cfg.streams);

  std::string host, path;
  parse_url(url, cfg, &host, &path);
  if (!post_path.empty()) {
    if (!cfg.post || post_path[0] != '/') die("--post-path needs --post and must start with '/'");
    path = post_path;
  }
  if (cfg.probes > 0 && !cfg.post) die("--probe needs --post");
  if (cfg.tls && (cfg.post || cfg.churn > 0)) die("an https:// URL is for GET streams only (not --post, --churn)");
#ifdef SSE_LOAD_TLS
  if (cfg.tls) {
    cfg.tls_ctx = SSL_CTX_new(TLS_client_method());
    if (!cfg.tls_ctx) die("SSL_CTX_new failed");
    SSL_CTX_set_verify(cfg.tls_ctx, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_read_ahead(cfg.tls_ctx, 1);  // a recv per wakeup, as over plain TCP (on_readable)
    SSL_CTX_set_default_read_buffer_len(cfg.tls_ctx, 64 * 1024);
  }
#endif
  if (cfg.source_addrs < 1 || cfg.source_addrs > kMaxSourceAddrs) die("--source-addrs must be in 1..65535");
  if (cfg.source_addrs > 1 && (ntohl(cfg.addr.sin_addr.s_addr) >> 24) != 127)
    die("--source-addrs needs a loopback (127.x.y.z) server address");
  if (cfg.churn > 0 && cfg.churn_life_ms < 1) die("--churn-life-ms must be at least 1");
  cfg.request = std::string(cfg.post ? "POST " : "GET ") + path + " HTTP/1.1\r\nHost: " + host +
                "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n";
  if (have_id) cfg.request += "Last-Event-ID: " + last_event_id + "\r\n";
  if (cfg.post)
    cfg.request += "Content-Type: application/json\r\nContent-Length: " +
                   std::to_string(post_body.size()) + "\r\n";
  cfg.request += "\r\n";
  if (cfg.post) cfg.request += post_body;

  // One descriptor per stream (steady and churn) plus a few spare (epoll, a probe, stdio):
  // raise the limit that far and some more, or stop here.
  uint64_t need = uint64_t(cfg.streams) + 64;
  for (int t = 0; t < cfg.threads; ++t) need += churn_slots(cfg, churn_share(cfg, t));
  const uint64_t nofile = bench::raise_fd_limit("sse-load", need + need / 8 + 1024);
  if (nofile < need) {
    std::fprintf(stderr, "sse-load: RLIMIT_NOFILE %llu is too low for %d streams (%llu descriptors"
                 " needed); raise the hard limit first (ulimit -Hn, which needs CAP_SYS_RESOURCE) or fs.nr_open\n",
                 static_cast<unsigned long long>(nofile), cfg.streams,
                 static_cast<unsigned long long>(need));
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (cfg.hold) {  // no SA_RESTART: epoll_wait returns at once with EINTR
    struct sigaction sa {};
    sa.sa_handler = on_go;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, nullptr);
  }

  const int64_t rss_before = cfg.server_pids.empty() ? -1 : proc_rss_kb(cfg.server_pids);
  const int64_t start = now_ns();
  Timeline tl;
  tl.ramp_start = start;
  tl.ramp_deadline = start + int64_t(cfg.connect_timeout_s * kNsPerSec);
  // The window normally ends well before this; the slack only matters when
  // sse-load itself is kept off the CPU and notices the ramp's end late.
  tl.hard_deadline = tl.ramp_deadline +
                     int64_t((cfg.warmup_s + cfg.duration_s + 10 + (cfg.hold ? kHoldMaxS : 0)) * kNsPerSec);
  tl.handshakes_left.store(cfg.streams);

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0, first = 0; t < cfg.threads; ++t) {
    const int count = cfg.streams / cfg.threads + (t < cfg.streams % cfg.threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(cfg, tl, count, first, churn_share(cfg, t), t == 0));
    first += count;
  }
  // SIGUSR1 goes to thread 0 (the coordinator) only: the others start with it blocked.
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, &old);
  std::vector<std::thread> threads;
  for (size_t t = 1; t < workers.size(); ++t) threads.emplace_back([&w = *workers[t]] { w.run(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  workers[0]->run();
  for (std::thread& th : threads) th.join();

  Histogram hist;
  Counters c;
  std::vector<uint64_t> window_tokens;  // POST mode: per requested stream
  for (const auto& w : workers) {
    hist.merge(cfg.post ? w->ttfe() : w->histogram());
    c.merge(w->counters());
    if (cfg.post)
      for (const Stream& s : w->streams()) window_tokens.push_back(s.window_tokens);
  }
  if (!histogram_path.empty() && !hist.write(histogram_path.c_str()))
    std::fprintf(stderr, "sse-load: cannot write %s\n", histogram_path.c_str());
  const Worker& w0 = *workers[0];
  // The part of the window actually watched: the hard deadline may cut it.
  const int64_t ws = tl.window_start.load();
  const int64_t we = std::min(tl.window_end.load(), tl.hard_deadline);
  const bool window_ok = ws != INT64_MAX && we > ws;
  const double window_s = window_ok ? double(we - ws) / kNsPerSec : 0.0;
  const double eps = window_s > 0 ? double(c.events) / window_s : 0.0;

  // CPU shares over the window, in % of one core.  They are divided by the
  // time between the two samples, which is longer than the window when
  // sse-load itself was kept off the CPU.
  const double tick_s = 1.0 / double(sysconf(_SC_CLK_TCK));
  const CpuSample& a = w0.at_start;
  const CpuSample& b = w0.at_end;
  const double sampled_s = double(b.at_ns - a.at_ns) / kNsPerSec;
  const bool have_server = a.server_ticks >= 0 && b.server_ticks >= 0 && sampled_s > 0;
  const double server_s = have_server ? double(b.server_ticks - a.server_ticks) * tick_s : 0.0;
  const std::string cpu_pct = have_server ? fmt_pct(100.0 * server_s / sampled_s) : "NA";
  std::string other_pct = "NA";
  if (a.machine_ticks >= 0 && b.machine_ticks >= 0 && sampled_s > 0 &&
      (have_server || cfg.server_pids.empty())) {
    const double other_s = double(b.machine_ticks - a.machine_ticks) * tick_s - server_s -
                           (b.self_s - a.self_s);
    other_pct = fmt_pct(std::max(0.0, 100.0 * other_s / sampled_s));
  }

  // POST mode: tokens/s per stream over all requested streams (mean, p1) and
  // over the served ones (mean).
  double tps_mean = 0, tps_p1 = 0, tps_served = 0;
  if (cfg.post && window_s > 0) {
    std::sort(window_tokens.begin(), window_tokens.end());
    const size_t rank = size_t(std::ceil(0.01 * double(window_tokens.size())));
    tps_p1 = double(window_tokens[std::max<size_t>(rank, 1) - 1]) / window_s;
    tps_mean = eps / double(cfg.streams);
    tps_served = c.served > 0 ? eps / double(c.served) : 0.0;
  }

  std::printf("RESULT streams_requested=%d streams_established=%" PRIu64
              " streams_receiving=%" PRIu64 " events=%" PRIu64 " events_per_sec=%.0f bytes=%" PRIu64
              " p50_us=%s p99_us=%s p999_us=%s max_us=%s errors=%" PRIu64
              " window_s=%.3f server_cpu_pct=%s server_rss_before_kb=%s server_rss_start_kb=%s"
              " server_rss_end_kb=%s other_cpu_pct=%s",
              cfg.streams, c.established, c.receiving, c.events, eps, c.bytes,
              fmt_us(hist, 0.50).c_str(), fmt_us(hist, 0.99).c_str(),
              fmt_us(hist, 0.999).c_str(), fmt_us(hist, 1.0).c_str(), c.errors(),
              window_s, cpu_pct.c_str(), fmt_opt(rss_before).c_str(),
              fmt_opt(a.server_rss_kb).c_str(), fmt_opt(b.server_rss_kb).c_str(), other_pct.c_str());
  // Scale: the ramp's length (first connect -> last head; NA without a head), the source
  // addresses, and --churn's work over the window.
  const int64_t connect_ns =
      c.first_connect_ns >= 0 && c.last_head_ns >= 0 ? c.last_head_ns - c.first_connect_ns : -1;
  char connect_ms[32] = "NA";
  if (connect_ns >= 0) std::snprintf(connect_ms, sizeof connect_ms, "%.1f", double(connect_ns) / 1e6);
  std::printf(" connect_ms=%s source_addrs=%d churn=%d churn_life_ms=%.0f churn_opened=%" PRIu64
              " churn_closed=%" PRIu64 " churn_established=%" PRIu64 " churn_failed=%" PRIu64
              " churn_forced=%" PRIu64,
              connect_ms, cfg.source_addrs, cfg.churn, cfg.churn_life_ms, c.churn_opened,
              c.churn_closed, c.churn_established, c.churn_failed, c.churn_forced);
  const ProbeStats& ps = w0.probe_stats();
  const uint64_t probes_unfinished = uint64_t(cfg.probes) - ps.ok - ps.failed;
  if (cfg.post) {  // POST mode: p50_us..max_us above are the burst's TTFE, events are tokens
    std::printf(" mode=post streams_served=%" PRIu64 " streams_completed=%" PRIu64
                " ttfe_streams=%" PRIu64 " stream_tps_mean=%.1f stream_tps_p1=%.1f"
                " stream_tps_served_mean=%.1f",
                c.served, c.completed, hist.count(), tps_mean, tps_p1, tps_served);
    // --probe: new streams under load, one at a time in the window (NA without ok probes).
    std::printf(" probes=%d probes_ok=%" PRIu64 " probes_failed=%" PRIu64 " probes_timed_out=%" PRIu64
                " probes_unfinished=%" PRIu64 " probe_ttfe_p50_us=%s probe_ttfe_p99_us=%s"
                " probe_ttfe_max_us=%s probe_connect_max_us=%s",
                cfg.probes, ps.ok, ps.failed, ps.timed_out, probes_unfinished,
                fmt_us(ps.ttfe, 0.50).c_str(), fmt_us(ps.ttfe, 0.99).c_str(),
                fmt_us(ps.ttfe, 1.0).c_str(), fmt_us(ps.connect, 1.0).c_str());
  }
  std::printf("\n");
  std::printf("\n%s%s (%d thread%s)\n", cfg.post ? "POST " : "", url.c_str(), cfg.threads,
              cfg.threads == 1 ? "" : "s");
  std::printf("  streams    %" PRIu64 " established / %d requested, %" PRIu64
              " received events in the window\n", c.established, cfg.streams, c.receiving);
  std::printf("  connect    %s ms from the first connect to the last head (%" PRIu64 " streams%s)%s\n",
              connect_ms, c.established, c.established == uint64_t(cfg.streams) ? ", all" : "",
              cfg.source_addrs > 1
                  ? (", from " + std::to_string(cfg.source_addrs) + " source addresses").c_str()
                  : "");
  if (cfg.churn > 0)
    std::printf("  churn      %.0f opened/s, %.0f closed/s in the window (asked %d/s, each for %.0f ms):"
                " %" PRIu64 " opened, %" PRIu64 " closed, %" PRIu64 " got their head, %" PRIu64
                " failed, %" PRIu64 " closed early\n",
                window_s > 0 ? double(c.churn_opened) / window_s : 0.0,
                window_s > 0 ? double(c.churn_closed) / window_s : 0.0, cfg.churn,
                cfg.churn_life_ms, c.churn_opened, c.churn_closed, c.churn_established,
                c.churn_failed, c.churn_forced);
  if (cfg.post)
    std::printf("  served     %" PRIu64 " of %d (%" PRIu64 " completed), %" PRIu64
                " got a first event\n", c.served, cfg.streams, c.completed, hist.count());
  std::printf("  window     %.2f s measured after %.2f s warmup%s\n", window_s, cfg.warmup_s,
              window_ok ? "" : " (never reached)");
  std::printf("  events     %" PRIu64 " (%.0f/s), %.2f MB/s\n", c.events, eps,
              window_s > 0 ? double(c.bytes) / window_s / 1e6 : 0.0);
  if (cfg.post) {
    std::printf("  tokens/s   per stream mean %.1f  p1 %.1f (of %d requested), mean %.1f per served"
                " stream, %.0f in all\n", tps_mean, tps_p1, cfg.streams, tps_served, eps);
    std::printf("  burst ttfe p50 %s us  p99 %s us  p99.9 %s us  max %s us (%" PRIu64
                " streams, all requests at once)\n",
                fmt_us(hist, 0.50).c_str(), fmt_us(hist, 0.99).c_str(),
                fmt_us(hist, 0.999).c_str(), fmt_us(hist, 1.0).c_str(), hist.count());
    if (cfg.probes > 0)
      std::printf("  probe ttfe p50 %s us  p99 %s us  max %s us (new streams under load, one at a time:"
                  " %" PRIu64 " ok, %" PRIu64 " failed (%" PRIu64 " timed out at %d s), %" PRIu64
                  " unfinished, of %d; connect max %s us)\n",
                  fmt_us(ps.ttfe, 0.50).c_str(), fmt_us(ps.ttfe, 0.99).c_str(),
                  fmt_us(ps.ttfe, 1.0).c_str(), ps.ok, ps.failed, ps.timed_out,
                  int(kProbeTimeoutNs / kNsPerSec), probes_unfinished, cfg.probes,
                  fmt_us(ps.connect, 1.0).c_str());
  } else {
    std::printf("  latency    p50 %s us  p99 %s us  p99.9 %s us  max %s us\n",
                fmt_us(hist, 0.50).c_str(), fmt_us(hist, 0.99).c_str(),
                fmt_us(hist, 0.999).c_str(), fmt_us(hist, 1.0).c_str());
  }
  std::printf("  errors     %" PRIu64 " (connect %" PRIu64 ", status %" PRIu64 ", handshake timeout %" PRIu64
              ", closed by peer %" PRIu64 ", protocol %" PRIu64 ", bad timestamp %" PRIu64 ")\n",
              c.errors(), c.connect_failed, c.bad_status, c.handshake_timeout, c.closed_by_peer,
              c.protocol, c.bad_stamp);
  if (!cfg.server_pids.empty())
    std::printf("  server     cpu %s%% over the window, rss %s -> %s -> %s kB (before/start/end)\n",
                cpu_pct.c_str(), fmt_opt(rss_before).c_str(), fmt_opt(a.server_rss_kb).c_str(),
                fmt_opt(b.server_rss_kb).c_str());
  std::printf("  machine    %s%% of a core used by other processes during the window\n",
              other_pct.c_str());
  return 0;
}
