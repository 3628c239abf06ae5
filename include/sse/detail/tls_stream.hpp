// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_TLS_STREAM_HPP
#define ASIO_SSE_DETAIL_TLS_STREAM_HPP

// The TLS transport of `sse::tls_server` (included by <sse/tls.hpp> only): OpenSSL straight on
// the socket's descriptor, with no buffers of its own.

#include <sse/detail/asio.hpp>
#include <sse/detail/discard.hpp>
#include <sse/detail/tls13_records.hpp>

#if defined(ASIO_SSE_USE_BOOST_ASIO)
#include <boost/asio/compose.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#else
#include <asio/compose.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#endif

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <system_error>
#include <utility>
#include <variant>

namespace sse::detail {

/** @brief A BIO that reads and writes a socket's descriptor without blocking (`recv`, and
    `send` with `MSG_NOSIGNAL`: a peer that has gone raises no SIGPIPE), holding no buffer. */
class socket_bio {
public:
    /// Whether a socket call's `errno` says "try again later".
    static bool would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

    /// A BIO for descriptor `fd` (not closed with it); null if OpenSSL cannot make one.
    static BIO* make(int fd)
    {
        BIO* b = method() ? BIO_new(method()) : nullptr;
        if (b) {
            BIO_set_data(b, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
            BIO_set_init(b, 1);
        }
        return b;
    }

private:
    static int fd(BIO* b) { return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b))); }

    static BIO_METHOD* method()
    {
        static BIO_METHOD* const m = [] {
            BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "asio-sse socket");
            if (made) {
                BIO_meth_set_write(made, &write);
                BIO_meth_set_read(made, &read);
                BIO_meth_set_ctrl(made, &ctrl);
            }
            return made;
        }();
        return m;
    }

    static int write(BIO* b, const char* data, int n)
    {
        BIO_clear_retry_flags(b);
        const auto sent = ::send(fd(b), data, static_cast<std::size_t>(n), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0 && would_block(errno)) BIO_set_retry_write(b);
        return static_cast<int>(sent);
    }

    static int read(BIO* b, char* data, int n)
    {
        BIO_clear_retry_flags(b);
        const auto got = ::recv(fd(b), data, static_cast<std::size_t>(n), MSG_DONTWAIT);
        if (got < 0 && would_block(errno)) BIO_set_retry_read(b);
        return static_cast<int>(got);
    }

    static long ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }
};

/** @brief TLS over a TCP socket: an OpenSSL `SSL` reading and writing the socket itself (a
    `socket_bio`), with `SSL_MODE_RELEASE_BUFFERS`, so that an idle connection holds no record
    buffer at all (`asio::ssl::stream` keeps four: 68 KB). Each operation makes as much progress
    as the socket allows at once and waits for readiness (no buffer held meanwhile) for the rest.

    A server-side AsyncReadStream and AsyncWriteStream: `async_handshake`, `async_read_some`,
    `async_write_some` (at most one record, 16 KB, per call) complete with
    `void(asio_error_code[, std::size_t])`, never inside the initiating call. At most one
    operation of each kind at a time, all on one strand. A read and a write may be pending
    together (OpenSSL's state is only touched as each runs). `native_handle()` is the `SSL*`.

    A connection that from some point on only sends (an SSE stream, once its request is read)
    can let OpenSSL's session go: `send_only()`. Over TLS 1.3 (with AES-GCM or
    ChaCha20-Poly1305, and a context without a key-log callback of its own) OpenSSL then sends a
    KeyUpdate, and the stream seals its records itself with the keys that follow (`tls13::sealer`:
    200 B with its write's state, instead of the `SSL`'s 14 KB); what the client still sends is read and discarded
    undecrypted, as bytes on a stream mean nothing (the next write begins with a KeyUpdate of
    ours, in case the client asked for one), and the stream ends when the client's TCP
    connection does (a close_notify alone does not end it). Over TLS 1.2 nothing changes. */
class tls_stream {
public:
    using executor_type = asio::ip::tcp::socket::executor_type;
    using lowest_layer_type = asio::ip::tcp::socket;

    /// Takes `s` for a server session of context `ctx`, which it keeps alive (its I/O never
    /// blocks: the BIO says `MSG_DONTWAIT`). The `SSL` is made when the client's first bytes arrive (`async_handshake`):
    /// until then `native_handle()` is null, and a connection costs no more than plain TCP.
    tls_stream(asio::ip::tcp::socket s, std::shared_ptr<asio::ssl::context> ctx)
        : socket_(std::move(s)), ctx_(std::move(ctx))
    {
    }
    tls_stream(tls_stream&& o) noexcept
        : socket_(std::move(o.socket_)), ctx_(std::move(o.ctx_)), ssl_(std::exchange(o.ssl_, nullptr)),
          own_(std::move(o.own_))
    {
    }
    tls_stream& operator=(tls_stream&& o) noexcept
    {
        if (this != &o) {
            SSL_free(ssl_);
            socket_ = std::move(o.socket_);
            ctx_ = std::move(o.ctx_);
            ssl_ = std::exchange(o.ssl_, nullptr);
            own_ = std::move(o.own_);
        }
        return *this;
    }
    tls_stream(const tls_stream&) = delete;
    tls_stream& operator=(const tls_stream&) = delete;
    ~tls_stream() { SSL_free(ssl_); }

    executor_type get_executor() noexcept { return socket_.get_executor(); }
    /// The `SSL`: null before the client's first bytes, and once `send_only()` has let it go.
    SSL* native_handle() const noexcept { return ssl_; }
    lowest_layer_type& lowest_layer() noexcept { return socket_; }

    /// The server side of the handshake. Completion: `void(asio_error_code)`.
    template <class CompletionToken>
    auto async_handshake(CompletionToken&& token)
    {
        return asio::async_compose<CompletionToken, void(asio_error_code)>(
            op<handshake_step, false>{this, {}}, token, socket_);
    }

    /// Reads decrypted bytes into the first non-empty buffer of `buffers`. Completion:
    /// `void(asio_error_code, std::size_t)`; `asio::error::eof` once the peer has closed.
    template <class MutableBuffers, class CompletionToken>
    auto async_read_some(const MutableBuffers& buffers, CompletionToken&& token)
    {
        return asio::async_compose<CompletionToken, void(asio_error_code, std::size_t)>(
            op<read_step<MutableBuffers>, true>{this, {buffers}}, token, socket_);
    }

    /// Encrypts and sends up to one record (16 KB) of `buffers`, gathered. Completion:
    /// `void(asio_error_code, std::size_t)` with the bytes of `buffers` sent.
    template <class ConstBuffers, class CompletionToken>
    auto async_write_some(const ConstBuffers& buffers, CompletionToken&& token)
    {
        return asio::async_compose<CompletionToken, void(asio_error_code, std::size_t)>(
            op<write_step<ConstBuffers>, true>{this, {buffers}}, token, socket_);
    }

    /** @brief From now on the connection only sends: lets OpenSSL's session go if it can (see
        above), between operations (none may be pending), after the handshake. Returns whether
        it did; if not (TLS 1.2, another cipher suite, the socket not taking the KeyUpdate at
        once), OpenSSL goes on as before. */
    bool send_only()
    {
        if (!ssl_ || !own_ || sealing() || !SSL_is_init_finished(ssl_) || SSL_version(ssl_) != TLS1_3_VERSION)
            return false;
        auto next = tls13::sealer::after_key_update(SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(ssl_)),
                                                    std::get<tls13::secret>(own_->keys));
        if (!next) return false;
        ERR_clear_error();
        // the KeyUpdate, written now: the records after it are sealed with `next`, from 0 on
        if (SSL_key_update(ssl_, SSL_KEY_UPDATE_NOT_REQUESTED) != 1 || SSL_do_handshake(ssl_) != 1) {
            ERR_clear_error(); // (a KeyUpdate not all written goes with OpenSSL's next write)
            return false;
        }
        tls13::capture(ssl_, nullptr);
        own_->keys.emplace<tls13::sealer>(std::move(*next)); // (the secret, wiped, makes room)
        SSL_free(std::exchange(ssl_, nullptr));
        return true;
    }

private:
    static constexpr std::size_t record = 16 * 1024; // a TLS record's most plaintext
    static constexpr std::size_t own_write = 4 * record; // plaintext per write once sealing itself

    // What the stream keeps for sealing its own records: the secret as the handshake gives it,
    // then the sealer; the sealed bytes of a write the socket did not take at once, until it has.
    struct own_records {
        std::variant<tls13::secret, tls13::sealer> keys;
        std::unique_ptr<unsigned char[]> out;
        std::size_t out_len = 0, sent = 0, plain = 0; // of out; the write's plaintext bytes
        bool update_due = false; // the client sent something: maybe a KeyUpdate asking for one
    };

    // One attempt of an operation: `SSL_ERROR_NONE` when done, else what SSL_get_error() says;
    // `n` gets the bytes moved.
    static int outcome(SSL* ssl, int r) { return r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r); }

    template <class Buffers>
    static auto first_nonempty(const Buffers& buffers)
    {
        auto it = asio::buffer_sequence_begin(buffers);
        while (it != asio::buffer_sequence_end(buffers) && asio::const_buffer(*it).size() == 0) ++it;
        return it;
    }

    // Until the client's first bytes arrive there is no SSL: OpenSSL's session costs about
    // 9 KB, and a started handshake holds a 16 KB message buffer and record buffers as it waits.
    struct handshake_step {
        int operator()(tls_stream& s, std::size_t&) const
        {
            if (!s.ssl_) {
                char byte;
                const int fd = s.socket_.native_handle();
                if (::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && socket_bio::would_block(errno))
                    return SSL_ERROR_WANT_READ;
                if (!s.start(fd)) return SSL_ERROR_SSL;
            }
            return outcome(s.ssl_, SSL_do_handshake(s.ssl_));
        }
    };
    template <class MutableBuffers>
    struct read_step {
        MutableBuffers buffers;
        int operator()(tls_stream& s, std::size_t& n) const
        {
            const auto it = first_nonempty(buffers);
            if (it == asio::buffer_sequence_end(buffers)) return SSL_ERROR_NONE; // nothing to read into
            if (s.sealing()) return s.discard_read(n);
            if (!s.ssl_) return SSL_ERROR_SSL; // no handshake yet
            const asio::mutable_buffer b(*it);
            return outcome(s.ssl_, SSL_read_ex(s.ssl_, b.data(), b.size(), &n));
        }
    };
    template <class ConstBuffers>
    struct write_step {
        ConstBuffers buffers;
        // The same bytes on every attempt (OpenSSL's rule for retrying a write), gathered into
        // one record: from the first buffer itself when it fills one, else through a copy.
        int operator()(tls_stream& s, std::size_t& n) const
        {
            if (s.sealing()) return s.sealed_write(buffers, n);
            SSL* const ssl = s.ssl_;
            if (!ssl) return SSL_ERROR_SSL; // no handshake yet
            auto it = first_nonempty(buffers);
            const auto end = asio::buffer_sequence_end(buffers);
            if (it == end) return SSL_ERROR_NONE;
            const asio::const_buffer first(*it);
            if (first.size() >= record || std::next(it) == end)
                return outcome(ssl, SSL_write_ex(ssl, first.data(), std::min(first.size(), record), &n));
            thread_local char gathered[record];
            std::size_t len = 0;
            for (; it != end && len < record; ++it) {
                const asio::const_buffer b(*it);
                const std::size_t take = std::min(b.size(), record - len);
                std::memcpy(gathered + len, b.data(), take);
                len += take;
            }
            return outcome(ssl, SSL_write_ex(ssl, gathered, len, &n));
        }
    };

    // An operation: tries its step, waits for the socket when OpenSSL wants to read or write,
    // and completes (posted, if no wait came first) with the outcome.
    template <class Step, bool Sized>
    struct op {
        tls_stream* self_;
        Step step_;
        bool waited_ = false, done_ = false;
        asio_error_code result_{};
        std::size_t n_ = 0;

        template <class Self>
        void operator()(Self& self, asio_error_code ec = {})
        {
            if (done_) return complete(self);
            if (!ec) {
                ERR_clear_error();
                errno = 0;
                const int e = step_(*self_, n_);
                if (e == SSL_ERROR_NONE) return finish(self, {});
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                    waited_ = true;
                    const auto w = e == SSL_ERROR_WANT_READ ? asio::socket_base::wait_read : asio::socket_base::wait_write;
                    return self_->socket_.async_wait(w, std::move(self));
                }
                ec = error_of(e);
            }
            n_ = 0;
            finish(self, ec);
        }

        template <class Self>
        void finish(Self& self, asio_error_code ec)
        {
            result_ = ec;
            done_ = true;
            if (waited_) return complete(self);
            asio::post(std::move(self)); // never inside the initiating call
        }

        template <class Self>
        void complete(Self& self)
        {
            if constexpr (Sized)
                self.complete(result_, n_);
            else
                self.complete(result_);
        }
    };

    // What an SSL_get_error() result other than a wait means: eof when the peer closed (with
    // close_notify, or without: the stream has nothing to lose), else the system or TLS error.
    static asio_error_code error_of(int e)
    {
        const int sys = errno;
        const unsigned long err = ERR_get_error();
        ERR_clear_error();
        if (e == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
        if (e == SSL_ERROR_SYSCALL && err == 0)
            return sys ? asio_error_code(sys, asio::error::get_system_category()) : asio_error_code(asio::error::eof);
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING // OpenSSL 3
        if (err != 0 && ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING) return asio::error::eof;
#endif
        return asio_error_code(static_cast<int>(err ? err : static_cast<unsigned long>(e)), asio::error::get_ssl_category());
    }

    bool sealing() const noexcept { return own_ && std::holds_alternative<tls13::sealer>(own_->keys); }

    // Sealing itself: the records of up to `own_write` bytes of `buffers`, sealed once into
    // the thread's buffer and sent; what the socket does not take at once is kept (the only
    // allocation) and sent as it takes it. `n` gets the plaintext bytes the records hold.
    template <class ConstBuffers>
    int sealed_write(const ConstBuffers& buffers, std::size_t& n)
    {
        own_records& o = *own_;
        if (o.out) return send_kept(n); // the rest of a write that waited for the socket
        std::size_t plain = 0;
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers) && plain < own_write; ++it)
            plain += std::min(asio::const_buffer(*it).size(), own_write - plain);
        if (plain == 0) return SSL_ERROR_NONE;
        thread_local unsigned char sealed[own_write + own_write / record * tls13::sealer::overhead +
                                          tls13::sealer::key_update_size];
        tls13::sealer& sealer = std::get<tls13::sealer>(o.keys);
        unsigned char* rec = sealed;
        // a KeyUpdate of ours first, if the client may have asked for one (it must come before
        // our next application data) or the key has protected enough records
        if (o.update_due || sealer.rekey_due()) {
            if (!sealer.seal_key_update(rec)) return SSL_ERROR_SSL;
            rec += tls13::sealer::key_update_size;
            o.update_due = false;
        }
        auto it = asio::buffer_sequence_begin(buffers);
        std::size_t offset = 0; // into *it
        for (std::size_t left = plain; left > 0;) {
            const std::size_t len = std::min(left, record);
            for (std::size_t copied = 0; copied < len;) {
                const asio::const_buffer b(*it);
                const std::size_t k = std::min(b.size() - offset, len - copied);
                std::memcpy(rec + 5 + copied, static_cast<const unsigned char*>(b.data()) + offset, k);
                copied += k;
                offset += k;
                if (offset == b.size()) ++it, offset = 0;
            }
            if (!sealer.seal(rec, len)) return SSL_ERROR_SSL;
            rec += len + tls13::sealer::overhead;
            left -= len;
        }
        const std::size_t total = static_cast<std::size_t>(rec - sealed);
        std::size_t sent = 0;
        const int e = send_some(sealed, total, sent);
        if (e != SSL_ERROR_WANT_WRITE) {
            n = e == SSL_ERROR_NONE ? plain : 0;
            return e;
        }
        o.out.reset(new unsigned char[total - sent]); // (not zeroed: filled at once)
        std::memcpy(o.out.get(), sealed + sent, total - sent);
        o.out_len = total - sent;
        o.sent = 0;
        o.plain = plain;
        return SSL_ERROR_WANT_WRITE;
    }

    // Sends what is kept of a sealed write; the kept bytes go once all are sent, or it failed.
    int send_kept(std::size_t& n)
    {
        own_records& o = *own_;
        const int e = send_some(o.out.get(), o.out_len, o.sent);
        if (e == SSL_ERROR_WANT_WRITE) return e;
        n = e == SSL_ERROR_NONE ? o.plain : 0;
        o.out.reset();
        o.out_len = o.sent = o.plain = 0;
        return e;
    }

    // Sends `data[sent, len)` as the socket takes it, advancing `sent`: SSL_ERROR_NONE once all
    // is sent, SSL_ERROR_WANT_WRITE when the socket is full, SSL_ERROR_SYSCALL on an error.
    int send_some(const unsigned char* data, std::size_t len, std::size_t& sent)
    {
        while (sent < len) {
            const auto r = ::send(socket_.native_handle(), data + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r < 0) return socket_bio::would_block(errno) ? SSL_ERROR_WANT_WRITE : SSL_ERROR_SYSCALL;
            sent += static_cast<std::size_t>(r);
        }
        return SSL_ERROR_NONE;
    }

    // Sealing itself, nothing is decrypted: what the client sends is discarded
    // (`discard_input`), and our next write begins with a KeyUpdate, in case it was one that
    // asked for ours; eof once the client closes.
    int discard_read(std::size_t& n)
    {
        n = 0;
        bool got = false;
        const asio_error_code ec = discard_input(socket_.native_handle(), got);
        if (got) own_->update_due = true;
        if (ec == asio::error::eof) return SSL_ERROR_ZERO_RETURN;
        if (ec == asio::error::would_block) return got ? SSL_ERROR_NONE : SSL_ERROR_WANT_READ;
        if (!ec) return SSL_ERROR_NONE;
        errno = ec.value(); // for error_of(), as after a failed recv()
        return SSL_ERROR_SYSCALL;
    }

    // Makes the server session on descriptor `fd`; false (nothing made) when OpenSSL cannot.
    bool start(int fd)
    {
        SSL* ssl = SSL_new(ctx_->native_handle());
        BIO* bio = ssl ? socket_bio::make(fd) : nullptr;
        if (!bio) {
            SSL_free(ssl);
            return false;
        }
        own_ = std::make_unique<own_records>();
        tls13::capture(ssl, &std::get<tls13::secret>(own_->keys)); // (heap: it stays put as the stream moves)
        SSL_set_bio(ssl, bio, bio); // one BIO both ways; the SSL frees it
        SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        SSL_set_accept_state(ssl);
        ssl_ = ssl;
        return true;
    }

    asio::ip::tcp::socket socket_;
    std::shared_ptr<asio::ssl::context> ctx_; // the context it started with (set_context may replace the server's)
    SSL* ssl_ = nullptr;
    std::unique_ptr<own_records> own_; // with the SSL, for send_only()
};

} // namespace sse::detail

#endif
