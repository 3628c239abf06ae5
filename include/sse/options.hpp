// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_OPTIONS_HPP
#define ASIO_SSE_OPTIONS_HPP

#include <sse/authorization.hpp>
#include <sse/lifecycle.hpp>
#include <sse/request.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sse {

/// What a stream does when a client does not keep up and its queue would exceed its bound.
enum class overflow_policy {
    disconnect,  ///< close the stream (counted); the client reconnects with `Last-Event-ID`
    drop_oldest, ///< drop the oldest queued events (counted) to make room for the new one
};

/** @brief Every server tunable, with its default. See the README's "Options" table.

    Sizes and counts may take any value (a sum of two saturates, so `SIZE_MAX` means "no
    limit"). Durations must be within 365 days (`flush_delay` within one second), and `head_timeout`, `handshake_timeout`,
    `body_timeout` and `write_timeout` above zero; `retry` within 0..2147483647 ms; `max_head_bytes` at least 1.
    The server's constructor refuses anything else with `std::invalid_argument`. */
struct server_options {
    /// Largest request head accepted; beyond it the client gets 431.
    std::size_t max_head_bytes = 8 * 1024;
    /// Most header fields in one request head; beyond it the client gets 431.
    std::size_t max_headers = 100;
    /// Largest request body accepted (`Content-Length` or chunked), by a plain route or a
    /// stream route whose `methods` take bodies; beyond it, 413 and close.
    std::size_t max_body_bytes = 64 * 1024;
    /// Time a client has to send a whole request head (and an idle keep-alive connection
    /// waits for its next one) before it is dropped.
    std::chrono::milliseconds head_timeout{10'000};
    /// Time a TLS client has to complete its handshake (`sse::tls_server`); then the head
    /// timeout starts.
    std::chrono::milliseconds handshake_timeout{10'000};
    /// Time a client has to send a whole request body once its head is in; a body that
    /// trickles in slower gets 408 and the connection closes.
    std::chrono::milliseconds body_timeout{30'000};

    /// A comment line is sent on a stream that has been quiet this long; zero disables.
    std::chrono::milliseconds heartbeat{15'000};
    /// If set, `retry: N` is sent on every stream as it opens (the client's reconnect delay).
    std::optional<std::chrono::milliseconds> retry;
    /// Bound on what one stream's queue holds: each queued event, comment or heartbeat is
    /// charged its bytes plus 128 (its share of the queue's own memory), so memory stays within
    /// the bound however small the events. An event larger than this is still sent when the
    /// queue is empty; 0 means one event at a time.
    std::size_t max_queue_bytes = 256 * 1024;
    /// Applied when a stream's queue would exceed `max_queue_bytes`.
    overflow_policy overflow = overflow_policy::disconnect;
    /// A write that does not complete in this long closes the stream (a stalled peer).
    std::chrono::milliseconds write_timeout{30'000};
    /// Coalescing window: what is sent to an idle stream waits up to this long, so that the
    /// events reaching it meanwhile leave in one write (one system call instead of one per
    /// event: more events/s under a publisher that sends them one by one, each event up to
    /// this much later). Zero (the default): every send is written at once. A stream's own
    /// timer callback (`every`, `after`) is one write already, and is not delayed; nor are
    /// the response head and `close()`.
    std::chrono::microseconds flush_delay{0};

    /// Most concurrent streams on the server (0: no limit); beyond it, 503 with `Retry-After`.
    std::size_t max_streams = 0;
    /// Most concurrent connections of any kind (0: no limit); beyond it, 503 and close.
    std::size_t max_connections = 0;
    /// Value of `Retry-After` on a 503 or 429.
    std::chrono::seconds retry_after{5};

    /// Most concurrent connections from one client address (an IPv6 client: its /64) (0: no
    /// limit); beyond it, 429 and close. Generous by default: many browsers share one NAT address.
    std::size_t max_connections_per_client = 256;
    /// New connections per second one client address may open, on average (0: no limit);
    /// beyond it (once `connection_burst_per_client` is spent), 429 and close.
    double connection_rate_per_client = 100;
    /// New connections one client address may open at once before the rate applies.
    std::size_t connection_burst_per_client = 200;

    /// `stop()` lets streams flush what is queued for at most this long, then closes them.
    std::chrono::milliseconds shutdown_timeout{5'000};

    /// Told of every accept, refusal, error answer, stream open and stream close (unset: none).
    lifecycle_hook on_lifecycle;
};

/** @brief Cross-origin access to a route (CORS), for pages served from another origin.

    A request whose `Origin` is allowed gets `Access-Control-Allow-Origin` (and, with
    `credentials`, `Access-Control-Allow-Credentials: true`) plus `Vary: Origin`; any other gets
    no grant, so the browser refuses it. `OPTIONS` preflights are answered: 204 with the grant,
    or 403 for an origin not allowed. */
struct cors_policy {
    /// Exact origins (scheme://host[:port]), or "*" for any origin.
    std::vector<std::string> origins;
    /// Allow cookies/credentials (`new EventSource(url, {withCredentials: true})`); the origin is
    /// then echoed, never `*`.
    bool credentials = false;
    /// Request headers a preflight may ask for (`Last-Event-ID` is always allowed), e.g.
    /// `Authorization`, `Content-Type` for a `fetch` POST.
    std::vector<std::string> headers;
    /// How long a browser may cache a preflight answer.
    std::chrono::seconds max_age{600};
    /// Response headers the page may read (`Access-Control-Expose-Headers`), e.g. `Mcp-Session-Id`.
    std::vector<std::string> expose;
};

/** @brief Decides whether a stream request may open, before it opens: call `done.allow(user)`
    or `done.deny(response)`, now or later from any thread (see `sse::authorization`).

    `r` is valid only during the call: copy what a later decision needs. An `EventSource`
    cannot set headers, so look at a cookie (`r.cookie("session")`, sent by a same-site page or
    with `withCredentials`) or a query parameter (`r.query_param("token")`). Until the decision,
    the connection waits within the head timeout; a hook that throws gets a 500. */
using authorize_handler = std::function<void(const request& r, authorization done)>;

/** @brief Settings of one route. */
struct route_options {
    /// Most concurrent streams on this route (0: no limit); beyond it, 503 with `Retry-After`.
    std::size_t max_streams = 0;
    /// Cross-origin access; none when unset (same-origin pages only).
    std::optional<cors_policy> cors;
    /// If set, runs for every stream request on the route (its body read) before its handler;
    /// an allowed user value becomes the stream's `user()`. Plain requests are not affected.
    authorize_handler authorize;
    /// The methods that open a stream on this route (`on_stream` only; a plain route takes
    /// any method); others get 405 with `Allow`. E.g. `{"POST"}` for an LLM endpoint, or
    /// `{"GET", "POST", "DELETE"}` for MCP. A request's body is read whole before the
    /// `authorize` hook and the handler run (`request::body()`); `GET` and `HEAD` take none.
    std::vector<std::string> methods{"GET", "HEAD"};
};

} // namespace sse

#endif
