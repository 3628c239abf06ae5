// h2_load.cpp - the benchmark's load client over HTTP/2 (cleartext h2c, prior knowledge).
//
// Opens C connections and N streams spread evenly over them (N/C each, one GET per stream),
// parses every event per the EventSource rules and measures delivery latency as sse-load does:
// each event's data begins with the sender's CLOCK_MONOTONIC nanoseconds. The same timeline
// (ramp until every stream has its head or --connect-timeout, then --warmup, then --duration of
// measurement) and the same RESULT keys as sse-load, plus connections=C. nghttp2's client
// session per connection, one thread, epoll. The client's window is opened wide (16 MB per
// stream, 1 GB per connection) so that flow control never holds the server back.
//
//   h2-load --url http://127.0.0.1:PORT/path --connections C --streams N --duration S --warmup W
//           [--connect-timeout S] [--server-pid PID]
#include <nghttp2/nghttp2.h>

#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <map>
#include <memory>

#include "fd_limit.hpp"
#include "load_common.hpp"

namespace {

using namespace bench;

[[noreturn]] void die(const char* msg) {
  std::fprintf(stderr, "h2-load: %s\n", msg);
  std::exit(2);
}

struct Config {
  sockaddr_in addr{};
  std::string host, path;
  int connections = 0, streams = 0;
  double duration_s = 0, warmup_s = 0, connect_timeout_s = 20;
  std::vector<int> server_pids;
};

struct Totals {
  uint64_t established = 0, receiving = 0, events = 0, bytes = 0, bad_status = 0, bad_stamp = 0, protocol = 0,
           closed = 0, connect_failed = 0;
  uint64_t errors() const { return bad_status + bad_stamp + protocol + closed + connect_failed; }
};

int64_t g_window_start = INT64_MAX, g_window_end = INT64_MAX;

struct Stream {
  SseParser sse;
  int status = 0;
  bool receiving = false;
};

class Connection {
 public:
  Connection(const Config& cfg, int streams, Totals& t, Histogram& h) : cfg_(cfg), want_(streams), t_(t), h_(h) {}
  ~Connection() {
    if (session_) nghttp2_session_del(session_);
    if (fd_ >= 0) ::close(fd_);
  }

  int fd() const { return fd_; }
  bool dead() const { return dead_; }

  bool connect(int ep) {
    ep_ = ep;
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return false;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&cfg_.addr), sizeof cfg_.addr) != 0 && errno != EINPROGRESS)
      return false;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = this;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd_, &ev) != 0) return false;
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, &on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &on_close);
    nghttp2_session_client_new(&session_, cb, this);
    nghttp2_session_callbacks_del(cb);
    const nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                         {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16 << 20}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_submit_window_update(session_, NGHTTP2_FLAG_NONE, 0, (1 << 30) - 65535);
    return true;
  }

  // Opens streams up to the server's concurrency limit (the rest once others end: none do).
  void open_streams() {
    while (opened_ < want_) {
      const nghttp2_nv nva[] = {nv(":method", "GET"), nv(":scheme", "http"), nv(":authority", cfg_.host),
                                nv(":path", cfg_.path), nv("accept", "text/event-stream")};
      const int32_t id = nghttp2_submit_request(session_, nullptr, nva, 5, nullptr, nullptr);
      if (id < 0) break;
      streams_.emplace(id, std::make_unique<Stream>());
      ++opened_;
    }
  }

  void on_readable(int64_t now) {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        now_ = now;
        if (nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(buf), size_t(n)) < 0) {
          ++t_.protocol;
          dead_ = true;
          return;
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      ++t_.closed;
      dead_ = true;
      return;
    }
    flush();
  }

  // Writes what the session has (and what waited for the socket).
  void flush() {
    for (;;) {
      if (pending_.empty()) {
        const uint8_t* p = nullptr;
        const ssize_t n = nghttp2_session_mem_send(session_, &p);
        if (n <= 0) return;
        pending_.assign(reinterpret_cast<const char*>(p), size_t(n));
      }
      const ssize_t k = ::send(fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL);
      if (k < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) dead_ = true;
        return watch(true); // the rest once the socket takes more
      }
      pending_.erase(0, size_t(k));
      if (pending_.empty()) watch(false);
    }
  }

  // Whether epoll also reports writability (only while output waits, or until connected).
  void watch(bool out) {
    if (out == watching_out_) return;
    watching_out_ = out;
    epoll_event ev{};
    ev.events = out ? uint32_t(EPOLLIN | EPOLLOUT) : uint32_t(EPOLLIN);
    ev.data.ptr = this;
    epoll_ctl(ep_, EPOLL_CTL_MOD, fd_, &ev);
  }

  void on_writable() {
    if (!connected_) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        ++t_.connect_failed;
        dead_ = true;
        return;
      }
      connected_ = true; // the session's first bytes are the client preface
      open_streams();
    }
    flush();
  }

  // Streams that got their head; those receiving in the window (then cleared for the next).
  void count(uint64_t& established, uint64_t& receiving) const {
    for (const auto& s : streams_) {
      established += s.second->status == 200;
      receiving += s.second->receiving;
    }
  }

 private:
  // (`value` must outlive the submit: a literal or the configuration's string)
  static nghttp2_nv nv(const char* name, const char* value, size_t n) {
    return {reinterpret_cast<uint8_t*>(const_cast<char*>(name)), reinterpret_cast<uint8_t*>(const_cast<char*>(value)),
            std::strlen(name), n, NGHTTP2_NV_FLAG_NONE};
  }
  static nghttp2_nv nv(const char* name, const char* value) { return nv(name, value, std::strlen(value)); }
  static nghttp2_nv nv(const char* name, const std::string& value) { return nv(name, value.data(), value.size()); }
  static Connection& self(void* u) { return *static_cast<Connection*>(u); }

  Stream* find(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t, void* u) {
    Stream* s = self(u).find(f->hd.stream_id);
    if (s && namelen == 7 && std::memcmp(name, ":status", 7) == 0) {
      s->status = std::atoi(std::string(reinterpret_cast<const char*>(value), valuelen).c_str());
      if (s->status != 200) ++self(u).t_.bad_status;
    }
    return 0;
  }

  static int on_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* u) {
    Connection& c = self(u);
    Stream* s = c.find(id);
    if (!s) return 0;
    const int64_t now = c.now_;
    const bool window = now >= g_window_start && now < g_window_end;
    if (window) c.t_.bytes += len;
    const bool ok = s->sse.feed(reinterpret_cast<const char*>(data), len, now, [&](const char* d, size_t n) {
      int64_t stamp = 0;
      if (!parse_stamp(d, n, &stamp)) {
        ++c.t_.bad_stamp;
        return;
      }
      if (!window) return;
      ++c.t_.events;
      c.h_.record(uint64_t(std::max<int64_t>(0, now - stamp)));
      s->receiving = true;
    });
    if (!ok) ++c.t_.protocol;
    return 0;
  }

  static int on_close(nghttp2_session*, int32_t id, uint32_t, void* u) {
    Connection& c = self(u);
    if (c.find(id) && now_ns() < g_window_end) ++c.t_.closed;
    return 0;
  }

  const Config& cfg_;
  int want_;
  Totals& t_;
  Histogram& h_;
  int fd_ = -1, ep_ = -1;
  bool watching_out_ = true;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  std::string pending_;
  int opened_ = 0;
  int64_t now_ = 0;
  bool connected_ = false, dead_ = false;
};

void usage() {
  std::fprintf(stderr,
               "usage: h2-load --url http://127.0.0.1:PORT/path --connections C --streams N --duration S --warmup W\n"
               "               [--connect-timeout S] [--server-pid PID]\n");
  std::exit(2);
}

double number(const char* s) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || v < 0) usage();
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  std::string url;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const char* v = argv[i + 1];
    if (a == "--url") url = v;
    else if (a == "--connections") cfg.connections = int(number(v));
    else if (a == "--streams") cfg.streams = int(number(v));
    else if (a == "--duration") cfg.duration_s = number(v);
    else if (a == "--warmup") cfg.warmup_s = number(v);
    else if (a == "--connect-timeout") cfg.connect_timeout_s = number(v);
    else if (a == "--server-pid") cfg.server_pids.push_back(std::atoi(v));
    else usage();
  }
  if (argc % 2 == 0 || url.empty() || cfg.connections <= 0 || cfg.streams < cfg.connections || cfg.duration_s <= 0)
    usage();
  if (const char* error = parse_http_url(url, &cfg.addr, &cfg.host, &cfg.path)) die(error);
  bench::raise_fd_limit("h2-load", uint64_t(cfg.connections) + 64);

  const int ep = epoll_create1(0);
  Totals t;
  Histogram hist;
  std::vector<std::unique_ptr<Connection>> conns;
  const int64_t rss_before = proc_rss_kb(cfg.server_pids);
  const int64_t start = now_ns();
  for (int i = 0; i < cfg.connections; ++i) {
    const int share = cfg.streams / cfg.connections + (i < cfg.streams % cfg.connections ? 1 : 0);
    conns.push_back(std::make_unique<Connection>(cfg, share, t, hist));
    if (!conns.back()->connect(ep)) ++t.connect_failed;
  }

  auto established = [&] {
    uint64_t e = 0, r = 0;
    for (auto& c : conns) c->count(e, r);
    return e;
  };
  const int64_t ramp_deadline = start + int64_t(cfg.connect_timeout_s * kNsPerSec);
  int64_t heads_at = -1;
  CpuSample at_start, at_end;
  std::vector<epoll_event> events(256);
  for (;;) {
    const int64_t now = now_ns();
    if (heads_at < 0 && (established() == uint64_t(cfg.streams) || now >= ramp_deadline)) {
      heads_at = now;
      g_window_start = now + int64_t(cfg.warmup_s * kNsPerSec);
      g_window_end = g_window_start + int64_t(cfg.duration_s * kNsPerSec);
    }
    if (heads_at >= 0 && at_start.at_ns == 0 && now >= g_window_start) at_start = CpuSample::take(cfg.server_pids);
    if (now >= g_window_end) {
      at_end = CpuSample::take(cfg.server_pids);
      break;
    }
    const int n = epoll_wait(ep, events.data(), int(events.size()), 10);
    const int64_t got = now_ns();
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Connection*>(events[i].data.ptr);
      if (c->dead()) continue;
      if (events[i].events & EPOLLOUT) c->on_writable();
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) c->on_readable(got);
      if (c->dead()) epoll_ctl(ep, EPOLL_CTL_DEL, c->fd(), nullptr);
    }
  }

  uint64_t est = 0;
  for (auto& c : conns) c->count(est, t.receiving);
  t.established = est;
  const double window_s = double(g_window_end - g_window_start) / kNsPerSec;
  const double eps = double(t.events) / window_s;
  const double tick_s = 1.0 / double(sysconf(_SC_CLK_TCK));
  const double sampled_s = double(at_end.at_ns - at_start.at_ns) / kNsPerSec;
  const bool have_server = at_start.server_ticks >= 0 && at_end.server_ticks >= 0 && sampled_s > 0;
  const double server_s = have_server ? double(at_end.server_ticks - at_start.server_ticks) * tick_s : 0.0;
  std::string other = "NA";
  if (at_start.machine_ticks >= 0 && sampled_s > 0)
    other = fmt_pct(std::max(0.0, 100.0 * (double(at_end.machine_ticks - at_start.machine_ticks) * tick_s - server_s -
                                           (at_end.self_s - at_start.self_s)) /
                                      sampled_s));
  std::printf("RESULT streams_requested=%d streams_established=%" PRIu64 " streams_receiving=%" PRIu64
              " events=%" PRIu64 " events_per_sec=%.0f bytes=%" PRIu64
              " p50_us=%s p99_us=%s p999_us=%s max_us=%s errors=%" PRIu64
              " window_s=%.3f server_cpu_pct=%s server_rss_before_kb=%s server_rss_start_kb=%s"
              " server_rss_end_kb=%s other_cpu_pct=%s connect_ms=%.1f connections=%d\n",
              cfg.streams, t.established, t.receiving, t.events, eps, t.bytes, fmt_us(hist, 0.50).c_str(),
              fmt_us(hist, 0.99).c_str(), fmt_us(hist, 0.999).c_str(), fmt_us(hist, 1.0).c_str(), t.errors(), window_s,
              have_server ? fmt_pct(100.0 * server_s / sampled_s).c_str() : "NA", fmt_opt(rss_before).c_str(),
              fmt_opt(at_start.server_rss_kb).c_str(), fmt_opt(at_end.server_rss_kb).c_str(), other.c_str(),
              double(heads_at - start) / 1e6, cfg.connections);
  std::printf("\nh2c %s: %d streams over %d connections: %" PRIu64 " established, %" PRIu64
              " receiving; %.0f events/s; latency p50 %s us p99 %s us; errors %" PRIu64 "\n",
              url.c_str(), cfg.streams, cfg.connections, t.established, t.receiving, eps, fmt_us(hist, 0.5).c_str(),
              fmt_us(hist, 0.99).c_str(), t.errors());
  return 0;
}
