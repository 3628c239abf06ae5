// The asio-sse side of the benchmark: an SSE server publishing R events/s of B bytes to every
// stream through a channel (or, with --ticker-ms, each stream running its own timer, the
// demo's pattern). Every event's data starts with CLOCK_MONOTONIC nanoseconds, for latency.
//
//   sse-bench-server --port P [--path /events] [--rate R] [--payload B] [--ticker-ms T] [--threads K]
//                    [--catch-up-ms C] [--flush-delay-us W] [--redis-port RP [--redis-host H]]
//                    [--post-path /chat] [--tokens N] [--token-ms M]
//                    [--tls-cert CERT --tls-key KEY [--tls-keylog 1]]
//
// The publisher ticks every millisecond and publishes what fell due since its last tick; a
// late tick catches up at most C ms of events (default 5), the rest slips. On exit the server
// prints its counters (published, slipped, sent, dropped, disconnected) to stderr.
// --flush-delay-us W sets server_options::flush_delay (the coalescing window; default 0).
// --http2 1 also serves HTTP/2 (cleartext h2c, prior knowledge; needs asio-sse::http2 at build
// time), with up to 1,000 streams per connection.
// --tls-cert CERT --tls-key KEY serve HTTPS instead (`sse::tls_server`, make_tls_context; needs
// asio-sse::tls, OpenSSL, at build time): over TLS 1.3 each stream then seals its own records.
// --tls-keylog 1 gives the context a key-log callback of its own (it logs nothing), with which
// the streams keep OpenSSL's record layer: the two ways compared in one run.
//
// With --redis-port the channel is a `sse::redis_channel` named "bench" on the Redis at H:RP
// (default host 127.0.0.1), with the same channel options: every node given the same Redis
// delivers what any of them publishes, and --rate is this node's share of the publishes. The
// counters then also say what this node received from Redis and fanned out (delivered), which
// of its publishes failed (publish_failed; those still outstanding at exit fail too), how often
// it found events missing from the log (lost) and how often it read the log (fetches). This
// needs the asio-sse::redis target (hiredis) at build time (ASIO_SSE_BENCH_REDIS); without it
// --redis-port is refused.
//
// It also serves POST streams, a chat model's shape (run.sh's post scenario): a POST to
// --post-path (default /chat) with a body such as {"tokens":500} opens a stream that sends
// `token 1` at once, then one `token <k>` every M ms (--token-ms, default 20) from the stream's
// own timer, then `[DONE]`, and closes. A body without a "tokens" number gets --tokens (default
// 50). Those streams are counted too (post_streams, post_completed on the counters' line).
#include <sse/sse.hpp>
#ifdef ASIO_SSE_BENCH_REDIS
#include <sse/redis.hpp>
#endif
#ifdef ASIO_SSE_BENCH_HTTP2
#include <sse/http2.hpp>
#endif
#ifdef ASIO_SSE_BENCH_TLS
#include <sse/tls.hpp>
#endif

#include <asio/signal_set.hpp>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fd_limit.hpp"
#include "tick_rule.hpp"

namespace {

struct settings {
    unsigned short port = 0;
    std::string path = "/events";
    int rate = 0, payload = 64, ticker_ms = 0, threads = 1, catch_up_ms = 5;
    std::string redis_host = "127.0.0.1";
    int redis_port = 0; // 0: a local sse::channel
    std::string post_path = "/chat";
    long long tokens = 50;
    int token_ms = 20;
    long long flush_delay_us = 0;
    bool http2 = false;
    std::string tls_cert, tls_key;
    bool tls_keylog = false;
};

settings parse(int argc, char** argv)
{
    settings s;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view k = argv[i];
        const std::string v = argv[i + 1];
        if (k == "--port") s.port = static_cast<unsigned short>(std::stoi(v));
        else if (k == "--path") s.path = v;
        else if (k == "--rate") s.rate = std::stoi(v);
        else if (k == "--payload") s.payload = std::stoi(v);
        else if (k == "--ticker-ms") s.ticker_ms = std::stoi(v);
        else if (k == "--threads") s.threads = std::stoi(v);
        else if (k == "--catch-up-ms") s.catch_up_ms = std::stoi(v);
        else if (k == "--redis-host") s.redis_host = v;
        else if (k == "--redis-port") s.redis_port = std::stoi(v);
        else if (k == "--post-path") s.post_path = v;
        else if (k == "--tokens") s.tokens = std::stoll(v);
        else if (k == "--token-ms") s.token_ms = std::stoi(v);
        else if (k == "--flush-delay-us") s.flush_delay_us = std::stoll(v);
        else if (k == "--http2") s.http2 = v == "1";
        else if (k == "--tls-cert") s.tls_cert = v;
        else if (k == "--tls-key") s.tls_key = v;
        else if (k == "--tls-keylog") s.tls_keylog = v == "1";
        else {
            std::cerr << "unknown flag " << k << "\n";
            std::exit(2);
        }
    }
    if (s.redis_port < 0 || s.redis_port > 65535) {
        std::cerr << "--redis-port must be in 1..65535\n";
        std::exit(2);
    }
#ifndef ASIO_SSE_BENCH_HTTP2
    if (s.http2) {
        std::cerr << "--http2 needs a build with nghttp2 (asio-sse::http2)\n";
        std::exit(2);
    }
#endif
    if (s.tls_cert.empty() != s.tls_key.empty() || (s.tls_keylog && s.tls_cert.empty())) {
        std::cerr << "--tls-cert and --tls-key go together (and --tls-keylog with them)\n";
        std::exit(2);
    }
#ifndef ASIO_SSE_BENCH_TLS
    if (!s.tls_cert.empty()) {
        std::cerr << "--tls-cert needs a build with OpenSSL (asio-sse::tls)\n";
        std::exit(2);
    }
#endif
    if (s.tokens < 1 || s.token_ms < 1 || s.post_path == s.path) {
        std::cerr << "--tokens and --token-ms must be positive, --post-path other than --path\n";
        std::exit(2);
    }
    return s;
}

// `<monotonic ns> <padding>`, `size` bytes in all (more if the number does not fit).
std::string payload(std::size_t size)
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits,
                                   static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec).ptr;
    const auto n = static_cast<std::size_t>(end - digits);
    std::string s(std::max(size, n + 1), 'x');
    std::memcpy(s.data(), digits, n);
    s[n] = ' ';
    return s;
}

// Publishes to `Channel` (sse::channel or sse::redis_channel) from a 1 ms timer on the io_context,
// by the benchmark's rule (tick_rule.hpp): each tick publishes the events that fell due at the
// rate since the previous one; when the loop was too busy to tick on time it catches up at most
// the rule's catch-up (the rest slips and is counted, as a late setInterval would), so every
// stream's queue gains a bounded batch per tick. Ends when `stopped` is set (a flag, not
// cancel(): a wait that already expired completes with success even after cancel()).
template <class Channel>
struct publisher {
    asio::steady_timer timer;
    const std::atomic<bool>& stopped;
    Channel& ch;
    int size;
    bench::tick_rule rule;

    void run()
    {
        timer.expires_after(std::chrono::milliseconds(1));
        timer.async_wait([this](std::error_code ec) {
            if (ec || stopped) return;
            const auto step = rule.at(std::chrono::steady_clock::now());
            for (long long k = 0; k < step.send; ++k) ch.publish(sse::event(payload(static_cast<std::size_t>(size))));
            run();
        });
    }
};

// The number after `"tokens"` and a colon in a JSON-ish body such as {"tokens":500}; `fallback`
// when there is none (no JSON library: the benchmark's body is that small).
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

struct post_counters {
    std::atomic<long long> streams{0}, completed{0};
};

// POST `path`: `token 1` at once (time to first event measures the server's path, not the
// interval), then one token per `period` from the stream's own timer, `[DONE]`, close.
template <class Server>
void serve_posts(Server& server, const settings& cfg, post_counters& counters)
{
    sse::route_options ro;
    ro.methods = {"POST"};
    const auto period = std::chrono::milliseconds(cfg.token_ms);
    server.on_stream(
        cfg.post_path,
        [period, fallback = cfg.tokens, &counters](sse::stream_ptr s) {
            const long long total = tokens_in(s->request().body(), fallback);
            ++counters.streams;
            s->send(sse::event("token 1"));
            auto sent = std::make_shared<long long>(1);
            const auto finish = [raw = s.get(), &counters] {
                raw->send(sse::event("[DONE]"));
                raw->close(); // what is queued goes first
                ++counters.completed;
            };
            if (total == 1) return finish();
            s->every(period, [raw = s.get(), sent, total, finish] {
                if (*sent >= total) return; // closing: the timer ends with the stream
                raw->send(sse::event("token " + std::to_string(++*sent)));
                if (*sent == total) finish();
            });
        },
        ro);
}

// The counters only a Redis channel has (none for a local one).
std::string extra_counters(const sse::channel_stats&) { return {}; }

#ifdef ASIO_SSE_BENCH_REDIS
std::string extra_counters(const sse::redis_channel_stats& c)
{
    return " delivered " + std::to_string(c.delivered) + " publish_failed " + std::to_string(c.publish_failed) + " lost " +
           std::to_string(c.lost) + " fetches " + std::to_string(c.fetches);
}
#endif

// Serves `cfg.path` from `ch` until SIGINT or SIGTERM (then `on_stop` runs too), and prints the
// counters. The same for both channel kinds.
#ifdef ASIO_SSE_BENCH_HTTP2
sse::http2_options http2_limits()
{
    sse::http2_options o;
    o.max_concurrent_streams = 1000;
    return o;
}
#endif

template <class Server, class Channel>
void serve(const settings& cfg, asio::io_context& io, Server& server, Channel& ch, const std::function<void()>& on_stop)
{
    if (cfg.ticker_ms > 0) {
        const auto period = std::chrono::milliseconds(cfg.ticker_ms);
        server.on_stream(cfg.path, [period, size = cfg.payload](sse::stream_ptr s) {
            auto n = std::make_shared<long long>(0);
            s->every(period, [raw = s.get(), n, size] {
                raw->send(sse::event(payload(static_cast<std::size_t>(size))).id(std::to_string(++*n)));
            });
        });
    } else {
        server.on_stream(cfg.path, [ch](sse::stream_ptr s) mutable { ch.subscribe(s); });
    }
    post_counters posts;
    serve_posts(server, cfg, posts);
#ifdef ASIO_SSE_BENCH_HTTP2
    if (cfg.http2) sse::enable_http2(server, http2_limits());
#endif
    server.listen("127.0.0.1", cfg.port);
    server.start();

    std::atomic<bool> stopped{false};
    publisher<Channel> pub{asio::steady_timer(io), stopped, ch, cfg.payload,
                          bench::tick_rule(cfg.rate, std::chrono::milliseconds(cfg.catch_up_ms))};
    if (cfg.rate > 0 && cfg.ticker_ms <= 0) pub.run();
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) {
        stopped = true; // the publisher's next tick ends it
        server.stop();
        if (on_stop) on_stop();
    });
    std::cout << server.local_endpoint().port() << std::endl;

    std::vector<std::thread> pool;
    for (int i = 1; i < cfg.threads; ++i) pool.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : pool) t.join();
    // what the run cost, for the log beside the results
    const auto st = server.stats();
    const auto cs = ch.stats();
    std::cerr << "published " << cs.published << " slipped " << pub.rule.slipped() << " events_sent " << st.events_sent
              << " dropped " << st.events_dropped << " slow_disconnects " << st.slow_disconnects << " write_timeouts "
              << st.write_timeouts << extra_counters(cs) << " post_streams " << posts.streams << " post_completed "
              << posts.completed << "\n";
}

} // namespace

int main(int argc, char** argv)
{
    bench::raise_fd_limit("sse-bench-server", 1 << 20); // a descriptor per stream: 100,000 streams and more
    const settings cfg = parse(argc, argv);
#ifndef ASIO_SSE_BENCH_REDIS
    if (cfg.redis_port != 0) {
        std::cerr << "sse-bench-server: --redis-port needs the asio-sse::redis target (hiredis), which this build "
                     "lacks; install hiredis (e.g. libhiredis-dev) and configure again\n";
        return 2;
    }
#endif
    asio::io_context io(cfg.threads);
    sse::server_options o;
    o.max_queue_bytes = 1 << 20;
    o.flush_delay = std::chrono::microseconds(cfg.flush_delay_us);
    o.max_connections_per_client = 0; // every load connection comes from 127.0.0.1
    o.connection_rate_per_client = 0;
    sse::channel_options co;
    co.history_events = 4096;
#ifdef ASIO_SSE_BENCH_TLS
    if (!cfg.tls_cert.empty()) {
        if (cfg.redis_port != 0) {
            std::cerr << "sse-bench-server: --tls-cert is for a local channel only\n";
            return 2;
        }
        auto ctx = sse::make_tls_context(cfg.tls_cert, cfg.tls_key);
        if (cfg.tls_keylog) SSL_CTX_set_keylog_callback(ctx->native_handle(), [](const SSL*, const char*) {});
        sse::tls_server server(io, ctx, o);
        sse::channel ch(co);
        serve(cfg, io, server, ch, {});
        return 0;
    }
#endif
    sse::server server(io, o);

#ifdef ASIO_SSE_BENCH_REDIS
    if (cfg.redis_port != 0) {
        sse::redis_options ro;
        ro.host = cfg.redis_host;
        ro.port = static_cast<std::uint16_t>(cfg.redis_port);
        sse::redis_client bus(io, ro); // connects by itself; open, it keeps io.run() from returning
        sse::redis_channel ch(bus, "bench", co);
        serve(cfg, io, server, ch, [&bus] { bus.close(); });
        return 0;
    }
#endif
    sse::channel ch(co);
    serve(cfg, io, server, ch, {});
}
