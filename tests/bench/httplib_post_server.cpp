// The cpp-httplib peer of run.sh, written the way cpp-httplib documents streaming: a handler that
// sets a chunked content provider, which cpp-httplib calls again and again on the connection's
// pool thread, each call writing what is there (and waiting for it in between).
//
//   httplib-post-server [--port P] [--path /events] [--rate R] [--payload B] [--ticker-ms T]
//                       [--max-seconds S] [--catch-up-ms C]
//                       [--post-path /chat] [--tokens N] [--token-ms M] [--pool T] [--tcp-nodelay 1]
//
// GET --path (default /events), the fan-out scenarios: node_server.js's stream (peer_common.hpp):
// `:ok` right after the head, then `id: N\ndata: <ns> <padding>` events. With --rate R a
// publisher thread ticks every millisecond and publishes by the benchmark's rule (tick_rule.hpp,
// --catch-up-ms C, default 5) to a condition-variable dispatcher, as cpp-httplib's example/sse.cc
// does, but without its lost wakeups: the dispatcher numbers its events and keeps the last 4096,
// and each stream's provider remembers the number of the next event it owes its client and waits
// until the publisher is past it, so what was published while the provider was writing is written
// on its next call (a stream that falls more than 4096 events behind skips the oldest, counted as
// `missed`). A provider writes everything it has in one chunk. With --ticker-ms T every stream's
// provider sleeps until its own next tick instead, one event every T ms from its start.
//
// POST --post-path (default /chat), the post scenario: a body such as {"tokens":500} gets
// `data: token 1` at once, then one `data: token <k>` every M ms (default 20), then
// `data: [DONE]`, and the response ends. A body without a "tokens" number gets --tokens (default
// 50). Tokens are due at fixed times from the stream's start (sleep_until), so a late wakeup does
// not make the stream drift, as sse::stream::every does not. (GET and POST may share a path.)
//
// Every stream holds one thread of the server's task queue for its whole life: --pool T gives the
// queue T threads (`svr.new_task_queue`, as llama.cpp's server does); without it the queue is
// cpp-httplib's default (CPPHTTPLIB_THREAD_POOL_COUNT: max(8, cores - 1) threads), and requests
// beyond that wait for a thread. --tcp-nodelay 1 (the default) sets TCP_NODELAY on accepted
// sockets, as asio-sse does; 0 keeps cpp-httplib's default (Nagle on).
//
// Prints the bound port on stdout (--port 0, the default: any free one), like the other bench
// servers. On SIGINT or SIGTERM (or after --max-seconds) it prints its counters to stderr
// (`published ... slipped ... streams ... max_streams ...`, peer_common.hpp, then `missed`,
// `post_streams`, `post_completed`, `tokens_written`) and exits at once: Server::stop() would
// wait for every queued connection's stream to run to its end.
#include <httplib.h>

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "peer_common.hpp"
#include "tick_rule.hpp"

namespace {

struct settings {
    bench::peer_options peer;
    std::string post_path = "/chat";
    long long tokens = 50;
    int token_ms = 20;
    int pool = 0; // 0: cpp-httplib's default task queue
    bool tcp_nodelay = true;
};

settings parse(int argc, char** argv)
{
    settings s;
    s.peer = bench::parse_peer_options(argc, argv, "httplib-post-server",
                                       "[--post-path /chat] [--tokens N] [--token-ms M] [--pool T] [--tcp-nodelay 0|1]",
                                       [&s](std::string_view k, const std::string& v) {
                                           if (k == "--post-path") s.post_path = v;
                                           else if (k == "--tokens") s.tokens = std::stoll(v);
                                           else if (k == "--token-ms") s.token_ms = std::stoi(v);
                                           else if (k == "--pool") s.pool = std::stoi(v);
                                           else if (k == "--tcp-nodelay") s.tcp_nodelay = std::stoi(v) != 0;
                                           else return false;
                                           if (s.tokens < 1 || s.token_ms < 1 || s.pool < 0) throw std::invalid_argument(v);
                                           return true;
                                       });
    return s;
}

// The number after `"tokens"` and a colon in a JSON-ish body such as {"tokens":500}; `fallback`
// when there is none (the same scan as sse-bench-server's).
long long tokens_in(std::string_view body, long long fallback)
{
    const auto key = body.find("\"tokens\"");
    if (key == std::string_view::npos) return fallback;
    auto i = body.find_first_not_of(" \t\r\n", key + 8);
    if (i == std::string_view::npos || body[i] != ':') return fallback;
    i = body.find_first_not_of(" \t\r\n", i + 1);
    if (i == std::string_view::npos) return fallback;
    long long n = 0;
    const auto [end, ec] = std::from_chars(body.data() + i, body.data() + body.size(), n);
    if (ec != std::errc() || end == body.data() + i || n < 1) return fallback;
    return std::min(n, 10'000'000LL);
}

bench::peer_counters g_counters;
std::atomic<long long> g_missed{0}, g_post_streams{0}, g_post_completed{0}, g_tokens{0};

// The publisher's events, numbered from 0, the last `history` of them kept. The publisher appends
// a tick's events and notifies every waiting provider; a provider asks for the events from its own
// next number on, so none is lost between its waits.
class dispatcher {
public:
    explicit dispatcher(std::size_t history) : history_(history) {}

    /// Appends one tick's events (numbered on from the last) and wakes the providers.
    void publish(std::vector<std::shared_ptr<const std::string>> events)
    {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            for (auto& e : events) ring_.push_back(std::move(e));
            end_ += static_cast<long long>(events.size());
            while (ring_.size() > history_) ring_.pop_front();
        }
        cv_.notify_all();
    }

    /// The number the next event will get: where a new stream starts.
    long long end() const
    {
        std::lock_guard<std::mutex> lock(mutex_);
        return end_;
    }

    /// Waits at most `timeout` for events numbered `next` and on; appends them all to `out` and
    /// moves `next` past them. Returns how many of them were no longer kept (skipped).
    long long take(long long& next, std::chrono::milliseconds timeout, std::string& out)
    {
        std::vector<std::shared_ptr<const std::string>> got;
        long long skipped = 0;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            if (!cv_.wait_for(lock, timeout, [&] { return end_ > next; })) return 0;
            const long long first = end_ - static_cast<long long>(ring_.size());
            if (next < first) {
                skipped = first - next;
                next = first;
            }
            got.assign(ring_.begin() + (next - first), ring_.end());
            next = end_;
        }
        for (const auto& e : got) out += *e; // copied outside the lock
        return skipped;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<const std::string>> ring_;
    long long end_ = 0; // the number of the next event; ring_ holds [end_ - size, end_)
    std::size_t history_;
};

// Ticks every millisecond (1 ms after the previous tick, as an Asio timer re-armed with
// expires_after would) and publishes what the rule says is due; never returns.
[[noreturn]] void publish_forever(dispatcher& d, const bench::peer_options& o)
{
    bench::tick_rule rule(o.rate, std::chrono::milliseconds(o.catch_up_ms));
    long long id = 0;
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        const auto step = rule.at(std::chrono::steady_clock::now());
        g_counters.slipped = rule.slipped();
        if (step.send == 0) continue;
        std::vector<std::shared_ptr<const std::string>> events;
        events.reserve(static_cast<std::size_t>(step.send));
        for (long long k = 0; k < step.send; ++k)
            events.push_back(std::make_shared<const std::string>(bench::event_text(id++, o.payload)));
        d.publish(std::move(events));
        g_counters.published += step.send;
    }
}

// One GET stream's state, kept by its content provider between calls.
struct fanout_stream {
    bool greeted = false;
    long long next = 0; // broadcast: the number of the next event owed to the client
    long long ticks = 0; // ticker: events sent
    std::chrono::steady_clock::time_point start;
};

// One POST stream's progress, kept by its content provider between calls.
struct progress {
    long long total = 0, sent = 0;
    std::chrono::steady_clock::time_point start;
};

} // namespace

int main(int argc, char** argv)
{
    const settings cfg = parse(argc, argv);
    const bench::peer_options& o = cfg.peer;

    // SIGINT/SIGTERM are taken by one thread with sigtimedwait(), which also ends the run after
    // --max-seconds; every thread started later (cpp-httplib's pool) inherits the mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    std::thread([stop_signals, max = o.max_seconds] {
        const timespec limit{max, 0};
        sigtimedwait(&stop_signals, nullptr, &limit); // a signal, or the time is up
        std::fprintf(stderr, "%s missed %lld post_streams %lld post_completed %lld tokens_written %lld\n",
                     g_counters.line().c_str(), g_missed.load(), g_post_streams.load(), g_post_completed.load(),
                     g_tokens.load());
        std::_Exit(0);
    }).detach();

    dispatcher events(4096);
    if (o.rate > 0 && o.ticker_ms <= 0) std::thread([&events, &o] { publish_forever(events, o); }).detach();

    httplib::Server svr;
    if (cfg.pool > 0) {
        const auto threads = static_cast<size_t>(cfg.pool);
        svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    }
    svr.set_tcp_nodelay(cfg.tcp_nodelay);

    svr.Get(o.path, [&o, &events](const httplib::Request&, httplib::Response& res) {
        g_counters.opened();
        auto st = std::make_shared<fanout_stream>();
        res.set_header("Cache-Control", "no-cache");
        const auto period = std::chrono::milliseconds(o.ticker_ms);
        res.set_chunked_content_provider(
            "text/event-stream",
            [st, period, &o, &events](size_t, httplib::DataSink& sink) {
                if (!st->greeted) { // the first call comes right after the head
                    st->greeted = true;
                    st->next = events.end();
                    st->start = std::chrono::steady_clock::now();
                    return sink.write(bench::hello.data(), bench::hello.size());
                }
                if (o.ticker_ms > 0) {
                    std::this_thread::sleep_until(st->start + (st->ticks + 1) * period);
                    const std::string e = bench::event_text(st->ticks++, o.payload);
                    return sink.write(e.data(), e.size());
                }
                std::string batch;
                g_missed += events.take(st->next, std::chrono::milliseconds(1000), batch);
                if (batch.empty()) return true; // nothing for a second: cpp-httplib calls again
                return sink.write(batch.data(), batch.size());
            },
            [](bool) { g_counters.closed(); });
    });

    const auto period = std::chrono::milliseconds(cfg.token_ms);
    svr.Post(cfg.post_path, [&cfg, period](const httplib::Request& req, httplib::Response& res) {
        auto p = std::make_shared<progress>();
        p->total = tokens_in(req.body, cfg.tokens);
        p->start = std::chrono::steady_clock::now();
        ++g_post_streams;
        res.set_header("Cache-Control", "no-cache");
        res.set_chunked_content_provider("text/event-stream", [p, period](size_t, httplib::DataSink& sink) {
            if (p->sent < p->total) {
                if (p->sent > 0) std::this_thread::sleep_until(p->start + p->sent * period); // "inference"
                const std::string e = "data: token " + std::to_string(++p->sent) + "\n\n";
                if (!sink.write(e.data(), e.size())) return false; // the client went away
                ++g_tokens;
                return true;
            }
            static const std::string done = "data: [DONE]\n\n";
            if (!sink.write(done.data(), done.size())) return false;
            sink.done();
            ++g_post_completed;
            return true;
        });
    });

    const int port = o.port == 0 ? svr.bind_to_any_port("127.0.0.1") : (svr.bind_to_port("127.0.0.1", o.port) ? o.port : -1);
    if (port < 0) {
        std::cerr << "httplib-post-server: cannot listen on 127.0.0.1:" << o.port << "\n";
        return 1;
    }
    std::cout << port << std::endl;
    svr.listen_after_bind();
    return 0;
}
