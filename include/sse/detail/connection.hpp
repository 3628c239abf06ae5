// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_CONNECTION_HPP
#define ASIO_SSE_DETAIL_CONNECTION_HPP

#include <sse/authorization.hpp>
#include <sse/detail/asio.hpp>
#include <sse/detail/chunked.hpp>
#include <sse/detail/dispatch.hpp>
#include <sse/detail/http_parser.hpp>
#include <sse/detail/router.hpp>
#include <sse/detail/server_state.hpp>
#include <sse/detail/socket_stream.hpp>
#include <sse/detail/transport.hpp>
#include <sse/stream.hpp>

#include <algorithm>
#include <any>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace sse::detail {

/** @brief Another protocol's taker of a connection (HTTP/2, see `sse/http2.hpp`): the socket
    once its handshake is done, what was read of it already (an `h2c` preface), its slot and the
    peer's address. Set on the server before it starts; read-only after. */
template <class Socket>
struct protocol_handoff {
    std::function<void(Socket, std::string, connection_slot, asio::ip::address)> take;
    /// Whether the first bytes are the other protocol's (cleartext: HTTP/2's preface), not ALPN.
    bool cleartext = false;
};

/// The connection preface every HTTP/2 client sends first (RFC 9113, 3.4).
inline constexpr std::string_view h2_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/** @brief An accepted connection until it becomes a stream: handshake (within the handshake
    timeout), bounded head read (within the head timeout), routing, the body (bounded, within
    the body timeout: `Content-Length` or chunked, `Expect: 100-continue` answered),
    authorization (within what is left of that), plain responses (with keep-alive), and every
    error answer. */
template <class Socket>
class connection final : public session, public std::enable_shared_from_this<connection<Socket>> {
public:
    using strand_type = asio::strand<asio::any_io_executor>;

    connection(Socket socket, strand_type strand, std::shared_ptr<server_state> state,
               std::shared_ptr<const router> routes, connection_slot slot, asio::ip::address remote,
               const protocol_handoff<Socket>* handoff = nullptr)
        : reg_(std::move(state)), socket_(std::move(socket)), strand_(std::move(strand)),
          timer_(strand_.get_inner_executor()),
          routes_(std::move(routes)), slot_(std::move(slot)), remote_(std::move(remote)),
          parser_(reg_.state().options.max_head_bytes, reg_.state().options.max_headers),
          dispatch_(reg_.state(), *routes_), handoff_(handoff && handoff->take ? handoff : nullptr)
    {
    }

    void start()
    {
        reg_.enroll(this->weak_from_this());
        arm_deadline(transport<Socket>::plaintext ? options().head_timeout : options().handshake_timeout);
        transport<Socket>::async_handshake(socket_, bind([self = this->shared_from_this()](std::error_code ec) {
                                               self->on_handshake(ec);
                                           }));
    }

private:
    const server_options& options() const noexcept { return reg_.state().options; }

    // Every completion runs on the connection's strand (the socket and timer use the plain
    // executor: an executor holding a strand would be allocated for each pending operation).
    template <class Handler>
    auto bind(Handler&& h) const
    {
        return asio::bind_executor(strand_, std::forward<Handler>(h));
    }

    void shutdown() override
    {
        asio::dispatch(strand_, [self = this->shared_from_this()] {
            if (!self->busy_) return self->close();
            // an answer is being written: it may finish within the shutdown timeout, not later
            const auto limit = self->options().shutdown_timeout;
            if (self->timer_.expiry() > asio::steady_timer::clock_type::now() + limit) self->arm_deadline(limit);
        });
    }

    void on_handshake(std::error_code ec)
    {
        if (ec) {
            // failed (e.g. plain HTTP on the TLS port); not when the deadline or a stop closed it
            if (socket_.lowest_layer().is_open()) handshake_failed();
            return;
        }
        handshaken_ = true;
        if (handoff_ && !handoff_->cleartext && transport<Socket>::alpn(socket_) == "h2") return hand_off();
        if (!transport<Socket>::plaintext) arm_deadline(options().head_timeout);
        do_read();
    }

    // The connection speaks the other protocol: its socket, slot and what was read go to it.
    void hand_off()
    {
        timer_.cancel();
        phase_ = phase::done;
        handoff_->take(std::move(socket_), std::move(buf_), std::move(slot_), remote_);
    }

    // Cleartext, on the first request only: whether the bytes so far begin HTTP/2's preface
    // (then the whole preface decides).
    bool h2_preface_so_far() const
    {
        if (!handoff_ || !handoff_->cleartext || served_) return false;
        const std::size_t n = std::min(buf_.size(), h2_preface.size());
        return std::string_view(buf_).substr(0, n) == h2_preface.substr(0, n);
    }

    void handshake_failed()
    {
        bump(reg_.state().stats.tls_handshake_failures);
        close();
    }

    // Closes the connection unless the deadline is re-armed or cancelled within `within`.
    void arm_deadline(std::chrono::milliseconds within)
    {
        timer_.expires_after(within);
        timer_.async_wait(bind([self = this->shared_from_this()](std::error_code ec) {
            // a stale wait (the timer was re-armed) sees a deadline still in the future
            if (ec || self->timer_.expiry() > asio::steady_timer::clock_type::now()) return;
            if (!self->handshaken_) return self->handshake_failed();
            if (self->phase_ != phase::body || self->busy_) return self->close();
            self->phase_ = phase::done; // the read still pending must not act on what it gets
            self->reply_error(408);
        }));
    }

    void do_read()
    {
        if (process()) return;
        // a head stops at max_head_bytes (the scan fails there, so there is room); a body's
        // bytes are consumed as they come (chunked) or bounded by its Content-Length
        const std::size_t head_cap =
            h2_preface_so_far() ? std::max(options().max_head_bytes, h2_preface.size()) : options().max_head_bytes;
        const std::size_t cap = phase_ == phase::head ? std::min<std::size_t>(4096, head_cap - buf_.size()) : 4096;
        const std::size_t old = buf_.size();
        buf_.resize(old + cap);
        socket_.async_read_some(asio::buffer(&buf_[old], cap),
                                bind([self = this->shared_from_this(), old](std::error_code ec, std::size_t n) {
                                    if (self->phase_ == phase::done) return; // answered meanwhile (408)
                                    self->buf_.resize(old + n);
                                    if (ec)
                                        self->close();
                                    else
                                        self->do_read();
                                }));
    }

    // Acts on what is buffered; false if more bytes are needed.
    bool process()
    {
        if (phase_ == phase::head) {
            if (!buf_.empty() && h2_preface_so_far()) {
                if (buf_.size() < h2_preface.size()) return false;
                hand_off();
                return true;
            }
            switch (parser_.scan(buf_)) {
            case request_parser::state::need_more: return false;
            case request_parser::state::failed: reply_error(parser_.status()); return true;
            case request_parser::state::complete: break;
            }
            const int status = parser_.parse(std::string_view(buf_).substr(0, parser_.head_size()), req_);
            if (status != 0) {
                reply_error(status);
                return true;
            }
            phase_ = phase::handling; // the head is in: routing, then the body if any
            request_parser::set_remote(req_, remote_);
            buf_.erase(0, parser_.head_size()); // the request keeps its own copy of the head
            return route_head();
        }
        if (phase_ != phase::body) return true;
        // the body: whole before anything acts on the request
        if (parser_.chunked()) {
            std::size_t used = 0;
            const auto st = chunks_->feed(buf_, used);
            buf_.erase(0, used);
            if (st == chunked_decoder::state::need_more) return false;
            if (st == chunked_decoder::state::failed) {
                reply_error(chunks_->status());
                return true;
            }
            request_parser::set_body(req_, std::move(chunks_->body()));
            chunks_.reset();
        } else {
            const std::size_t need = parser_.content_length();
            if (buf_.size() < need) return false;
            request_parser::set_body(req_, buf_.substr(0, need));
            buf_.erase(0, need);
        }
        phase_ = phase::handling;
        if (!interim_in_flight_) handle();
        return true; // (after an interim 100 Continue still being written, its completion handles it)
    }

    // The head is parsed: route it. False if a body must still be read.
    bool route_head()
    {
        const bool has_body = parser_.chunked() || parser_.content_length() != 0;
        if (auto refusal = dispatch_.route_head(req_, has_body, parser_.content_length())) {
            reply_error(std::move(*refusal));
            return true;
        }
        if (!has_body) {
            handle();
            return true;
        }
        phase_ = phase::body;
        arm_deadline(options().body_timeout);
        if (parser_.chunked()) chunks_.emplace(options().max_body_bytes);
        if (auto expect = req_.header("Expect"); expect && req_.version_minor() == 1) {
            if (!iequals(*expect, "100-continue")) {
                reply_error(417);
                return true;
            }
            if (parser_.chunked() || buf_.size() < parser_.content_length()) send_continue();
        }
        return process();
    }

    // `Expect: 100-continue`: the client waits for this before it sends the body. While it is
    // written, the body is read; a request complete before it is out waits for it (see process()).
    void send_continue()
    {
        static const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
        interim_in_flight_ = true;
        asio::async_write(socket_, asio::buffer(interim), bind([self = this->shared_from_this()](std::error_code ec, std::size_t) {
                              self->interim_in_flight_ = false;
                              if (ec) return self->close();
                              if (self->busy_) return self->write_reply(); // an answer waited for it
                              if (self->phase_ == phase::handling) self->handle();
                          }));
    }

    // The request is complete (its body too): answer it, or authorize and open the stream.
    void handle()
    {
        if (!dispatch_.wants_stream()) return answer_plain();
        if (dispatch_.needs_authorization()) return authorize();
        open_stream({});
    }

    // Asks the route's hook; its decision comes back on the strand, within what is left of the
    // head timeout (or of the body timeout, after a body).
    void authorize()
    {
        const bool asked = dispatch_.authorize(req_, [weak = this->weak_from_this(), strand = strand_](auth_decision d) {
            asio::post(strand, [weak, d = std::move(d)]() mutable {
                if (auto self = weak.lock()) self->on_decision(std::move(d));
            });
        });
        if (!asked && !busy_) reply_error(500);
    }

    void on_decision(auth_decision d)
    {
        // the client left, the head timeout passed, the server stopped, or the hook threw
        if (busy_ || !socket_.lowest_layer().is_open()) return;
        switch (d.what) {
        case auth_decision::kind::abandon: return close();
        case auth_decision::kind::deny: return reply_error(dispatch_.denied(d));
        case auth_decision::kind::allow: return open_stream(std::move(d.user));
        }
    }

    // Opens the stream, within the server's and the route's stream limits.
    void open_stream(std::any user)
    {
        if (!dispatch_.stream_allowed()) return reply_error(503);
        become_stream(std::move(user));
    }

    // The socket and the request become a stream on one of the server's shared strands. This
    // connection has a strand of its own, and the route's handler and the answer run here, at
    // once: a hop onto a shared strand that busy streams keep scheduled would delay every new
    // stream's head by a turn of the whole io_context (stream::open is safe off its strand).
    void become_stream(std::any user)
    {
        timer_.cancel();
        dispatch_.open(std::move(req_), std::move(user), std::move(slot_), [this](request req, connection_slot slot) {
            return stream_access::make<Socket>(std::move(socket_), reg_.state().next_lane(), std::move(req),
                                               reg_.state_ptr(), std::move(slot));
        });
    }

    void answer_plain()
    {
        timer_.cancel();
        busy_ = true;
        reply(dispatch_.answer(req_), wants_keep_alive());
    }

    bool wants_keep_alive() const
    {
        auto c = req_.header("Connection");
        if (req_.version_minor() == 0) return c && iequals(*c, "keep-alive");
        return !(c && iequals(*c, "close"));
    }

    void reply_error(int status) { reply_error(dispatch_.error(status)); }

    // Answers with an error (counted) and ends the connection.
    void reply_error(response r) { reply(dispatch_.refused(std::move(r), req_, remote_, phase_ != phase::head), false); }

    void reply(const response& r, bool keep_alive)
    {
        busy_ = true;
        arm_deadline(options().write_timeout); // a client that stops reading must not hold us forever
        out_ = r.serialize(req_.method() == "HEAD", keep_alive);
        keep_alive_ = keep_alive;
        if (!interim_in_flight_) write_reply(); // else once the 100 Continue is out
    }

    void write_reply()
    {
        asio::async_write(socket_, asio::buffer(out_), bind([self = this->shared_from_this()](std::error_code ec, std::size_t) {
                              self->on_replied(ec, self->keep_alive_);
                          }));
    }

    void on_replied(std::error_code ec, bool keep_alive)
    {
        busy_ = false;
        if (ec) return close();
        if (phase_ == phase::done) return close(); // a body timed out: its read is still pending
        if (!keep_alive || reg_.state().stopping.load(std::memory_order_acquire)) return linger();
        // next request on this connection (pipelined bytes may already be buffered)
        phase_ = phase::head;
        served_ = true;
        parser_.reset();
        req_ = request();
        dispatch_ = dispatch(reg_.state(), *routes_);
        arm_deadline(options().head_timeout);
        do_read();
    }

    // After an answer that ends the connection: stop sending, drain what the client still
    // sends (so the close does not reset the answer away), then close. Bounded in time.
    void linger()
    {
        asio_error_code ignored;
        socket_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
        timer_.expires_after(std::min<std::chrono::milliseconds>(options().head_timeout, std::chrono::seconds(2)));
        timer_.async_wait(bind([self = this->shared_from_this()](std::error_code e) {
            if (!e) self->close();
        }));
        drain();
    }

    void drain()
    {
        buf_.resize(4096);
        socket_.async_read_some(asio::buffer(buf_), bind([self = this->shared_from_this()](std::error_code ec, std::size_t) {
            if (ec)
                self->close();
            else
                self->drain();
        }));
    }

    void close()
    {
        asio_error_code ignored;
        timer_.cancel();
        socket_.lowest_layer().close(ignored);
    }

    registered reg_;
    Socket socket_;
    strand_type strand_; // its own (see become_stream)
    asio::steady_timer timer_;
    std::shared_ptr<const router> routes_;
    connection_slot slot_;
    asio::ip::address remote_;
    request_parser parser_;
    std::string buf_, out_;
    request req_;
    std::optional<chunked_decoder> chunks_; // a chunked body being read
    dispatch dispatch_;
    const protocol_handoff<Socket>* handoff_; // HTTP/2, if the server takes it
    enum class phase { head, body, handling, done } phase_ = phase::head;
    bool handshaken_ = false, busy_ = false, served_ = false;
    bool interim_in_flight_ = false, keep_alive_ = false;
};

} // namespace sse::detail

#endif
