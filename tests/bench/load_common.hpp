// load_common.hpp - what the benchmark load clients (sse_load.cpp, h2_load.cpp) share: the
// monotonic clock, a latency histogram, an incremental EventSource parser, and /proc samples of
// the server's CPU and memory.
#ifndef ASIO_SSE_BENCH_LOAD_COMMON_HPP
#define ASIO_SSE_BENCH_LOAD_COMMON_HPP

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace bench {

constexpr int64_t kNsPerSec = 1000000000;

inline int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}


// ---------------------------------------------------------------------------
// Latency histogram with fixed log-linear buckets (HdrHistogram-like).
// Values below 2^kSubBits get one bucket each; above that, every power of two
// is split into 2^kSubBits linear sub-buckets, so the relative error of a
// reported value is below 1/128.  Recording never allocates.
class Histogram {
 public:
  Histogram() : counts_(kBuckets, 0) {}

  void record(uint64_t v) {
    ++counts_[index(v)];
    ++total_;
    max_ = std::max(max_, v);
  }

  void merge(const Histogram& o) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }

  uint64_t count() const { return total_; }
  uint64_t max() const { return max_; }

  // "<upper bound> <count>" per non-empty bucket, ascending, then "max <v>".
  bool write(const char* path) const {
    FILE* f = std::fopen(path, "w");
    if (!f) return false;
    for (size_t i = 0; i < kBuckets; ++i)
      if (counts_[i]) std::fprintf(f, "%" PRIu64 " %" PRIu64 "\n", upper(i), counts_[i]);
    std::fprintf(f, "max %" PRIu64 "\n", max_);
    return std::fclose(f) == 0;
  }

  // Highest value equivalent to the bucket holding the q-quantile (q in (0,1]),
  // capped at the largest recorded value; 0 when empty.
  uint64_t quantile(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = uint64_t(std::ceil(q * double(total_)));
    rank = std::clamp<uint64_t>(rank, 1, total_);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(upper(i), max_);
    }
    return max_;
  }

 private:
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kSub = uint64_t(1) << kSubBits;
  // Groups 1..57 cover exponents 7..63; group 0 is the linear range.
  static constexpr size_t kBuckets = (64 - kSubBits + 1) * kSub;

  static size_t index(uint64_t v) {
    if (v < kSub) return size_t(v);
    const int e = 63 - __builtin_clzll(v);  // e >= kSubBits
    return size_t(e - kSubBits + 1) * kSub + size_t((v >> (e - kSubBits)) - kSub);
  }

  static uint64_t upper(size_t i) {
    if (i < kSub) return i;
    const int shift = int(i / kSub) - 1;
    const uint64_t m = i % kSub;
    // For the very last bucket the shift wraps to 0 and the result to
    // UINT64_MAX, which is that bucket's true upper bound (unsigned wrap).
    return ((kSub + m + 1) << shift) - 1;
  }

  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};


// ---------------------------------------------------------------------------
// Event-stream parser per the WHATWG HTML "server-sent events" section:
// lines end in CRLF, LF or CR; a blank line dispatches; lines starting with
// ':' are comments; the field name runs to the first ':' and a single space
// after it is stripped; `data` lines accumulate with LF separators.  Only the
// data buffer matters for this benchmark: `event`, `id` and `retry` never
// decide whether an event is dispatched, so they are recognised and dropped.
class SseParser {
 public:
  static constexpr size_t kMaxLine = 1 << 20;

  // Calls on_event(data, len) for every dispatched event; `now` is when the
  // bytes were received.  Returns false on an oversized line (a protocol error
  // for this benchmark).
  template <class OnEvent>
  bool feed(const char* p, size_t n, int64_t now, OnEvent&& on_event) {
    size_t i = 0;
    if (skip_lf_ && n > 0) {  // CR ended the previous feed; CRLF is one EOL
      if (p[0] == '\n') i = 1;
      skip_lf_ = false;
    }
    while (i < n) {
      size_t j = i;
      while (j < n && p[j] != '\n' && p[j] != '\r') ++j;
      if (j == n) {
        if (line_.size() + (n - i) > kMaxLine) return false;
        if (line_.empty()) line_began_ = now;
        line_.append(p + i, n - i);
        break;
      }
      if (line_.empty()) {
        process_line(p + i, j - i, now, on_event);
      } else {
        line_.append(p + i, j - i);
        process_line(line_.data(), line_.size(), line_began_, on_event);
        line_.clear();
      }
      i = j + 1;
      if (p[j] == '\r') {
        if (i < n) {
          if (p[i] == '\n') ++i;
        } else {
          skip_lf_ = true;
        }
      }
    }
    return true;
  }

  // When the first byte of the first `data` line arrived (-1: none yet).
  int64_t first_data_ns() const { return first_data_ns_; }

 private:
  // `began`: when the line's first byte arrived.
  template <class OnEvent>
  void process_line(const char* p, size_t n, int64_t began, OnEvent& on_event) {
    if (first_line_) {  // a leading UTF-8 BOM is not part of the stream
      first_line_ = false;
      if (n >= 3 && std::memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
        n -= 3;
      }
    }
    if (n == 0) {
      if (!data_.empty()) {
        data_.pop_back();  // the trailing LF added by the last data line
        on_event(data_.data(), data_.size());
        data_.clear();     // keeps capacity: no per-event allocation
      }
      return;
    }
    if (p[0] == ':') return;
    const char* colon = static_cast<const char*>(std::memchr(p, ':', n));
    const size_t name_len = colon ? size_t(colon - p) : n;
    if (name_len != 4 || std::memcmp(p, "data", 4) != 0) return;
    if (first_data_ns_ < 0) first_data_ns_ = began;
    const char* value = colon ? colon + 1 : p + n;
    if (value < p + n && *value == ' ') ++value;
    data_.append(value, size_t(p + n - value));
    data_.push_back('\n');
  }

  std::string line_;  // carry for a line split across reads
  int64_t line_began_ = 0;  // when line_'s first byte arrived
  int64_t first_data_ns_ = -1;
  std::string data_;
  bool skip_lf_ = false;
  bool first_line_ = true;
};

// Parses the leading decimal timestamp of an event's data.
inline bool parse_stamp(const char* p, size_t n, int64_t* out) {
  size_t i = 0;
  int64_t v = 0;
  while (i < n && p[i] >= '0' && p[i] <= '9') {
    if (i == 18) return false;  // 18 digits is ~31 years of uptime
    v = v * 10 + (p[i] - '0');
    ++i;
  }
  if (i == 0 || (i < n && p[i] != ' ')) return false;
  *out = v;
  return true;
}

bool iequals_prefix(const char* p, size_t n, const char* lit) {
  const size_t m = std::strlen(lit);
  if (n < m) return false;
  for (size_t i = 0; i < m; ++i)
    if (std::tolower(static_cast<unsigned char>(p[i])) != lit[i]) return false;
  return true;
}


// ---------------------------------------------------------------------------
// /proc sampling of the server under test (summed over a list of PIDs, e.g.
// nginx workers).  Returns -1 when a PID cannot be read.
inline int64_t proc_cpu_ticks(const std::vector<int>& pids) {
  int64_t total = 0;
  for (int pid : pids) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const size_t rp = s.rfind(')');
    if (rp == std::string::npos) return -1;
    std::istringstream in(s.substr(rp + 1));
    std::string tok;
    int64_t utime = 0, stime = 0;
    // Fields after "(comm)" start at field 3 (state); utime/stime are 14/15.
    for (int field = 3; field <= 15 && (in >> tok); ++field) {
      if (field == 14) utime = std::atoll(tok.c_str());
      if (field == 15) stime = std::atoll(tok.c_str());
    }
    total += utime + stime;
  }
  return total;
}

inline int64_t proc_rss_kb(const std::vector<int>& pids) {
  int64_t total = 0;
  for (int pid : pids) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    bool found = false;
    while (std::getline(f, line)) {
      if (line.compare(0, 6, "VmRSS:") == 0) {
        total += std::atoll(line.c_str() + 6);
        found = true;
        break;
      }
    }
    if (!found) return -1;
  }
  return total;
}

// CPU time the whole machine spent in user and system mode (all CPUs, in
// clock ticks; irq/softirq excluded), and this process's own CPU time.
// Their difference minus the server's shows other work skewing a run.
inline int64_t machine_busy_ticks() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  int64_t user = 0, nice = 0, system = 0;
  if (!(f >> cpu >> user >> nice >> system) || cpu != "cpu") return -1;
  return user + nice + system;
}

inline double self_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct CpuSample {
  int64_t at_ns = 0;          // when taken; shares use the real interval
  int64_t server_ticks = -1;  // -1: not sampled or server unreadable
  int64_t server_rss_kb = -1;
  int64_t machine_ticks = -1;
  double self_s = 0;

  static CpuSample take(const std::vector<int>& pids) {
    CpuSample s;
    s.at_ns = now_ns();
    if (!pids.empty()) {
      s.server_ticks = proc_cpu_ticks(pids);
      s.server_rss_kb = proc_rss_kb(pids);
    }
    s.machine_ticks = machine_busy_ticks();
    s.self_s = self_cpu_s();
    return s;
  }
};


// Latency in microseconds; "NA" when no event was measured.
inline std::string fmt_us(const Histogram& h, double q) {
  if (h.count() == 0) return "NA";
  const uint64_t ns = q >= 1.0 ? h.max() : h.quantile(q);
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", double(ns) / 1000.0);
  return b;
}

inline std::string fmt_opt(int64_t v) { return v < 0 ? "NA" : std::to_string(v); }

inline std::string fmt_pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

// Accepts http://IPV4[:PORT]/path (or "localhost"); no DNS on purpose. Returns what is wrong, or null.
inline const char* parse_http_url(const std::string& url, sockaddr_in* addr, std::string* host, std::string* path) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) return "only http:// URLs are supported";
  const size_t slash = url.find('/', scheme.size());
  const std::string authority = url.substr(scheme.size(), slash - scheme.size());
  *path = slash == std::string::npos ? "/" : url.substr(slash);
  *host = authority;
  std::string ip = authority;
  int port = 80;
  const size_t colon = authority.rfind(':');
  if (colon != std::string::npos) {
    ip = authority.substr(0, colon);
    port = std::atoi(authority.c_str() + colon + 1);
  }
  if (ip == "localhost") ip = "127.0.0.1";
  *addr = sockaddr_in{};
  addr->sin_family = AF_INET;
  addr->sin_port = htons(uint16_t(port));
  if (port <= 0 || port > 65535 || inet_pton(AF_INET, ip.c_str(), &addr->sin_addr) != 1)
    return "URL host must be an IPv4 address (or localhost) with a valid port";
  return nullptr;
}

}  // namespace bench

#endif
