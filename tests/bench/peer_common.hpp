// What the C++ peers of the fan-out benchmark share (httplib-post-server, restinio-sse-server,
// beast-sse-server): node_server.js's command line, its event bytes, and the counters each prints
// on exit. No Asio, no HTTP library: each peer does its I/O the way its own library's docs show.
//
//   --port P --path /events --rate R --payload B --ticker-ms T --max-seconds S --catch-up-ms C
//
// Every event is `id: N\ndata: <CLOCK_MONOTONIC ns> <padding>\n\n`, the data value padded with
// `x` to B bytes (more if the number does not fit), as node_server.js writes it; a stream gets
// `:ok\n\n` right after its head. --rate R publishes to every stream by the benchmark's rule
// (tick_rule.hpp, catch-up C ms, default 5); --ticker-ms T instead gives every stream its own
// timer, one event every T ms.
#ifndef ASIO_SSE_BENCH_PEER_COMMON_HPP
#define ASIO_SSE_BENCH_PEER_COMMON_HPP

#include <time.h>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bench {

struct peer_options {
    int port = 0;
    std::string path = "/events";
    long long rate = 0;     // events/s to every stream (0: none)
    int payload = 64;       // bytes of each event's data value
    int ticker_ms = 0;      // > 0: a timer per stream instead of the broadcast
    int max_seconds = 600;  // exits by itself after this
    int catch_up_ms = 5;    // tick_rule's catch-up
};

/// A peer's own flag: returns false when it does not know `flag` either. A bad value throws
/// std::logic_error (what std::stoi throws), which ends in the usage message too.
using extra_flag = std::function<bool(std::string_view flag, const std::string& value)>;

/** @brief Parses the shared flags (and, through `extra`, the peer's own). On a flag nobody knows,
    a missing or bad value, prints `usage: <program> <the shared flags> <extra_usage>` and exits 2. */
inline peer_options parse_peer_options(int argc, char** argv, std::string_view program, std::string_view extra_usage = {},
                                       const extra_flag& extra = {})
{
    const auto usage = [&] {
        std::cerr << "usage: " << program << " [--port P] [--path /events] [--rate R] [--payload B] [--ticker-ms T]"
                  << " [--max-seconds S] [--catch-up-ms C]" << (extra_usage.empty() ? "" : " ") << extra_usage << "\n";
        std::exit(2);
    };
    peer_options o;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) usage();
        const std::string_view k = argv[i];
        const std::string v = argv[i + 1];
        try {
            if (k == "--port") o.port = std::stoi(v);
            else if (k == "--path") o.path = v;
            else if (k == "--rate") o.rate = std::stoll(v);
            else if (k == "--payload") o.payload = std::stoi(v);
            else if (k == "--ticker-ms") o.ticker_ms = std::stoi(v);
            else if (k == "--max-seconds") o.max_seconds = std::stoi(v);
            else if (k == "--catch-up-ms") o.catch_up_ms = std::stoi(v);
            else if (!extra || !extra(k, v)) usage();
        } catch (const std::logic_error&) {
            usage();
        }
    }
    if (o.port < 0 || o.port > 65535 || o.rate < 0 || o.payload < 0 || o.ticker_ms < 0 || o.max_seconds < 1 ||
        o.catch_up_ms < 1 || o.path.empty() || o.path[0] != '/')
        usage();
    return o;
}

/// CLOCK_MONOTONIC in nanoseconds, the clock sse-load reads.
inline long long monotonic_ns() noexcept
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

/// `id: <id>\ndata: <monotonic ns> <x padding>\n\n`, the data value `payload` bytes long.
inline std::string event_text(long long id, int payload)
{
    char digits[24];
    const auto n = static_cast<std::size_t>(std::to_chars(digits, digits + sizeof digits, monotonic_ns()).ptr - digits);
    std::string e = "id: " + std::to_string(id) + "\ndata: ";
    e.append(digits, n);
    e += ' ';
    if (static_cast<std::size_t>(payload) > n + 1) e.append(static_cast<std::size_t>(payload) - n - 1, 'x');
    e += "\n\n";
    return e;
}

/// The head's first bytes of body, written right after it (node_server.js does the same).
inline constexpr std::string_view hello = ":ok\n\n";

/** @brief The counters a peer prints on exit: `published P slipped S streams T max_streams M`
    (events published by the broadcast, events that slipped by the rule, event streams opened in
    all, the most open at once). @par Thread Safety Any thread. */
struct peer_counters {
    std::atomic<long long> published{0}, slipped{0}, streams{0}, open{0}, max_streams{0};

    void opened() noexcept
    {
        ++streams;
        const long long now = ++open;
        long long most = max_streams.load();
        while (now > most && !max_streams.compare_exchange_weak(most, now)) {
        }
    }
    void closed() noexcept { --open; }

    std::string line() const
    {
        return "published " + std::to_string(published.load()) + " slipped " + std::to_string(slipped.load()) +
               " streams " + std::to_string(streams.load()) + " max_streams " + std::to_string(max_streams.load());
    }
};

} // namespace bench

#endif
