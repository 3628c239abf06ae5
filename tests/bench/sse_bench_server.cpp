// The asio-sse side of the benchmark: an SSE server publishing R events/s of B bytes to every
// stream through a channel (or, with --ticker-ms, each stream running its own timer, the
// demo's pattern). Every event's data starts with CLOCK_MONOTONIC nanoseconds, for latency.
//
//   sse-bench-server --port P [--path /events] [--rate R] [--payload B] [--ticker-ms T] [--threads K]
#include <sse/sse.hpp>

#include <asio/signal_set.hpp>

#include <time.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct settings {
    unsigned short port = 0;
    std::string path = "/events";
    int rate = 0, payload = 64, ticker_ms = 0, threads = 1;
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
        else {
            std::cerr << "unknown flag " << k << "\n";
            std::exit(2);
        }
    }
    return s;
}

// `<monotonic ns> <padding>`, `size` bytes in all.
std::string payload(std::size_t size)
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    std::string s = std::to_string(static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec);
    s.push_back(' ');
    if (s.size() < size) s.append(size - s.size(), 'x');
    return s;
}

// Publishes `per_tick` events every `period` to `ch`, drift-free, until `stopped` (a flag, not
// cancel(): a wait that already expired completes with success even after cancel()).
void publish_loop(asio::steady_timer& t, const std::atomic<bool>& stopped, sse::channel& ch, std::chrono::nanoseconds period,
                  int per_tick, int size)
{
    t.expires_at(t.expiry() + period);
    t.async_wait([&t, &stopped, &ch, period, per_tick, size](std::error_code ec) {
        if (ec || stopped) return;
        for (int i = 0; i < per_tick; ++i) ch.publish(sse::event(payload(static_cast<std::size_t>(size))));
        publish_loop(t, stopped, ch, period, per_tick, size);
    });
}

} // namespace

int main(int argc, char** argv)
{
    const settings cfg = parse(argc, argv);
    asio::io_context io(cfg.threads);
    sse::server_options o;
    o.max_queue_bytes = 1 << 20;
    o.max_connections_per_client = 0; // every load connection comes from 127.0.0.1
    o.connection_rate_per_client = 0;
    sse::server server(io, o);
    sse::channel_options co;
    co.history_events = 4096;
    sse::channel ch(co);

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
    server.listen("127.0.0.1", cfg.port);
    server.start();

    asio::steady_timer publisher(io, std::chrono::steady_clock::now());
    std::atomic<bool> stopped{false};
    if (cfg.rate > 0 && cfg.ticker_ms <= 0) {
        // up to 1000 ticks/s; above that, several events per 1 ms tick
        const int per_tick = (cfg.rate + 999) / 1000;
        const auto period = std::chrono::nanoseconds(1000000000LL * per_tick / cfg.rate);
        publish_loop(publisher, stopped, ch, period, per_tick, cfg.payload);
    }
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) {
        stopped = true; // the publisher's next tick ends it
        server.stop();
    });
    std::cout << server.local_endpoint().port() << std::endl;

    std::vector<std::thread> pool;
    for (int i = 1; i < cfg.threads; ++i) pool.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : pool) t.join();
}
