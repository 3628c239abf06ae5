// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_H2_CONNECTION_HPP
#define ASIO_SSE_DETAIL_H2_CONNECTION_HPP

#include <sse/detail/asio.hpp>
#include <sse/detail/dispatch.hpp>
#include <sse/detail/h2_session.hpp>
#include <sse/detail/h2_stream.hpp>
#include <sse/detail/http_parser.hpp>
#include <sse/detail/router.hpp>
#include <sse/detail/server_state.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sse::detail {

/** @brief One HTTP/2 connection: its socket, its nghttp2 session (`h2_session`) and its
    streams, all on one lane's strand (its streams' strand too).

    Each complete request goes through the same `dispatch` as over HTTP/1.1 (routes, CORS,
    authorization, limits): a plain answer, or an `h2_stream`. One socket write at a time,
    of what nghttp2 has ready (at most `write_chunk` bytes): a stream's batch counts as
    written when the write holding its last frame completes, so a client that does not read
    meets its streams' queue bounds and write timeouts as over HTTP/1.1, and the connection
    itself closes once a write stalls for the write timeout. A request whose body does not
    arrive within the body timeout gets 408. On stop: GOAWAY, then the connection closes when
    its streams have ended (within the shutdown timeout). */
template <class Socket>
class h2_connection final : public session, public h2_link, public std::enable_shared_from_this<h2_connection<Socket>> {
public:
    static constexpr std::size_t write_chunk = 64 * 1024;

    h2_connection(Socket socket, std::shared_ptr<server_state> state, std::shared_ptr<const router> routes,
                  connection_slot slot, asio::ip::address remote, const h2_limits& limits)
        : reg_(std::move(state)), socket_(std::move(socket)), lane_(reg_.state().next_lane()), routes_(std::move(routes)),
          slot_(std::move(slot)), remote_(std::move(remote)), h2_(limits)
    {
    }

    /// Starts serving, with `received` (bytes already read: the cleartext preface) first.
    void start(std::string received)
    {
        asio::dispatch(lane_.strand(), [self = this->shared_from_this(), received = std::move(received)] {
            self->reg_.enroll(self->weak_from_this());
            bump(self->reg_.state().stats.http2_connections);
            self->idle_since_ = std::chrono::steady_clock::now();
            // a stop() that began before the enrolment did not see this connection
            if (self->reg_.state().stopping.load(std::memory_order_acquire)) self->shutdown();
            if (!received.empty() && !self->take(received.data(), received.size())) return;
            if (self->send_now()) self->do_read();
        });
    }

    // h2_link, on the strand
    void open(std::int32_t id, int status, const std::vector<std::pair<std::string, std::string>>& fields) override
    {
        h2_.open(id, status, fields);
        want_send();
    }
    bool send(std::int32_t id, h2_session::source& part) override
    {
        if (!h2_.send(id, part)) return false; // the stream has closed: its close is on its way
        want_send();
        return true;
    }
    void reset(std::int32_t id, std::uint32_t code) override
    {
        h2_.reset(id, code);
        want_send();
    }
    void handed(std::shared_ptr<h2_stream> s, std::size_t bytes) override
    {
        handed_.emplace_back(std::move(s), bytes);
        if (!collecting_) want_send(); // a batch of no bytes, handed outside a collect: a write must follow
    }

private:
    const server_options& options() const noexcept { return reg_.state().options; }

    template <class Handler>
    auto bind(Handler&& h) const
    {
        return asio::bind_executor(lane_.strand(), std::forward<Handler>(h));
    }

    // A plain answer's body, for nghttp2 to read.
    struct plain_body final : h2_session::source {
        std::string bytes;
        std::size_t pos = 0;
        std::size_t read(std::uint8_t* out, std::size_t n, bool& eof) override
        {
            const std::size_t k = std::min(n, bytes.size() - pos);
            std::copy_n(bytes.data() + pos, k, out);
            pos += k;
            eof = pos == bytes.size();
            return k;
        }
    };

    // A request routed to a stream (while its authorization is pending, and as it opens).
    struct routed {
        routed(server_state& st, const router& r) : route(st, r) {}
        dispatch route;
        request req; // while authorizing
        std::chrono::steady_clock::time_point deadline{std::chrono::steady_clock::time_point::max()};
    };

    // What a stream of this connection is: a request on its way (routed, authorizing until
    // `deadline`), a plain answer being sent, or a stream (one kept per HTTP/2 stream: small).
    struct entry {
        std::unique_ptr<routed> pending;
        std::unique_ptr<plain_body> plain;
        std::shared_ptr<h2_stream> stream;
        bool answered() const noexcept { return plain || stream; }
    };

    void shutdown() override
    {
        asio::dispatch(lane_.strand(), [self = this->shared_from_this()] {
            if (self->stopping_ || !self->socket_.lowest_layer().is_open()) return;
            self->stopping_ = true;
            self->stop_deadline_ = std::chrono::steady_clock::now() + self->options().shutdown_timeout;
            self->h2_.goaway();
            self->want_send();
        });
    }

    void sweep(std::chrono::steady_clock::time_point now) override
    {
        asio::dispatch(lane_.strand(), [self = this->shared_from_this(), now] { self->housekeeping(now); });
    }

    void housekeeping(std::chrono::steady_clock::time_point now)
    {
        if (!socket_.lowest_layer().is_open()) return;
        if (writing_ && now - write_started_ >= options().write_timeout) {
            bump(reg_.state().stats.write_timeouts);
            return end(make_error_code(error::write_timeout));
        }
        if ((stopping_ && now >= stop_deadline_) || (lingering_ && now >= linger_deadline_)) return end({});
        for (std::int32_t id : h2_.stale(now - options().body_timeout)) refuse(id, 408);
        // an authorization that does not decide within the head timeout: the stream is reset
        std::vector<std::int32_t> undecided;
        for (const auto& [id, e] : entries_)
            if (e.pending && !e.answered() && now >= e.pending->deadline) undecided.push_back(id);
        for (std::int32_t id : undecided) {
            entries_[id].pending.reset();
            reset(id, NGHTTP2_CANCEL);
        }
        // a connection with nothing open for the head timeout ends, as an idle keep-alive one does
        if (!closing_ && !stopping_ && entries_.empty() && !h2_.receiving() && !writing_ &&
            now - idle_since_ >= options().head_timeout) {
            h2_.goaway();
            closing_ = true;
        }
        want_send();
    }

    // Reads and acts on what comes; once lingering, reads and discards until the client closes.
    // Plain TCP waits for readability, then reads what is there into the thread's buffer (the
    // session consumes it at once): an idle connection holds no read buffer. TLS reads into one
    // of its own.
    void do_read()
    {
        if (reading_) return; // (a send_now() that began lingering has started it already)
        reading_ = true;
        if constexpr (transport<Socket>::plaintext) {
            socket_.async_wait(asio::socket_base::wait_read, bind([self = this->shared_from_this()](std::error_code ec) {
                self->reading_ = false;
                if (ec) return self->end(ec);
                self->read_ready();
            }));
        } else {
            if (!in_) in_ = std::make_unique<char[]>(read_chunk);
            socket_.async_read_some(asio::buffer(in_.get(), read_chunk),
                                    bind([self = this->shared_from_this()](std::error_code ec, std::size_t n) {
                                        self->reading_ = false;
                                        if (ec) return self->end(ec);
                                        if (!self->lingering_ && !self->take(self->in_.get(), n)) return;
                                        if (self->send_now()) self->do_read();
                                    }));
        }
    }

    // Plain TCP, readable: reads without blocking (a bounded amount per wakeup) and acts on it.
    void read_ready()
    {
        thread_local char buf[16 * 1024];
        asio_error_code ec;
        if (!socket_.non_blocking()) socket_.non_blocking(true, ec);
        for (int i = 0; i < 16 && !ec; ++i) {
            const std::size_t n = socket_.read_some(asio::buffer(buf), ec);
            if (ec == asio::error::would_block) break;
            if (ec) return end(ec);
            if (!lingering_ && !take(buf, n)) return;
        }
        if (send_now()) do_read();
    }

    // The last frames (a GOAWAY) are written: stop sending and drain what the client still
    // sends, so that closing does not reset the GOAWAY away; bounded in time (housekeeping).
    void linger()
    {
        if (lingering_) return;
        lingering_ = true;
        linger_deadline_ =
            std::chrono::steady_clock::now() + std::min<std::chrono::milliseconds>(options().head_timeout, std::chrono::seconds(2));
        asio_error_code ignored;
        socket_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
        do_read();
    }

    // Feeds what was read to the session and acts on it; false once the connection ends.
    bool take(const char* data, std::size_t n)
    {
        const auto resets = h2_.resets_received();
        const int rv = h2_.feed(data, n);
        bump(reg_.state().stats.http2_resets, h2_.resets_received() - resets);
        if (rv != 0) {
            bump(h2_.abused() != h2_session::abuse::none ? reg_.state().stats.http2_abuse_closes
                                                         : reg_.state().stats.http2_protocol_errors);
            closing_ = true; // the GOAWAY goes out, then the connection closes
            want_send();
            return false;
        }
        for (auto [id, code] : h2_.take_closed()) closed(id, code);
        for (std::int32_t id : h2_.take_requests()) requested(id);
        return true;
    }

    void closed(std::int32_t id, std::uint32_t code)
    {
        auto it = entries_.find(id);
        if (it == entries_.end()) return;
        if (it->second.stream)
            it->second.stream->peer_closed(code == NGHTTP2_NO_ERROR ? make_error_code(asio::error::eof)
                                                                    : make_error_code(asio::error::connection_reset));
        entries_.erase(it);
        if (entries_.empty()) idle_since_ = std::chrono::steady_clock::now();
    }

    // A request is complete (or refused before it is): answer it, or open its stream.
    void requested(std::int32_t id)
    {
        h2_session::incoming* in = h2_.request(id);
        if (!in) return;
        bump(reg_.state().stats.http2_streams);
        if (in->refusal) return refuse(id, in->refusal);
        request req;
        if (const int status = parse_head(*in, req)) return refuse(id, status);
        request_parser::set_body(req, std::move(in->body));
        h2_.answered(id);
        const bool head = req.method() == "HEAD";
        entry& e = entries_[id];
        e.pending = std::make_unique<routed>(reg_.state(), *routes_);
        dispatch& d = e.pending->route;
        if (auto refusal = d.route_head(req, !req.body().empty(), req.body().size()))
            return reply(id, d.refused(std::move(*refusal), req, remote_, true), head);
        if (!d.wants_stream()) return reply(id, d.answer(req), head);
        if (!d.needs_authorization()) return open_stream(id, std::move(req), {});
        e.pending->deadline = std::chrono::steady_clock::now() + options().head_timeout;
        const bool asked = d.authorize(req, [weak = this->weak_from_this(), strand = lane_.strand(), id](auth_decision dec) {
            asio::post(strand, [weak, id, dec = std::move(dec)]() mutable {
                if (auto self = weak.lock()) self->decided(id, std::move(dec));
            });
        });
        if (!asked) return reply(id, d.refused(d.error(500), req, remote_, true), head); // (a decision it posted is ignored)
        e.pending->req = std::move(req);
    }

    void decided(std::int32_t id, auth_decision dec)
    {
        auto it = entries_.find(id);
        if (it == entries_.end() || !it->second.pending || it->second.answered()) return; // reset or answered meanwhile
        routed& r = *it->second.pending;
        const bool head = r.req.method() == "HEAD";
        switch (dec.what) {
        case auth_decision::kind::abandon:
            it->second.pending.reset();
            return reset(id, NGHTTP2_CANCEL);
        case auth_decision::kind::deny: return reply(id, r.route.refused(r.route.denied(dec), r.req, remote_, true), head);
        case auth_decision::kind::allow: return open_stream(id, std::move(r.req), std::move(dec.user));
        }
    }

    void open_stream(std::int32_t id, request req, std::any user)
    {
        entry& e = entries_[id];
        if (e.answered() || !e.pending) return;
        const auto pending = std::move(e.pending); // the route, until the stream is open
        dispatch& d = pending->route;
        if (!d.stream_allowed()) return reply(id, d.refused(d.error(503), req, remote_, true), req.method() == "HEAD");
        d.open(std::move(req), std::move(user), connection_slot(), [&](request r, connection_slot slot) {
            e.stream = std::make_shared<h2_stream>(lane_, std::move(r), reg_.state_ptr(), std::move(slot),
                                                   this->shared_from_this(), id);
            return e.stream;
        });
    }

    // A request refused before it was routed (its head or body is over a limit, malformed, or
    // late): the answer, counted, with its route's CORS grant where its head can be read (as
    // over HTTP/1.1); an incomplete request is also reset (NO_ERROR: "stop sending").
    void refuse(std::int32_t id, int status)
    {
        h2_session::incoming* in = h2_.request(id);
        const bool complete = in && in->complete, head = in && in->method == "HEAD";
        dispatch d(reg_.state(), *routes_);
        request req;
        const bool parsed = in && !in->head.empty() && parse_head(*in, req) == 0;
        if (parsed)
            (void)d.route_head(req, false, 0); // for the route only: the answer is `status`
        else
            req = request();
        reply(id, d.refused(d.error(status), req, remote_, parsed), head, !complete);
    }

    // The request of `in`'s head, from this connection's client: 0, or the status refusing it.
    int parse_head(const h2_session::incoming& in, request& req) const
    {
        request_parser parser(options().max_head_bytes, options().max_headers);
        const int status = parser.parse(in.head, req);
        if (status == 0) request_parser::set_remote(req, remote_);
        return status;
    }

    // Answers stream `id` with `r` (without its body: `head_only`), once; `then_reset` for a
    // request the client has not finished.
    void reply(std::int32_t id, const response& r, bool head_only, bool then_reset = false)
    {
        h2_.answered(id);
        entry& e = entries_[id];
        if (e.answered()) return;
        e.pending.reset(); // the request is done with
        std::vector<std::pair<std::string, std::string>> fields = r.headers();
        const bool has_body = response::has_content(r.status());
        if (has_body) fields.emplace_back("content-length", std::to_string(r.body().size()));
        auto body = std::make_unique<plain_body>();
        if (has_body && !head_only) body->bytes = r.body();
        h2_.respond(id, r.status(), fields, body->bytes.empty() ? nullptr : body.get(), then_reset);
        e.plain = std::move(body);
        want_send();
    }

    // After a read: what it led to is written at once (not after the other connections'
    // reads), so that its frames do not wait in the session meanwhile. False if that ended
    // the connection.
    bool send_now()
    {
        send();
        return socket_.lowest_layer().is_open();
    }

    void want_send()
    {
        if (send_posted_ || writing_) return;
        send_posted_ = true;
        asio::post(lane_.strand(), [self = this->shared_from_this()] {
            self->send_posted_ = false;
            self->send();
        });
    }

    // Writes what the session has ready; one write at a time.
    void send()
    {
        if (writing_ || !socket_.lowest_layer().is_open()) return;
        out_.clear();
        collecting_ = true; // (what is handed meanwhile goes out with this write: no other send needed)
        const bool ok = h2_.collect(out_, write_chunk);
        collecting_ = false;
        if (!ok) return end(make_error_code(asio::error::connection_aborted));
        if (h2_.protocol_failed() && !closing_) {
            bump(reg_.state().stats.http2_protocol_errors); // nghttp2 answered it with GOAWAY
            closing_ = true;
        }
        for (auto [id, code] : h2_.take_closed()) closed(id, code); // streams the frames just sent ended
        std::vector<std::pair<std::shared_ptr<h2_stream>, std::size_t>> written;
        written.swap(handed_);
        if (out_.empty()) {
            std::string().swap(out_); // an idle connection holds no output buffer
            for (auto& w : written) w.first->sent(w.second);
            if (closing_ || !h2_.alive() || (stopping_ && entries_.empty())) linger();
            return;
        }
        writing_ = true;
        write_started_ = std::chrono::steady_clock::now();
        asio::async_write(socket_, asio::buffer(out_),
                          bind([self = this->shared_from_this(), written = std::move(written)](std::error_code ec, std::size_t) {
                              self->writing_ = false;
                              if (ec) return self->end(ec);
                              // the next write first: its first step tells nghttp2 that these
                              // frames went out, which detaches their streams' parts, so that
                              // the parts sent() leads to can be submitted
                              self->send();
                              for (auto& w : written) w.first->sent(w.second);
                          }));
    }

    // The connection ends: every stream with it.
    void end(std::error_code ec)
    {
        asio_error_code ignored;
        socket_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        socket_.lowest_layer().close(ignored);
        auto entries = std::move(entries_);
        entries_.clear();
        handed_.clear();
        std::error_code why = ec;
        if (!why) why = make_error_code(asio::error::connection_aborted);
        for (auto& e : entries)
            if (e.second.stream) e.second.stream->peer_closed(why);
        reg_.leave(); // (the buffers stay: an operation completing now may still read them)
        slot_.release();
    }

    static constexpr std::size_t read_chunk = 4096; // TLS; a client sends little: requests, window updates

    registered reg_;
    Socket socket_;
    lane& lane_;
    std::shared_ptr<const router> routes_;
    connection_slot slot_;
    asio::ip::address remote_;
    h2_session h2_;
    std::map<std::int32_t, entry> entries_;
    std::vector<std::pair<std::shared_ptr<h2_stream>, std::size_t>> handed_; // batches in the frames being collected
    std::unique_ptr<char[]> in_; // TLS only
    std::string out_;
    std::chrono::steady_clock::time_point write_started_{}, stop_deadline_{}, linger_deadline_{}, idle_since_{};
    bool writing_ = false, send_posted_ = false, collecting_ = false, closing_ = false, stopping_ = false, reading_ = false, lingering_ = false;
};

} // namespace sse::detail

#endif
