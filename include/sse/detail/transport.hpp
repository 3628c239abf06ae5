// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_TRANSPORT_HPP
#define ASIO_SSE_DETAIL_TRANSPORT_HPP

#include <sse/detail/asio.hpp>

#include <string_view>
#include <system_error>
#include <utility>

namespace sse::detail {

/** @brief How the server makes and starts a `Socket` from an accepted TCP socket.

    A transport provides `context` (what the server keeps to make sockets), `usable(context)`,
    `adopt(context)` (the server takes it: set up what the transport needs of it), `wrap()`,
    `async_handshake()` (its handler may run inline), `alpn()` (the protocol the handshake
    chose, e.g. `h2`), `offer_h2(context)` (ALPN offers `h2`, then `http/1.1`), `send_only()`
    (the connection now only sends: an SSE stream's, once its request is read) and `plaintext`
    (whether the server may answer before a handshake, e.g. a 503 to a connection over the
    limit). Plain TCP is the identity; `sse/tls.hpp` adds TLS.
*/
template <class Socket>
struct transport;

template <>
struct transport<asio::ip::tcp::socket> {
    struct context {};
    static constexpr bool plaintext = true;

    static bool usable(const context&) noexcept { return true; }
    static void adopt(context&) noexcept {}
    static void send_only(asio::ip::tcp::socket&) noexcept {}

    static asio::ip::tcp::socket wrap(asio::ip::tcp::socket s, context&) { return s; }

    /// The protocol the handshake chose (ALPN): none over plain TCP.
    static std::string_view alpn(const asio::ip::tcp::socket&) noexcept { return {}; }

    /// Makes the handshakes of `context` offer HTTP/2 (ALPN): nothing to do over plain TCP.
    static void offer_h2(context&) noexcept {}

    template <class Handler>
    static void async_handshake(asio::ip::tcp::socket&, Handler&& h)
    {
        std::forward<Handler>(h)(std::error_code());
    }
};

} // namespace sse::detail

#endif
