// queue_bench: what stalled clients cost a server built on asio-sse's public API.
//
//   queue-bench memory  --stalled N --payload B --policy disconnect|drop_oldest [--bound BYTES]
//       N clients that never read subscribe to one channel beside one healthy reader; the
//       channel publishes as fast as the healthy reader keeps up until every stalled stream is
//       at its bound (disconnect: until all are disconnected), then as much again. Prints the
//       peak RSS growth per stalled stream against the bound.
//   queue-bench publish --stalled N [--payload B] [--publishes M]
//       drop_oldest; N stalled streams brought to their bound, one healthy reader; prints the
//       mean time inside one publish() over M publishes, and the same with N + 1 healthy
//       readers (as many subscribers, none stalled), in the same run.
//
// Loopback only; every socket is closed and the io thread joined before it exits.
#include <sse/sse.hpp>

#include <asio/io_context.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

long long now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count();
}

std::size_t rss_bytes()
{
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

int connect_to(unsigned short port, int rcvbuf)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket");
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
    const char req[] = "GET /events HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n";
    if (::send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != long(sizeof req - 1)) throw std::runtime_error("send");
    return fd;
}

// Streams as the route hands them out.
struct inbox {
    std::mutex m;
    std::condition_variable cv;
    std::vector<sse::stream_ptr> got;
    sse::stream_ptr next()
    {
        std::unique_lock<std::mutex> l(m);
        if (!cv.wait_for(l, std::chrono::seconds(10), [&] { return !got.empty(); }))
            throw std::runtime_error("no stream");
        auto s = got.front();
        got.erase(got.begin());
        return s;
    }
};

// The healthy readers: count "\n\n" (one per event) on each socket, on one thread.
struct reader {
    std::vector<int> fds;
    std::vector<long> counts;
    std::vector<char> prev;
    std::atomic<long> least{0}; // the fewest events any of them has had
    std::string line;             // the first reader's partial line
    std::vector<double> latency_us; // the first reader's, from the stamp in each event's data
    std::atomic<bool> stop{false};
    std::thread t;
    explicit reader(std::vector<int> f) : fds(std::move(f)), counts(fds.size()), prev(fds.size()), t([this] { run(); }) {}
    void run()
    {
        std::vector<pollfd> p;
        for (int fd : fds) p.push_back({fd, POLLIN, 0});
        char buf[65536];
        while (!stop) {
            if (::poll(p.data(), p.size(), 50) <= 0) continue;
            for (std::size_t j = 0; j < p.size(); ++j) {
                if (!(p[j].revents & POLLIN)) continue;
                const auto n = ::recv(fds[j], buf, sizeof buf, 0);
                if (n <= 0) return;
                for (long i = 0; i < n; ++i) {
                    if (buf[i] == '\n' && prev[j] == '\n') ++counts[j];
                    prev[j] = buf[i];
                    if (j == 0) stamp(buf[i]);
                }
            }
            least = *std::min_element(counts.begin(), counts.end());
        }
    }
    // The first reader: "data: <ns> ..." lines give the event's latency.
    void stamp(char c)
    {
        if (c != '\n') {
            line += c;
            return;
        }
        if (line.compare(0, 6, "data: ") == 0) {
            const long long sent = std::atoll(line.c_str() + 6);
            if (sent > 0) latency_us.push_back(double(now_ns() - sent) / 1000.0);
        }
        line.clear();
    }
    void wait_for(long n) const
    {
        const auto deadline = clock_type::now() + std::chrono::seconds(30);
        while (least < n) {
            if (clock_type::now() > deadline) throw std::runtime_error("a healthy reader fell behind");
            std::this_thread::yield();
        }
    }
    void halt()
    {
        stop = true;
        if (t.joinable()) t.join();
    }
    ~reader()
    {
        halt();
        for (int fd : fds) ::close(fd);
    }
};

struct setup {
    asio::io_context io;
    sse::server srv;
    sse::channel ch;
    inbox box;
    std::thread thread;
    std::vector<int> stalled_fds;
    std::vector<sse::stream_ptr> stalled;
    std::unique_ptr<reader> healthy;
    long published = 0;
    double publish_us = 0; // time spent inside publish() calls
    bool stamped = false;  // data starts with the publish time (for the first reader's latency)

    setup(const sse::server_options& o, int n_stalled, int n_healthy = 1) : srv(io, o)
    {
        srv.on_stream("/events", [this](sse::stream_ptr s) {
            ch.subscribe(s);
            std::lock_guard<std::mutex> l(box.m);
            box.got.push_back(s);
            box.cv.notify_all();
        });
        srv.listen("127.0.0.1", 0);
        srv.start();
        thread = std::thread([this] { io.run(); });
        const auto port = srv.local_endpoint().port();
        std::vector<int> fds;
        for (int i = 0; i < n_healthy; ++i) {
            fds.push_back(connect_to(port, 0));
            box.next();
        }
        healthy = std::make_unique<reader>(std::move(fds));
        for (int i = 0; i < n_stalled; ++i) {
            stalled_fds.push_back(connect_to(port, 4096));
            stalled.push_back(box.next());
        }
    }

    // Publishes `count` events in batches the healthy reader keeps up with.
    void publish(long count, const std::string& data, long batch, std::size_t* peak_rss)
    {
        for (long done = 0; done < count;) {
            const long n = std::min(batch, count - done);
            const auto start = clock_type::now();
            for (long i = 0; i < n; ++i) ch.publish(sse::event(stamped ? std::to_string(now_ns()) + " " + data : data));
            publish_us += std::chrono::duration<double, std::micro>(clock_type::now() - start).count();
            done += n;
            published += n;
            if (peak_rss) *peak_rss = std::max(*peak_rss, rss_bytes());
            healthy->wait_for(published);
        }
    }

    bool all_full(std::size_t bound, std::size_t payload) const
    {
        for (auto& s : stalled)
            if (s->is_open() && s->queued_bytes() + payload + 256 < bound) return false;
        return true;
    }

    ~setup()
    {
        healthy.reset();
        for (int fd : stalled_fds) ::close(fd);
        stalled.clear();
        srv.stop();
        thread.join();
    }
};

long arg(int argc, char** argv, const char* name, long def)
{
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return std::atol(argv[i + 1]);
    return def;
}

std::string sarg(int argc, char** argv, const char* name, const char* def)
{
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

int memory(int argc, char** argv)
{
    const int n = int(arg(argc, argv, "--stalled", 500));
    const std::size_t payload = std::size_t(arg(argc, argv, "--payload", 7));
    const std::string policy = sarg(argc, argv, "--policy", "disconnect");
    sse::server_options o;
    o.max_queue_bytes = std::size_t(arg(argc, argv, "--bound", 256 * 1024));
    o.overflow = policy == "drop_oldest" ? sse::overflow_policy::drop_oldest : sse::overflow_policy::disconnect;
    o.max_connections_per_client = 0;
    o.connection_rate_per_client = 0;
    setup s(o, n);
    const std::string data(payload > 0 ? payload - 1 : 0, 'p');
    const std::size_t base = rss_bytes();
    std::size_t peak = base;
    const long batch = std::max<long>(1, std::min<long>(256, long(o.max_queue_bytes / (payload + 160)) / 4));
    long extra = -1;
    const auto start = clock_type::now();
    while (s.published < 20'000'000) {
        s.publish(batch * 16, data, batch, &peak);
        const bool done = o.overflow == sse::overflow_policy::disconnect ? s.srv.stats().slow_disconnects == std::uint64_t(n)
                                                                         : s.all_full(o.max_queue_bytes, payload);
        if (extra < 0 && done) extra = s.published;
        if (extra >= 0 && s.published >= 2 * extra) break;
    }
    const double per = double(peak - base) / n;
    std::printf("RESULT mode=memory policy=%s payload=%zu stalled=%d bound=%zu published=%ld peak_rss_per_stalled=%.0f "
                "ratio=%.2f slow_disconnects=%llu dropped=%llu healthy_events=%ld seconds=%.1f\n",
                policy.c_str(), payload, n, o.max_queue_bytes, s.published, per, per / double(o.max_queue_bytes),
                static_cast<unsigned long long>(s.srv.stats().slow_disconnects),
                static_cast<unsigned long long>(s.srv.stats().events_dropped), s.healthy->least.load(),
                std::chrono::duration<double>(clock_type::now() - start).count());
    return 0;
}

struct cost {
    double us_per_publish, p50_us, p99_us;
};

// Mean microseconds per publish to `n` stalled streams at their bound and `healthy` readers,
// and the first healthy reader's latency.
cost publish_cost(int n, int healthy, std::size_t payload, long publishes)
{
    sse::server_options o;
    o.overflow = sse::overflow_policy::drop_oldest;
    o.max_connections_per_client = 0;
    o.connection_rate_per_client = 0;
    setup s(o, n, healthy);
    const std::string data(payload - 1, 'p');
    while (n > 0 && !s.all_full(o.max_queue_bytes, payload)) s.publish(4096, data, 64, nullptr);
    s.publish_us = 0;
    s.stamped = true;
    s.publish(publishes, data, 16, nullptr); // the time inside publish() only, not the reader's
    s.healthy->halt();
    auto& l = s.healthy->latency_us;
    std::sort(l.begin(), l.end());
    const auto at = [&](double q) { return l.empty() ? 0.0 : l[std::min(l.size() - 1, std::size_t(q * double(l.size())))]; };
    return {s.publish_us / double(publishes), at(0.5), at(0.99)};
}

int publish(int argc, char** argv)
{
    const int n = int(arg(argc, argv, "--stalled", 100));
    const std::size_t payload = std::size_t(arg(argc, argv, "--payload", 28));
    const long m = arg(argc, argv, "--publishes", 20000);
    const cost with = publish_cost(n, 1, payload, m);
    const cost without = publish_cost(0, n + 1, payload, m); // as many subscribers, all reading
    std::printf("RESULT mode=publish payload=%zu stalled=%d us_per_publish=%.2f us_per_publish_none_stalled=%.2f ratio=%.2f "
                "healthy_p50_us=%.1f healthy_p99_us=%.1f none_stalled_p50_us=%.1f none_stalled_p99_us=%.1f\n",
                payload, n, with.us_per_publish, without.us_per_publish, with.us_per_publish / without.us_per_publish,
                with.p50_us, with.p99_us, without.p50_us, without.p99_us);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    const std::string mode = argc > 1 ? argv[1] : "";
    try {
        if (mode == "memory") return memory(argc, argv);
        if (mode == "publish") return publish(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "queue-bench: %s\n", e.what());
        return 1;
    }
    std::fprintf(stderr, "usage: queue-bench memory|publish [--stalled N] [--payload B] [--policy P] [--bound B] [--publishes M]\n");
    return 2;
}
