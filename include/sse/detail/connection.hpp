// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_CONNECTION_HPP
#define ASIO_SSE_DETAIL_CONNECTION_HPP

#include <sse/authorization.hpp>
#include <sse/detail/asio.hpp>
#include <sse/detail/cors.hpp>
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
#include <string>

namespace sse::detail {

/// The response head that opens every stream, with `extra` headers (and the `retry:` line,
/// if configured).
inline std::string stream_head(const server_options& o, const std::vector<std::pair<std::string, std::string>>& extra)
{
    std::string head = "HTTP/1.1 200 OK\r\n"
                       "Content-Type: text/event-stream; charset=utf-8\r\n"
                       "Cache-Control: no-cache\r\n"
                       "Connection: keep-alive\r\n"
                       "X-Accel-Buffering: no\r\n";
    for (const auto& h : extra) head.append(h.first).append(": ").append(h.second).append("\r\n");
    head.append("\r\n");
    if (o.retry) head.append("retry: ").append(std::to_string(o.retry->count())).append("\n");
    return head;
}

/// The CORS grant of `r`'s route (none if the route has no policy).
inline std::vector<std::pair<std::string, std::string>> grant_for(const route& rt, const request& r)
{
    return rt.options.cors ? cors_grant(*rt.options.cors, r) : std::vector<std::pair<std::string, std::string>>();
}

/** @brief An accepted connection until it becomes a stream: handshake (within the handshake
    timeout), bounded head read (within the head timeout), routing, authorization (within what
    is left of the head timeout), plain responses (with keep-alive), and every error answer. */
template <class Socket>
class connection final : public session, public std::enable_shared_from_this<connection<Socket>> {
public:
    using strand_type = asio::strand<asio::any_io_executor>;

    connection(Socket socket, strand_type strand, std::shared_ptr<server_state> state,
               std::shared_ptr<const router> routes, connection_slot slot, asio::ip::address remote)
        : reg_(std::move(state)), socket_(std::move(socket)), strand_(std::move(strand)),
          timer_(strand_.get_inner_executor()),
          routes_(std::move(routes)), slot_(std::move(slot)), remote_(std::move(remote)),
          parser_(reg_.state().options.max_head_bytes, reg_.state().options.max_headers)
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
        if (!transport<Socket>::plaintext) arm_deadline(options().head_timeout);
        do_read();
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
            if (self->handshaken_)
                self->close();
            else
                self->handshake_failed();
        }));
    }

    void do_read()
    {
        if (process()) return;
        const std::size_t cap = std::min<std::size_t>(4096, limit() - buf_.size());
        const std::size_t old = buf_.size();
        buf_.resize(old + cap);
        socket_.async_read_some(asio::buffer(&buf_[old], cap),
                                bind([self = this->shared_from_this(), old](std::error_code ec, std::size_t n) {
                                    self->buf_.resize(old + n);
                                    if (ec)
                                        self->close();
                                    else
                                        self->do_read();
                                }));
    }

    // The most a request may buffer: its head and body (the sum saturates: SIZE_MAX is "no limit").
    std::size_t limit() const noexcept
    {
        const std::size_t head = options().max_head_bytes, body = options().max_body_bytes;
        return body > SIZE_MAX - head ? SIZE_MAX : head + body;
    }

    // Acts on what is buffered; false if more bytes are needed.
    bool process()
    {
        if (!have_head_) {
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
            have_head_ = true;
            request_parser::set_remote(req_, remote_);
            return route_head();
        }
        // reading the body of a plain request
        const std::size_t need = parser_.head_size() + parser_.content_length();
        if (buf_.size() < need) return false;
        request_parser::set_body(req_, buf_.substr(parser_.head_size(), parser_.content_length()));
        buf_.erase(0, need);
        answer_plain();
        return true;
    }

    // The head is parsed: route it. False if a body must still be read.
    bool route_head()
    {
        auto& st = reg_.state();
        if (st.stopping.load(std::memory_order_acquire)) {
            reply_error(503);
            return true;
        }
        route_ = routes_->find(req_.path());
        if (!route_) {
            reply_error(404);
            return true;
        }
        preflight_ = req_.method() == "OPTIONS" && route_->options.cors;
        const bool wants_stream =
            !preflight_ && route_->on_stream && (!route_->on_request || req_.accepts_event_stream());
        if (!wants_stream) {
            if (parser_.content_length() > options().max_body_bytes) {
                reply_error(413);
                return true;
            }
            return process();
        }
        if (req_.method() != "GET" && req_.method() != "HEAD") {
            response r(405, "405 Method Not Allowed\n");
            reply_error(r.header("Allow", "GET, HEAD"));
            return true;
        }
        if (parser_.content_length() != 0) {
            reply_error(response(400, "400 Bad Request: a stream request takes no body\n"));
            return true;
        }
        if (route_->options.authorize) {
            authorize();
            return true;
        }
        open_stream({});
        return true;
    }

    // Asks the route's hook; its decision comes back on the strand, within the head timeout.
    void authorize()
    {
        auto done = authorization_access::make([weak = this->weak_from_this(), strand = strand_](auth_decision d) {
            asio::post(strand, [weak, d = std::move(d)]() mutable {
                if (auto self = weak.lock()) self->on_decision(std::move(d));
            });
        });
        try {
            route_->options.authorize(req_, std::move(done));
        } catch (...) {
            bump(reg_.state().stats.handler_errors);
            if (!busy_) reply_error(500);
        }
    }

    void on_decision(auth_decision d)
    {
        // the client left, the head timeout passed, the server stopped, or the hook threw
        if (busy_ || !socket_.lowest_layer().is_open()) return;
        switch (d.what) {
        case auth_decision::kind::abandon: return close();
        case auth_decision::kind::deny:
            bump(reg_.state().stats.authorization_denied);
            for (auto& h : grant_for(*route_, req_)) d.denial->header(std::move(h.first), std::move(h.second));
            return reply_error(*d.denial);
        case auth_decision::kind::allow: return open_stream(std::move(d.user));
        }
    }

    // Opens the stream, within the server's and the route's stream limits.
    void open_stream(std::any user)
    {
        const auto& ro = route_->options;
        if ((options().max_streams && reg_.state().stats.streams_open.load() >= options().max_streams) ||
            (ro.max_streams && route_->streams->load() >= ro.max_streams))
            return reply_error(503);
        become_stream(std::move(user));
    }

    // The socket and the request become a stream on one of the server's shared strands. This
    // connection has a strand of its own, and the route's handler and the answer run here, at
    // once: a hop onto a shared strand that busy streams keep scheduled would delay every new
    // stream's head by a turn of the whole io_context (stream::open is safe off its strand).
    void become_stream(std::any user)
    {
        timer_.cancel();
        slot_.count_in(route_->streams);
        auto s = stream_access::make<Socket>(std::move(socket_), reg_.state().next_lane(), std::move(req_),
                                             reg_.state_ptr(), std::move(slot_));
        s->user() = std::move(user);
        const auto grant = grant_for(*route_, s->request());
        try {
            route_->on_stream(s);
        } catch (...) {
            bump(reg_.state().stats.handler_errors);
            try {
                s->reject(error_response(500));
            } catch (const std::logic_error&) {
            }
        }
        stream_access::open(*s, stream_head(options(), grant));
    }

    void answer_plain()
    {
        timer_.cancel();
        busy_ = true;
        const bool keep_alive = wants_keep_alive();
        if (preflight_) {
            const char* methods = route_->on_request ? "GET, HEAD, POST" : "GET, HEAD";
            return reply(cors_preflight(*route_->options.cors, req_, methods), keep_alive);
        }
        try {
            response r = route_->on_request(req_);
            for (auto& h : grant_for(*route_, req_)) r.header(std::move(h.first), std::move(h.second));
            reply(r, keep_alive);
        } catch (...) {
            bump(reg_.state().stats.handler_errors);
            reply_error(500);
        }
    }

    bool wants_keep_alive() const
    {
        auto c = req_.header("Connection");
        if (req_.version_minor() == 0) return c && iequals(*c, "keep-alive");
        return !(c && iequals(*c, "close"));
    }

    void reply_error(int status)
    {
        response r = error_response(status);
        if (status == 503) r.header("Retry-After", std::to_string(options().retry_after.count()));
        reply_error(r);
    }

    // Answers with an error (counted) and ends the connection.
    void reply_error(const response& r)
    {
        bump(reg_.state().stats.requests_rejected);
        reg_.state().tell(lifecycle_event::kind::rejected, remote_, have_head_ ? req_.path() : std::string_view(),
                          r.status());
        reply(r, false);
    }

    void reply(const response& r, bool keep_alive)
    {
        busy_ = true;
        arm_deadline(options().write_timeout); // a client that stops reading must not hold us forever
        out_ = r.serialize(req_.method() == "HEAD", keep_alive);
        asio::async_write(socket_, asio::buffer(out_),
                          bind([self = this->shared_from_this(), keep_alive](std::error_code ec, std::size_t) {
                              self->on_replied(ec, keep_alive);
                          }));
    }

    void on_replied(std::error_code ec, bool keep_alive)
    {
        busy_ = false;
        if (ec) return close();
        if (!keep_alive || reg_.state().stopping.load(std::memory_order_acquire)) return linger();
        // next request on this connection (pipelined bytes may already be buffered)
        have_head_ = false;
        parser_.reset();
        req_ = request();
        arm_deadline(options().head_timeout);
        do_read();
    }

    // After an answer that ends the connection: stop sending, drain what the client still
    // sends (so the close does not reset the answer away), then close. Bounded in time.
    void linger()
    {
        std::error_code ignored;
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
        std::error_code ignored;
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
    const route* route_ = nullptr;
    bool handshaken_ = false, have_head_ = false, busy_ = false, preflight_ = false;
};

} // namespace sse::detail

#endif
