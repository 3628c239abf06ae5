// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_HTTP2_HPP
#define ASIO_SSE_HTTP2_HPP

/// HTTP/2: `sse::enable_http2()`. The only asio-sse header that includes nghttp2; link the CMake
/// target `asio-sse::http2`.

#include <sse/detail/h2_connection.hpp>
#include <sse/server.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace sse {

/// HTTP/2's own limits; the rest (head and body sizes, timeouts, queue bounds, stream limits)
/// are the server's `server_options`, as over HTTP/1.1.
struct http2_options {
    /// Streams one connection may have open at once (`SETTINGS_MAX_CONCURRENT_STREAMS`;
    /// browsers open up to 100). nghttp2 refuses streams beyond it.
    std::uint32_t max_concurrent_streams = 100;
    /// Streams a client may reset per second (a burst of twice that): beyond it, the connection
    /// ends (GOAWAY `ENHANCE_YOUR_CALM`, counted in `stats::http2_abuse_closes`): the "rapid
    /// reset" attack (CVE-2023-44487).
    std::uint32_t resets_per_second = 100;
    /// SETTINGS, PING, PRIORITY and empty DATA frames a client may send per second (a burst of
    /// twice that), beyond which the connection ends the same way.
    std::uint32_t control_frames_per_second = 200;
};

namespace detail {

/// What another protocol's component sets on a server.
struct server_access {
    template <class Socket>
    static void set_handoff(basic_server<Socket>& srv, protocol_handoff<Socket> h)
    {
        auto& i = *srv.impl_;
        if (i.started) throw std::logic_error("sse::enable_http2: call it before start()");
        if (!transport<Socket>::plaintext) transport<Socket>::offer_h2(i.ctx);
        i.handoff = std::move(h);
    }
    template <class Socket>
    static std::shared_ptr<const router> routes(basic_server<Socket>& srv)
    {
        return srv.impl_->routes;
    }
    template <class Socket>
    static std::shared_ptr<server_state> state(basic_server<Socket>& srv)
    {
        return srv.impl_->state;
    }
};

} // namespace detail

/** @brief Serves HTTP/2 on `srv` beside HTTP/1.1, with the same routes, handlers, channels,
    authorization, CORS, limits, heartbeats, queue bounds, stats and lifecycle hook: each
    HTTP/2 stream is a request, answered plainly or as an `sse::stream`. A browser then runs
    all its `EventSource`s to the server over one connection (about 100), instead of six.

    On a `tls_server`, the handshake offers `h2`, then `http/1.1` (ALPN; this sets the ALPN
    select callback on the server's TLS context, replacing any set there, and on each one
    `set_context()` installs later). On a plain `server`, a connection whose first bytes are
    HTTP/2's preface speaks HTTP/2 (`h2c` "prior knowledge", for a backend behind a proxy); any
    other is HTTP/1.1, as before.

    Over HTTP/2 the route handlers (`on_stream`, `on_request`, `authorize`) run on the strand
    the connection and its streams share (over HTTP/1.1, on the connection's own): a handler
    that blocks holds up those streams too. An HTTP/2 connection with no stream open and no
    request coming for `head_timeout` ends (GOAWAY), as an idle keep-alive connection does; an
    `authorize` hook that does not decide within `head_timeout` gets its stream reset.
    @throws std::logic_error after `start()`; std::invalid_argument if an option is 0. */
template <class Socket>
void enable_http2(basic_server<Socket>& srv, const http2_options& options = {})
{
    if (options.max_concurrent_streams == 0 || options.resets_per_second == 0 || options.control_frames_per_second == 0)
        throw std::invalid_argument("sse::enable_http2: every http2_options limit must be positive");
    const auto state = detail::server_access::state(srv);
    detail::h2_limits limits;
    limits.max_concurrent_streams = options.max_concurrent_streams;
    limits.resets_per_second = options.resets_per_second;
    limits.control_frames_per_second = options.control_frames_per_second;
    limits.max_header_bytes = state->options.max_head_bytes;
    limits.max_headers = state->options.max_headers;
    limits.max_body_bytes = state->options.max_body_bytes;
    detail::protocol_handoff<Socket> h;
    h.cleartext = detail::transport<Socket>::plaintext;
    h.take = [weak = std::weak_ptr<detail::server_state>(state), routes = detail::server_access::routes(srv),
              limits](Socket s, std::string received, detail::connection_slot slot, asio::ip::address remote) {
        auto st = weak.lock();
        if (!st) return;
        auto c = std::make_shared<detail::h2_connection<Socket>>(std::move(s), std::move(st), routes, std::move(slot),
                                                                  std::move(remote), limits);
        c->start(std::move(received));
    };
    detail::server_access::set_handoff(srv, std::move(h));
}

} // namespace sse

#endif
