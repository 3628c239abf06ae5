// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_TLS_HPP
#define ASIO_SSE_TLS_HPP

/// HTTPS: `sse::tls_server`. The only asio-sse header that includes `<asio/ssl.hpp>` (and so
/// OpenSSL, also through `sse/detail/tls_stream.hpp`, its transport); link the CMake target
/// `asio-sse::tls`.

#include <sse/detail/asio.hpp>
#include <sse/detail/tls_stream.hpp>
#include <sse/server.hpp>

#if defined(ASIO_SSE_USE_BOOST_ASIO)
#include <boost/asio/ssl.hpp>
#else
#include <asio/ssl.hpp>
#endif

#include <memory>
#include <openssl/ssl.h>
#include <string>
#include <string_view>
#include <utility>

namespace sse {

/** @brief The TLS transport: OpenSSL on a TCP socket's descriptor (`native_handle()` is the
    `SSL*`, `lowest_layer()` the socket). Unlike `asio::ssl::stream` it holds no buffer of its own
    and lets OpenSSL release its record buffers while idle. Once an SSE stream's request is read,
    over TLS 1.3 OpenSSL's session goes too (a KeyUpdate, then the stream seals its own records):
    an open HTTPS stream costs about 1.8 KB instead of 16 KB (see the README's Performance section). */
using tls_socket = detail::tls_stream;

namespace detail {

/// ALPN, on the server: `h2` if the client offers it, else `http/1.1`, else no protocol.
inline int select_h2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                     void*)
{
    static const unsigned char ours[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, outlen, ours, sizeof ours, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

/** @brief TLS: the context is the user's `asio::ssl::context`, shared. Each connection keeps the
    context it started with alive, so `set_context()` may replace it while older connections are
    open. A plain-HTTP request, a failed handshake or one that does not finish within
    `handshake_timeout` is closed without an answer and counted. */
template <>
struct transport<tls_socket> {
    using context = std::shared_ptr<asio::ssl::context>;
    static constexpr bool plaintext = false;

    static bool usable(const context& c) noexcept { return c != nullptr; }

    /// Its handshakes report the server's traffic secret (for `tls_socket::send_only()`).
    static void adopt(context& c) noexcept { detail::tls13::hook(c->native_handle()); }

    /// Over TLS 1.3, OpenSSL's session goes; the socket seals its records itself.
    static void send_only(tls_socket& s) { s.send_only(); }

    static tls_socket wrap(asio::ip::tcp::socket s, context& c) { return tls_socket(std::move(s), c); }

    static std::string_view alpn(const tls_socket& s) noexcept
    {
        const unsigned char* p = nullptr;
        unsigned int n = 0;
        if (s.native_handle()) SSL_get0_alpn_selected(s.native_handle(), &p, &n);
        return p ? std::string_view(reinterpret_cast<const char*>(p), n) : std::string_view();
    }

    /// The server's ALPN choice: `h2` if the client offers it, else `http/1.1`, else none.
    static void offer_h2(context& c) noexcept { SSL_CTX_set_alpn_select_cb(c->native_handle(), &select_h2, nullptr); }

    template <class Handler>
    static void async_handshake(tls_socket& s, Handler&& h)
    {
        s.async_handshake(std::forward<Handler>(h));
    }
};

} // namespace detail

/// The HTTPS server: `sse::server` over TLS. Construct it with a configured context, e.g.
/// `sse::tls_server srv(io, sse::make_tls_context("cert.pem", "key.pem"))`.
using tls_server = basic_server<tls_socket>;

/** @brief A server TLS context with sane defaults: TLS 1.2 or newer only (`tls_server` method
    with SSLv2/3, TLS 1.0/1.1 disabled), no compression, no renegotiation, a fresh ECDH key per
    handshake, and the server's cipher preference. Configure anything else (ciphers, client
    certificates, ...) on the returned context before the server uses it.
    @throws std::system_error if the files cannot be loaded or the key does not match. */
inline std::shared_ptr<asio::ssl::context> make_tls_context(const std::string& cert_chain_file,
                                                           const std::string& private_key_file)
{
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use |
                     asio::ssl::context::no_compression);
    SSL_CTX_set_options(ctx->native_handle(), SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    detail::asio_error_code ec; // Asio's own throw would be boost::system::system_error on Boost.Asio
    ctx->use_certificate_chain_file(cert_chain_file, ec);
    if (ec) throw std::system_error(ec, "use_certificate_chain_file");
    ctx->use_private_key_file(private_key_file, asio::ssl::context::pem, ec);
    if (ec) throw std::system_error(ec, "use_private_key_file");
    return ctx;
}

} // namespace sse

#endif
