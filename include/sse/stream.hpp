// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_STREAM_HPP
#define ASIO_SSE_STREAM_HPP

#include <sse/detail/asio.hpp>
#include <sse/detail/membership.hpp>
#include <sse/detail/send_queue.hpp>
#include <sse/detail/server_state.hpp>
#include <sse/detail/shared_buffer.hpp>
#include <sse/error.hpp>
#include <sse/event.hpp>
#include <sse/request.hpp>
#include <sse/response.hpp>

#include <any>
#include <chrono>
#include <cstdint>
#include <forward_list>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sse {

class stream;

/// Streams are shared: the server, timers and user code each hold a reference.
using stream_ptr = std::shared_ptr<stream>;

namespace detail {
struct stream_access;
class fanout;
} // namespace detail

/** @brief One open `text/event-stream` response: the connection to one client.

    The server makes a stream for each request on a stream route and hands it to the route's
    handler. Inside the handler the stream has not answered yet: the handler may `reject()` it
    (e.g. 204 tells a browser to stop reconnecting, 401/403 for auth). When the handler returns,
    the stream writes its head (`200`, `Content-Type: text/event-stream; charset=utf-8`,
    `Cache-Control: no-cache`, `Connection: keep-alive`, `X-Accel-Buffering: no`), then whatever
    was sent, in order.

    Events are serialized once and queued; everything queued goes out in gather writes. The
    queue is bounded (`server_options::max_queue_bytes`); a client that does not keep up meets
    the overflow policy. A pending wait (a read, over TLS) notices a client that goes away even
    while nothing is sent: the stream then cancels its timers, runs its `on_close` callbacks
    once, leaves its channels and is freed when the last reference goes. A closed stream holds
    no socket, timer or work (its socket goes once its last operation completes): holding it
    does not keep `io_context::run()` from returning after `stop()`, and it may be destroyed
    after its `io_context` (its member functions need the context alive).

    @par Thread Safety
    Every member function may be called from any thread. Timer and close callbacks run on the
    stream's strand (`get_executor()`), one at a time. The server shares a fixed set of strands
    among its streams: a callback that blocks holds up the other streams on its strand too, and
    one that waits for another stream's work (e.g. `async_send(..., use_future)` then `get()`)
    may deadlock, when the two share a strand.
*/
class stream : public detail::session, public detail::flushable, public std::enable_shared_from_this<stream> {
public:
    using executor_type = asio::strand<asio::any_io_executor>;
    using clock = std::chrono::steady_clock;

    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;
    ~stream() override = default;

    /// The strand every callback of this stream runs on (shared with some other streams).
    executor_type get_executor() const noexcept { return lane_.strand(); }

    /// The request that opened the stream.
    const sse::request& request() const noexcept { return request_; }

    /** @brief Answers the request with the plain response `r` instead of opening the stream
        (only inside the route handler): a JSON answer, `202 Accepted`, or a refusal. What was
        sent meanwhile is discarded; the connection closes after the answer. A browser's
        `EventSource` gives up for good on any non-200 status; answer 204 to say "stop".
        @code
        if (!wants_stream) return s->respond(sse::response(200, json, "application/json"));
        @endcode
        @throws std::logic_error if the stream has already answered. */
    void respond(response r)
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (state_ != state::handshake) throw std::logic_error("sse::stream::respond: stream already answered");
        rejection_ = std::make_unique<response>(std::move(r));
    }

    /// The same as `respond(r)`: the name for a refusal (`401`, `403`, `204`).
    void reject(response r) { respond(std::move(r)); }

    /** @brief Adds a header to the stream's `200` head (only inside the route handler), e.g.
        `Mcp-Session-Id`. @throws std::logic_error if the stream has already answered;
        std::invalid_argument if `name: value` cannot be sent (see `response::header`), or is
        one the head sets itself (`Content-Type`, `Cache-Control`, `Connection`,
        `Content-Length`, `Transfer-Encoding`). */
    void header(std::string name, std::string value)
    {
        for (const char* own : {"Content-Type", "Cache-Control", "Connection", "Content-Length", "Transfer-Encoding"})
            if (detail::iequals(name, own)) throw std::invalid_argument("sse::stream::header: the stream sets " + name);
        if (!response::valid_header(name, value)) throw std::invalid_argument("sse::stream::header: invalid header \"" + name + "\"");
        std::lock_guard<std::mutex> lock(mu_);
        if (state_ != state::handshake) throw std::logic_error("sse::stream::header: stream already answered");
        head_headers_.emplace_back(std::move(name), std::move(value));
    }

    /** @brief Queues `e` for sending (fire and forget).
        @return false, and nothing is sent, if the stream is closed or closing, or the event met
        the overflow policy. */
    bool send(const event& e) { return enqueue(detail::serialized(e), e.id() ? &*e.id() : nullptr, kind::event); }

    /// Queues a comment (`: text`, one line per line of `text`); false if not queued.
    bool send_comment(std::string_view text)
    {
        std::string bytes;
        serialize_comment(text, bytes);
        return enqueue(detail::make_shared_buffer(std::move(bytes)), nullptr, kind::comment);
    }

    /** @brief Sends `e` and completes when it has been written to the socket.

        Completion signature `void(std::error_code)`: success, `sse::error::stream_closed` if
        the stream closed first, or `sse::error::queue_overflow`. Works with callbacks,
        `asio::use_future` and `asio::use_awaitable`. The handler is never called from inside
        this function; it runs on its associated executor (default: the stream's strand). */
    template <class CompletionToken = asio::default_completion_token_t<executor_type>>
    auto async_send(event e, CompletionToken&& token = asio::default_completion_token_t<executor_type>())
    {
        return asio::async_initiate<CompletionToken, void(detail::asio_error_code)>(
            [self = shared_from_this()](auto handler, event ev) {
                auto done = self->make_completion(std::move(handler));
                self->enqueue(detail::serialized(ev), ev.id() ? &*ev.id() : nullptr, kind::event, std::move(done));
            },
            token, std::move(e));
    }

    /** @brief Calls `fn` on the strand every `interval` (first call after one interval) until the
        stream closes. Ticks do not drift: each is scheduled from the previous deadline. A tick
        may run up to 1 ms late: deadlines are rounded up to the millisecond so that the timers
        of many streams falling due together share one wakeup. `fn` is destroyed when the
        stream closes (or its io_context goes), so it may hold the stream (`[s]`). */
    void every(clock::duration interval, std::function<void()> fn)
    {
        start_timer(interval, std::move(fn), true);
    }

    /// Calls `fn` on the strand once, after `delay` (up to 1 ms more), unless the stream closes
    /// first; then destroys it, as `every()` does.
    void after(clock::duration delay, std::function<void()> fn) { start_timer(delay, std::move(fn), false); }

    /** @brief Registers `fn` to run once when the stream closes, with the reason (an empty code
        for a server-side `close()`, a peer error such as `asio::error::eof`, or an `sse::error`).
        If the stream is already closed, `fn` runs soon on the strand. */
    void on_close(std::function<void(std::error_code)> fn)
    {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (state_ != state::closed) {
                close_callbacks_.push_back(std::move(fn));
                return;
            }
        }
        asio::post(lane_.strand(), [self = shared_from_this(), fn = std::move(fn)]() {
            self->invoke([&] { fn(self->close_reason_); });
        });
    }

    /** @brief Ends the stream from the server side: what is queued is flushed first (within
        the write timeout), then the connection closes. Idempotent. */
    void close()
    {
        if (is_closed()) return;
        asio::dispatch(lane_.strand(), [self = shared_from_this()] { self->begin_close({}, self->options().write_timeout); });
    }

    /// True until the stream starts closing.
    bool is_open() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return state_ == state::handshake || state_ == state::open;
    }

    /// The id of the last event accepted for sending on this stream (empty if none).
    std::string last_event_id() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return last_id_;
    }

    /// What the events, comments and heartbeats queued and not yet written cost against
    /// `max_queue_bytes`: their bytes plus a fixed charge per item (`server_options::max_queue_bytes`).
    /// The response head and channel history replays are not counted: their size is bounded already.
    std::size_t queued_bytes() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return queue_.bytes();
    }

    /** @brief A value the application attaches to the stream (e.g. the authenticated user),
        for its handlers and channel filters. Set it before sharing the stream across threads. */
    std::any& user() noexcept { return user_; }
    const std::any& user() const noexcept { return user_; }

protected:
    stream(detail::lane& lane, sse::request req, std::shared_ptr<detail::server_state> state,
           detail::connection_slot slot)
        : reg_(std::move(state)), slot_(std::move(slot)), lane_(lane), request_(std::move(req)),
          queue_(options().max_queue_bytes)
    {
    }

    using write_buffers = detail::send_queue::buffer_sequence;

    /// Starts one `async_write_some` of `buffers` (the derived class owns the socket); calls `on_write`.
    virtual void start_write(const write_buffers& buffers) = 0;
    /// Starts a read that watches the socket; calls `on_read` when it completes.
    virtual void start_read() = 0;
    /// Closes the socket (and lets it go once no operation of it is pending).
    virtual void close_transport() noexcept = 0;

    /** The bytes that answer the request, written first: the stream's head with `extra`
        headers (and its preamble), or the plain `rejection`, for HTTP/1.1. A transport with
        framing of its own (HTTP/2) keeps the status and headers for its frames and returns the
        body alone. Called once, under the stream's lock, before the first `start_write`. */
    virtual std::string answer_bytes(const response* rejection, const std::vector<std::pair<std::string, std::string>>& extra,
                                     bool head_only);
    /// Writes what of `buffers` the socket takes without waiting (plain TCP); when it takes
    /// nothing, or cannot write that way (TLS), sets `asio::error::would_block`.
    virtual std::size_t try_write(const write_buffers& buffers, std::error_code& ec) = 0;

    // On the strand: `bytes` of the in-flight items were written; writes the rest, if any.
    void on_write(std::error_code ec, std::size_t bytes)
    {
        if (!ec && !advance(bytes) && !finished_) return start_write(queue_.buffers());
        if (settle(ec, clock::now())) flush();
    }

    void on_read(std::error_code ec)
    {
        if (finished_) return;
        if (ec)
            finish(ec); // the client went away (eof, reset) or the socket was closed
        else
            start_read(); // a client may send bytes; they mean nothing on a stream
    }

    /// The server's options.
    const server_options& options() const noexcept { return reg_.state().options; }

    /// On the strand: whether the stream has ended (its transport may go once idle).
    bool finished() const noexcept { return finished_; }

private:
    friend struct detail::stream_access;
    friend class detail::fanout;

    enum class state : unsigned char { handshake, open, closing, closed };
    using kind = detail::item_kind;
    using results = detail::send_queue::results;


    bool is_closed() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return state_ == state::closed;
    }

    // Type-erases a completion handler: calling the result posts the handler to its associated
    // executor (default: the strand), which is kept busy (outstanding work) until then.
    template <class Handler>
    std::function<void(std::error_code)> make_completion(Handler&& h)
    {
        using handler_type = std::decay_t<Handler>;
        auto ex = asio::prefer(asio::get_associated_executor(h, lane_.strand()), asio::execution::outstanding_work.tracked);
        auto held = std::make_shared<handler_type>(std::forward<Handler>(h));
        return [held, ex](std::error_code ec) { asio::post(ex, [held, ec]() mutable { std::move(*held)(ec); }); };
    }

    // Calls completions (each only posts its handler), outside the lock.
    static void complete(results& r)
    {
        for (auto& c : r) c.first(c.second);
    }

    /// Queues bytes from any thread; `id` (if any) becomes `last_event_id()`. Items of kind
    /// `replay` and `control` are exempt from the queue bound (their source is bounded).
    bool enqueue(detail::shared_buffer bytes, const std::string* id, kind k,
                 std::function<void(std::error_code)> done = nullptr,
                 std::optional<overflow_policy> policy = std::nullopt);

    // On the strand: counts `bytes` written; returns whether the whole batch in flight is out.
    bool advance(std::size_t bytes)
    {
        detail::bump(reg_.state().stats.bytes_sent, bytes);
        return queue_.advance(bytes);
    }

    // On the strand: writes the batch in flight, at once as far as the socket takes it without
    // waiting. Returns false when the rest goes on asynchronously (on_write follows). While the
    // socket takes every byte offered (the write ends between two items), it is offered more.
    bool write_at_once(std::error_code& ec);

    // On the strand: the batch in flight is written at `now` (or the write failed, and the
    // stream ends). Returns whether a flush has more to do (more is pending, or a close).
    bool settle(std::error_code ec, clock::time_point now);

    // On the strand: writes everything pending (batches of up to 64 items, one gather write
    // each, as many as it takes); once closing and drained, ends. What the socket takes at once
    // needs no completion handler; after a few batches (other threads may keep sending), the
    // lane schedules the next, so that the strand's other work gets its turn.
    void flush() override;

    // Under mu_: the next batch goes in flight (the caller then starts writing it).
    void take_off(clock::time_point now)
    {
        queue_.take();
        write_started_ = now;
    }

    // On the strand: stop accepting sends; flush, then close (or close at once when `within` is 0).
    void begin_close(std::error_code reason, std::chrono::milliseconds within);

    // Under mu_, open or in the handshake: accept no more sends; the stream closes for `reason`
    // (if any) once what is queued is out, within `within` (from the handshake: after open()
    // has answered, see close_requested_).
    void stop_accepting(std::error_code reason, std::chrono::milliseconds within)
    {
        if (state_ == state::handshake) {
            close_requested_ = true;
        } else {
            state_ = state::closing;
            close_deadline_ = clock::now() + within;
            reg_.next_sweep(clock::time_point::min()); // the sweep watches the deadline
        }
        if (reason) close_reason_ = reason;
    }

    // On the strand: the end, for `reason` (none: the reason it is closing for, if any). Runs
    // once. Afterwards the stream holds no socket (once its last operation completes), no timer,
    // no registration and no channel membership: the application may keep it as long as it likes.
    void finish(std::error_code reason);

    // Runs a user callback; one that throws closes the stream and is counted.
    template <class F>
    void invoke(F&& f) noexcept
    {
        try {
            f();
        } catch (...) {
            detail::bump(reg_.state().stats.handler_errors);
            asio::post(lane_.strand(), [self = shared_from_this()] { self->finish(error::handler_threw); });
        }
    }

    // A timer of every() or after(), run by the lane (which rounds its wakeup up to the
    // millisecond: timers of many streams that fall due within one millisecond share it). `due`
    // itself stays exact, so repeating ticks do not drift. A timer exists while it is queued or
    // firing (then it is freed, or queued again), and holds its stream meanwhile.
    struct timer final : detail::lane_timer {
        std::shared_ptr<stream> self;
        std::function<void()> fn;
        clock::duration period{};
        bool repeat = false;
        void fire() override
        {
            auto s = self; // on_time may free the timer
            s->on_time(*this);
        }
        std::shared_ptr<void> release() noexcept override
        {
            fn = nullptr; // which may hold the stream too
            return std::move(self);
        }
    };

    void start_timer(clock::duration d, std::function<void()> fn, bool repeat);

    // On the strand: `t` is due.
    void on_time(timer& t);

    // detail::session: the server's periodic sweep (on any thread) sends heartbeats to quiet
    // streams, and ends stalled writes and graceful closes past their deadline. One sweep for
    // all streams costs less than a timer per stream; each tells it (reg_.next_sweep) the
    // earliest it can need it again, and is passed by until then.
    void sweep(clock::time_point now) override;

    bool was_opened() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return opened_;
    }

    // detail::session: the server is stopping.
    void shutdown() override;

    // Called by the server once the route handler has returned: answer (the head, with the
    // `extra` headers and those the handler added, or the handler's response), then stream. It runs on the connection's strand, not the stream's,
    // where the handler's timers may already run (and close the stream). So the stream is
    // counted and told opened first, while it is still in its handshake state (a finish()
    // meanwhile counts nothing, and is accounted for here); then, under one lock, it changes
    // state and starts the first write, which finish() can only follow. Nothing else touches
    // the socket before that write completes on the stream's strand (which starts the watch).
    void open(std::vector<std::pair<std::string, std::string>> extra);

    // An opened stream is closed: counted and told once, by finish() or (see above) by open().
    void count_closed(std::error_code reason)
    {
        reg_.state().stats.streams_open.fetch_sub(1, std::memory_order_relaxed);
        reg_.state().tell(lifecycle_event::kind::stream_closed, request_.remote_address(), request_.path(), 0, reason);
    }

    // For channel (under its lock): records that the stream is in `ch`; null if it is closing,
    // or in `ch` already.
    detail::membership* join(const std::shared_ptr<detail::subscriber_list>& ch);

    // For channel (under its lock): forgets the stream's membership of `ch`; returns where the
    // stream was among its subscribers (`membership::none`: not there).
    std::size_t leave(const std::shared_ptr<detail::subscriber_list>& ch);

    static bool same_owner(const std::weak_ptr<detail::subscriber_list>& a,
                           const std::shared_ptr<detail::subscriber_list>& b) noexcept
    {
        return !a.owner_before(b) && !b.owner_before(a);
    }

    void count_replayed(std::uint64_t n) noexcept { detail::bump(reg_.state().stats.replayed_events, n); }

    detail::registered reg_;
    detail::connection_slot slot_;
    detail::lane& lane_; // one of the context's lanes: its strand is shared with other streams
    sse::request request_;
    std::any user_;

    mutable std::mutex mu_; // guards the members up to the next comment
    detail::send_queue queue_; // but its batch in flight is the strand's (see send_queue)
    std::vector<std::function<void(std::error_code)>> close_callbacks_;
    std::forward_list<detail::membership> memberships_; // the channels it is in
    std::string last_id_;
    std::unique_ptr<response> rejection_;
    std::vector<std::pair<std::string, std::string>> head_headers_; // added by the handler
    clock::time_point last_write_{}, write_started_{}, close_deadline_{};
    state state_ = state::handshake;
    bool flush_due_ = false;
    bool close_requested_ = false; // close() before the stream answered
    bool opened_ = false;          // answered with the stream's head (not a rejection)
    bool answered_ = false;        // the first write (the head) is out: the strand watches the socket

    // strand-owned (the flag first: it shares the padding above)
    bool finished_ = false; // finish() has run

protected:
    unsigned char transport_ops_ = 0; // operations pending on the derived class's socket

private:
    std::error_code close_reason_; // written under mu_ (the strand's, or a send's that overflows)
    std::unique_ptr<std::list<timer>> timers_; // strand-owned, made by the first every()/after()

    // The stream whose timer callback runs on this thread now (it flushes when the callback returns).
    static inline thread_local const stream* ticking_ = nullptr;
};

} // namespace sse

// The longer member functions, defined out of the class to keep it readable.
#include <sse/detail/stream_impl.hpp>

#endif
