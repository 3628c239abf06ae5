// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_STATS_HPP
#define ASIO_SSE_STATS_HPP

#include <atomic>
#include <cstdint>

namespace sse {

/** @brief A snapshot of a server's counters (see `basic_server::stats()`).
    "open" values are gauges; every other value counts since the server was made. */
struct stats {
    std::uint64_t connections_open = 0;  ///< TCP connections open now (streams included)
    std::uint64_t connections_total = 0; ///< connections accepted
    std::uint64_t streams_open = 0;      ///< streams open now
    std::uint64_t streams_total = 0;     ///< streams opened
    std::uint64_t requests_rejected = 0; ///< requests answered with an error status by the server
    std::uint64_t events_sent = 0;       ///< events written to sockets (heartbeats not included)
    std::uint64_t bytes_sent = 0;        ///< stream bytes written to sockets (heads included)
    std::uint64_t heartbeats_sent = 0;   ///< keep-alive comments written
    std::uint64_t events_dropped = 0;    ///< events dropped by `overflow_policy::drop_oldest`
    std::uint64_t slow_disconnects = 0;  ///< streams closed by `overflow_policy::disconnect`
    std::uint64_t write_timeouts = 0;    ///< streams closed because a write stalled
    std::uint64_t replayed_events = 0;   ///< events queued from channel history for reconnecting clients
    std::uint64_t handler_errors = 0;    ///< user callbacks that threw
    std::uint64_t tls_handshake_failures = 0; ///< TLS handshakes that failed or timed out (plain HTTP included)
    std::uint64_t authorization_denied = 0;   ///< stream requests an `authorize` hook denied
    std::uint64_t client_limit_refusals = 0;  ///< connections refused: `max_connections_per_client`
    std::uint64_t client_rate_refusals = 0;   ///< connections refused: `connection_rate_per_client`
    std::uint64_t http2_connections = 0;      ///< connections served over HTTP/2 (`sse/http2.hpp`)
    std::uint64_t http2_streams = 0;          ///< HTTP/2 streams (requests) clients opened
    std::uint64_t http2_resets = 0;           ///< HTTP/2 streams clients reset (RST_STREAM)
    std::uint64_t http2_abuse_closes = 0;     ///< HTTP/2 connections ended for abuse (resets, control floods, unread output)
    std::uint64_t http2_protocol_errors = 0;  ///< HTTP/2 connections ended for a protocol error
};

namespace detail {

/// The live counters behind `sse::stats`, updated from any thread.
struct counters {
    std::atomic<std::uint64_t> connections_open{0}, connections_total{0}, streams_open{0}, streams_total{0},
        requests_rejected{0}, events_sent{0}, bytes_sent{0}, heartbeats_sent{0}, events_dropped{0},
        slow_disconnects{0}, write_timeouts{0}, replayed_events{0}, handler_errors{0}, tls_handshake_failures{0},
        authorization_denied{0}, client_limit_refusals{0}, client_rate_refusals{0}, http2_connections{0},
        http2_streams{0}, http2_resets{0}, http2_abuse_closes{0}, http2_protocol_errors{0};

    sse::stats snapshot() const noexcept
    {
        constexpr auto r = std::memory_order_relaxed;
        return {connections_open.load(r), connections_total.load(r), streams_open.load(r),
                streams_total.load(r),    requests_rejected.load(r), events_sent.load(r),
                bytes_sent.load(r),       heartbeats_sent.load(r),   events_dropped.load(r),
                slow_disconnects.load(r), write_timeouts.load(r),    replayed_events.load(r),
                handler_errors.load(r),   tls_handshake_failures.load(r), authorization_denied.load(r),
                client_limit_refusals.load(r), client_rate_refusals.load(r), http2_connections.load(r),
                http2_streams.load(r), http2_resets.load(r), http2_abuse_closes.load(r), http2_protocol_errors.load(r)};
    }
};

inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept
{
    c.fetch_add(n, std::memory_order_relaxed);
}

} // namespace detail
} // namespace sse

#endif
