// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_STREAM_HPP
#define ASIO_SSE_STREAM_HPP

#include <sse/detail/asio.hpp>
#include <sse/detail/exact_allocator.hpp>
#include <sse/detail/server_state.hpp>
#include <sse/detail/shared_buffer.hpp>
#include <sse/detail/transport.hpp>
#include <sse/error.hpp>
#include <sse/event.hpp>
#include <sse/request.hpp>
#include <sse/response.hpp>

#include <any>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sse {

class channel;
class stream;

/// Streams are shared: the server, timers and user code each hold a reference.
using stream_ptr = std::shared_ptr<stream>;

namespace detail {
struct stream_access;

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
    once, leaves its channels and is freed when the last reference goes.

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

    /** @brief Refuses the stream with `r` instead of opening it (only inside the route handler).
        A browser gives up for good on any non-200 status; answer 204 to say "stop".
        @throws std::logic_error if the stream has already opened. */
    void reject(response r)
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (state_ != state::handshake) throw std::logic_error("sse::stream::reject: stream already open");
        rejection_ = std::make_unique<response>(std::move(r));
    }

    /** @brief Queues `e` for sending (fire and forget).
        @return false, and nothing is sent, if the stream is closed or closing, or the event met
        the overflow policy. */
    bool send(const event& e) { return enqueue(detail::serialized(e), e.id() ? &*e.id() : nullptr, item::event); }

    /// Queues a comment (`: text`, one line per line of `text`); false if not queued.
    bool send_comment(std::string_view text)
    {
        std::string bytes;
        serialize_comment(text, bytes);
        return enqueue(detail::make_shared_buffer(std::move(bytes)), nullptr, item::comment);
    }

    /** @brief Sends `e` and completes when it has been written to the socket.

        Completion signature `void(std::error_code)`: success, `sse::error::stream_closed` if
        the stream closed first, or `sse::error::queue_overflow`. Works with callbacks,
        `asio::use_future` and `asio::use_awaitable`. The handler is never called from inside
        this function; it runs on its associated executor (default: the stream's strand). */
    template <class CompletionToken = asio::default_completion_token_t<executor_type>>
    auto async_send(event e, CompletionToken&& token = asio::default_completion_token_t<executor_type>())
    {
        return asio::async_initiate<CompletionToken, void(std::error_code)>(
            [self = shared_from_this()](auto handler, event ev) {
                auto done = self->make_completion(std::move(handler));
                self->enqueue(detail::serialized(ev), ev.id() ? &*ev.id() : nullptr, item::event, std::move(done));
            },
            token, std::move(e));
    }

    /** @brief Calls `fn` on the strand every `interval` (first call after one interval) until the
        stream closes. Ticks do not drift: each is scheduled from the previous deadline. A tick
        may run up to 1 ms late: deadlines are rounded up to the millisecond so that the timers
        of many streams falling due together share one wakeup. */
    void every(clock::duration interval, std::function<void()> fn)
    {
        start_timer(interval, std::move(fn), true);
    }

    /// Calls `fn` on the strand once, after `delay` (up to 1 ms more), unless the stream closes first.
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

    /// Bytes of events, comments and heartbeats queued and not yet written, as counted against
    /// `max_queue_bytes` (the response head and channel history replays are not counted: their
    /// size is bounded already).
    std::size_t queued_bytes() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return queued_bytes_;
    }

    /** @brief A value the application attaches to the stream (e.g. the authenticated user),
        for its handlers and channel filters. Set it before sharing the stream across threads. */
    std::any& user() noexcept { return user_; }
    const std::any& user() const noexcept { return user_; }

protected:
    stream(detail::lane& lane, sse::request req, std::shared_ptr<detail::server_state> state,
           detail::connection_slot slot)
        : reg_(std::move(state)), slot_(std::move(slot)), lane_(lane), request_(std::move(req))
    {
    }

private:
    friend struct detail::stream_access;
    friend class channel;

    enum class state : unsigned char { handshake, open, closing, closed };
    using strand_timer = asio::basic_waitable_timer<clock, asio::wait_traits<clock>, executor_type>;
    enum class item : unsigned char { control, event, replay, comment, heartbeat };

    // Whether an item counts against the queue bound.
    static bool counted(item k) noexcept { return k != item::control && k != item::replay; }

    struct queued {
        detail::shared_buffer bytes;
        std::uint64_t seq;
        item kind;
    };
    struct waiter {
        std::uint64_t seq;
        std::function<void(std::error_code)> done;
    };

protected:
    /// The in-flight items from a position on, as an Asio buffer sequence (no vector of buffers:
    /// a socket gathers up to 64 per system call, TLS copies up to a record's worth).
    class write_buffers {
    public:
        class const_iterator {
        public:
            using iterator_category = std::input_iterator_tag; // multi-pass, but yields values
            using value_type = asio::const_buffer;
            using difference_type = std::ptrdiff_t;
            using pointer = const asio::const_buffer*;
            using reference = asio::const_buffer;

            const_iterator() = default;
            const_iterator(const queued* item, std::size_t offset) noexcept : item_(item), offset_(offset) {}

            asio::const_buffer operator*() const noexcept { return asio::buffer(*item_->bytes) + offset_; }
            const_iterator& operator++() noexcept
            {
                ++item_;
                offset_ = 0;
                return *this;
            }
            const_iterator operator++(int) noexcept
            {
                auto before = *this;
                ++*this;
                return before;
            }
            friend bool operator==(const const_iterator& a, const const_iterator& b) noexcept { return a.item_ == b.item_; }
            friend bool operator!=(const const_iterator& a, const const_iterator& b) noexcept { return a.item_ != b.item_; }

        private:
            const queued* item_ = nullptr;
            std::size_t offset_ = 0; // into the first item
        };

        write_buffers(const std::vector<queued>& items, std::size_t pos, std::size_t offset) noexcept
            : begin_(items.data() + pos, offset), end_(items.data() + items.size(), 0)
        {
        }
        const_iterator begin() const noexcept { return begin_; }
        const_iterator end() const noexcept { return end_; }

    private:
        const_iterator begin_, end_;
    };

    /// Starts one `async_write_some` of `buffers` (the derived class owns the socket); calls `on_write`.
    virtual void start_write(const write_buffers& buffers) = 0;
    /// Starts a read that watches the socket; calls `on_read` when it completes.
    virtual void start_read() = 0;
    /// Closes the socket.
    virtual void close_transport() noexcept = 0;

    /// Writes what of `buffers` the socket takes without waiting (plain TCP); when it takes
    /// nothing, or cannot write that way (TLS), sets `asio::error::would_block`.
    virtual std::size_t try_write(const write_buffers& buffers, std::error_code& ec) = 0;

    // On the strand: `bytes` of the in-flight items were written; writes the rest, if any.
    void on_write(std::error_code ec, std::size_t bytes)
    {
        if (!ec && !advance(bytes)) return start_write(write_buffers(inflight_, write_pos_, write_offset_));
        if (settle(ec, clock::now())) flush();
    }

    void on_read(std::error_code ec)
    {
        if (ec)
            finish(ec); // the client went away (eof, reset) or the socket was closed
        else
            start_read(); // a client may send bytes; they mean nothing on a stream
    }

private:
    const server_options& options() const noexcept { return reg_.state().options; }

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

    /// Queues bytes from any thread; `id` (if any) becomes `last_event_id()`. Items of kind
    /// `replay` and `control` are exempt from the queue bound (their source is bounded).
    bool enqueue(detail::shared_buffer bytes, const std::string* id, item kind,
                 std::function<void(std::error_code)> done = nullptr,
                 std::optional<overflow_policy> policy = std::nullopt)
    {
        bool flush_due = false, overflow_close = false;
        std::vector<waiter> dropped;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (state_ == state::closing || state_ == state::closed || close_requested_) {
                if (done) done(error::stream_closed); // only posts
                return false;
            }
            const std::size_t size = bytes->size();
            if (counted(kind) && queued_bytes_ != 0 && queued_bytes_ + size > options().max_queue_bytes) {
                if (policy.value_or(options().overflow) == overflow_policy::disconnect) {
                    overflow_close = true;
                    state_ = state::closing; // refuse everything else; finish() follows at once
                    close_reason_ = error::queue_overflow; // also if a flush gets to end it first
                } else {
                    drop_oldest(size, dropped);
                }
            }
            if (!overflow_close) {
                const std::uint64_t seq = ++seq_;
                pending_.push_back({std::move(bytes), seq, kind});
                if (counted(kind)) queued_bytes_ += size;
                if (id) last_id_ = *id;
                if (done) waiters_.push_back({seq, std::move(done)});
                if (state_ == state::open && !writing_ && !flush_due_) flush_due = flush_due_ = true;
            }
        }
        for (auto& w : dropped) w.done(error::queue_overflow);
        if (overflow_close) {
            detail::bump(reg_.state().stats.slow_disconnects);
            if (done) done(error::queue_overflow);
            // posted, never inline: the caller may hold a channel lock that finish() needs
            asio::post(lane_.strand(), [self = shared_from_this()] { self->finish(error::queue_overflow); });
            return false;
        }
        if (flush_due && ticking_ != this) lane_.schedule(weak_from_this()); // a ticking stream flushes after its tick
        return true;
    }

    // Under mu_: drops the oldest pending events until `incoming` fits. Uncounted items (the
    // response head, replays) are never dropped, and do not stop the dropping of events after them.
    void drop_oldest(std::size_t incoming, std::vector<waiter>& dropped)
    {
        const std::size_t max = options().max_queue_bytes;
        std::size_t freed = 0, dropped_events = 0;
        const std::uint64_t first_pending = pending_.empty() ? 0 : pending_.front().seq;
        std::uint64_t last_dropped = 0;
        std::vector<queued> kept;
        kept.reserve(pending_.size());
        for (auto& it : pending_) {
            if (queued_bytes_ - freed + incoming > max && counted(it.kind)) {
                freed += it.bytes->size();
                dropped_events += it.kind == item::event;
                last_dropped = it.seq;
            } else {
                kept.push_back(std::move(it));
            }
        }
        if (freed == 0) return;
        pending_.swap(kept);
        queued_bytes_ -= freed;
        detail::bump(reg_.state().stats.events_dropped, dropped_events);
        // Only events sent with async_send have waiters. Those of the items being written
        // (seq < first_pending) stay: their bytes are on their way.
        take_waiters(first_pending, last_dropped, dropped);
    }

    // Under mu_: moves the waiters of the items from..upto (by seq) into `out`.
    void take_waiters(std::uint64_t from, std::uint64_t upto, std::vector<waiter>& out)
    {
        auto begin = waiters_.begin();
        while (begin != waiters_.end() && begin->seq < from) ++begin;
        auto end = begin;
        while (end != waiters_.end() && end->seq <= upto) ++end;
        std::move(begin, end, std::back_inserter(out));
        waiters_.erase(begin, end);
    }

    // On the strand: counts `bytes` written and steps past them; returns whether all in-flight
    // items are out.
    bool advance(std::size_t bytes)
    {
        detail::bump(reg_.state().stats.bytes_sent, bytes);
        for (; write_pos_ < inflight_.size(); ++write_pos_, write_offset_ = 0) { // past empty items too
            const std::size_t left = inflight_[write_pos_].bytes->size() - write_offset_;
            if (bytes < left) {
                write_offset_ += bytes;
                return false;
            }
            bytes -= left;
        }
        return true;
    }

    // On the strand: writes the in-flight items, at once as far as the socket takes them without
    // waiting. Returns false when the rest goes on asynchronously (on_write follows). A system
    // call gathers at most 64 items: while the socket takes every byte offered (the write ends
    // between two items), the next ones are offered at once too.
    bool write_at_once(std::error_code& ec)
    {
        for (;;) {
            const std::size_t n = try_write(write_buffers(inflight_, write_pos_, write_offset_), ec);
            if (ec == asio::error::would_block) ec = {};
            if (ec || advance(n)) return true;
            if (n == 0 || write_offset_ != 0) break;
        }
        start_write(write_buffers(inflight_, write_pos_, write_offset_));
        return false;
    }

    // On the strand: the in-flight items are written at `now` (or the write failed, and the
    // stream ends). Returns whether a flush has more to do (more is pending, or a close).
    bool settle(std::error_code ec, clock::time_point now)
    {
        std::vector<waiter> ready;
        std::size_t events = 0, heartbeats = 0;
        bool more = false;
        {
            std::lock_guard<std::mutex> lock(mu_);
            writing_ = false;
            more = !pending_.empty() || state_ == state::closing;
            last_write_ = now;
            for (auto& it : inflight_) {
                events += it.kind == item::event || it.kind == item::replay;
                heartbeats += it.kind == item::heartbeat;
                if (counted(it.kind)) queued_bytes_ -= it.bytes->size();
            }
            if (!ec && !waiters_.empty()) take_waiters(0, inflight_.back().seq, ready); // all written
        }
        inflight_.clear();
        if (!ec) {
            auto& st = reg_.state().stats;
            detail::bump(st.events_sent, events);
            detail::bump(st.heartbeats_sent, heartbeats);
        }
        for (auto& w : ready) w.done({});
        if (ec) {
            finish(ec);
            return false;
        }
        if (!watching_) { // the answer is out: from now on the socket is the strand's
            watching_ = true;
            start_read();
        }
        return more;
    }

    // On the strand: writes everything pending (gather writes of up to 64 items per system call,
    // as many as it takes); once closing and drained, ends. What the socket takes at once needs
    // no completion handler; after a few such rounds (other threads may keep sending), the lane
    // schedules the next, so that the strand's other work gets its turn.
    void flush() override
    {
        constexpr int rounds = 4; // then the lane's next turn
        for (int round = 0;; ++round) {
            clock::time_point now{};
            enum { nothing, write, end, later } next = nothing;
            {
                std::lock_guard<std::mutex> lock(mu_);
                flush_due_ = false;
                if (writing_ || state_ == state::closed || state_ == state::handshake) return;
                if (!pending_.empty()) {
                    next = round == rounds ? later : write;
                    if (next == write) take_off(now = clock::now());
                    flush_due_ = next == later;
                } else if (state_ == state::closing) {
                    next = end;
                }
            }
            if (next == nothing) return;
            if (next == end) return finish({}); // for the reason it is closing
            if (next == later) return lane_.schedule(weak_from_this());
            std::error_code ec;
            if (!write_at_once(ec) || !settle(ec, now)) return; // the socket took it all at `now`
        }
    }

    // Under mu_: what is pending goes in flight (the caller then starts writing it).
    void take_off(clock::time_point now)
    {
        inflight_.swap(pending_);
        writing_ = true;
        write_started_ = now;
        write_pos_ = write_offset_ = 0;
    }

    // On the strand: stop accepting sends; flush, then close (or close at once when `within` is 0).
    void begin_close(std::error_code reason, std::chrono::milliseconds within)
    {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (state_ == state::closed || state_ == state::closing) return;
            if (state_ == state::handshake) {
                close_requested_ = true; // close() inside the handler: answer first, then close
                return;
            }
            state_ = state::closing;
            close_deadline_ = clock::now() + within;
            close_reason_ = reason;
        }
        flush();
    }

    // On the strand: the end, for `reason` (none: the reason it is closing for, if any). Runs once.
    void finish(std::error_code reason)
    {
        std::vector<std::function<void(std::error_code)>> callbacks;
        std::vector<waiter> waiters;
        bool opened = false;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (state_ == state::closed) return;
            state_ = state::closed;
            opened = opened_;
            callbacks.swap(close_callbacks_);
            waiters.swap(waiters_);
            for (const auto& it : pending_) // in-flight bytes leave in on_write
                if (counted(it.kind)) queued_bytes_ -= it.bytes->size();
            pending_.clear();
            if (reason) close_reason_ = reason; // under the lock: open() may read it
        }
        close_transport();
        if (timers_)
            for (auto& t : *timers_) t.cancel();
        slot_.release();
        for (auto& w : waiters) w.done(error::stream_closed);
        if (opened) count_closed(close_reason_);
        for (auto& cb : callbacks) invoke([&] { cb(close_reason_); });
    }

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

    void start_timer(clock::duration d, std::function<void()> fn, bool repeat)
    {
        asio::dispatch(lane_.strand(), [self = shared_from_this(), d, fn = std::move(fn), repeat]() mutable {
            if (!self->is_open()) return;
            auto& timers = self->timers_;
            if (!timers) timers = std::make_unique<std::list<strand_timer>>();
            timers->emplace_back(self->lane_.strand()); // its handlers run on the strand
            self->wait_timer(std::prev(timers->end()), clock::now() + d, d, std::move(fn), repeat);
        });
    }

    // Waits until `due` rounded up to the next millisecond: timers of many streams that fall due
    // within the same millisecond then share one wakeup. `due` itself stays exact, so repeating
    // ticks do not drift.
    void wait_timer(std::list<strand_timer>::iterator it, clock::time_point due, clock::duration d,
                    std::function<void()> fn, bool repeat)
    {
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(due.time_since_epoch());
        it->expires_at(clock::time_point(std::chrono::duration_cast<clock::duration>(ms)));
        it->async_wait([self = shared_from_this(), it, due, d, fn = std::move(fn), repeat](std::error_code ec) mutable {
            if (ec || !self->is_open()) {
                self->timers_->erase(it);
                return;
            }
            ticking_ = self.get(); // what fn sends waits for the flush below, not for the lane
            self->invoke(fn);
            ticking_ = nullptr;
            self->flush();
            if (repeat && self->is_open())
                self->wait_timer(it, due + d, d, std::move(fn), repeat);
            else
                self->timers_->erase(it);
        });
    }

    // detail::session: the server's periodic sweep (on any thread) sends heartbeats to quiet
    // streams, and ends stalled writes and graceful closes past their deadline. One sweep for
    // all streams costs less than a timer per stream.
    void sweep(clock::time_point now) override
    {
        const auto& o = options();
        enum { nothing, ping, stalled, overdue } act = nothing;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (state_ == state::closed || state_ == state::handshake) return;
            if (writing_ && now - write_started_ >= o.write_timeout)
                act = stalled;
            else if (state_ == state::closing && now >= close_deadline_)
                act = overdue;
            else if (state_ == state::open && !writing_ && pending_.empty() && o.heartbeat.count() > 0 &&
                     now - last_write_ >= o.heartbeat)
                act = ping;
        }
        if (act == ping) {
            static const auto bytes = detail::make_shared_buffer(":\n");
            enqueue(bytes, nullptr, item::heartbeat);
        } else if (act != nothing) {
            if (act == stalled) detail::bump(reg_.state().stats.write_timeouts);
            const std::error_code ec = act == stalled ? make_error_code(error::write_timeout) : std::error_code();
            asio::post(lane_.strand(), [self = shared_from_this(), ec] { self->finish(ec); }); // or its closing reason
        }
    }

    bool was_opened() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return opened_;
    }

    // detail::session: the server is stopping.
    void shutdown() override
    {
        asio::dispatch(lane_.strand(), [self = shared_from_this()] {
            const auto& st = self->reg_.state();
            if (st.final_event && self->was_opened()) self->enqueue(st.final_event, nullptr, item::event);
            self->begin_close(error::shutting_down, st.options.shutdown_timeout);
        });
    }

    // Called by the server once the route handler has returned: answer (the head, or the
    // handler's rejection), then stream. It runs on the connection's strand, not the stream's,
    // where the handler's timers may already run (and close the stream). So the stream is
    // counted and told opened first, while it is still in its handshake state (a finish()
    // meanwhile counts nothing, and is accounted for here); then, under one lock, it changes
    // state and starts the first write, which finish() can only follow. Nothing else touches
    // the socket before that write completes on the stream's strand (which starts the watch).
    void open(std::string head)
    {
        reg_.enroll(weak_from_this());
        // a stop() that began while the handler ran did not see this stream: close it after the head
        const bool stopping = reg_.state().stopping.load(std::memory_order_acquire);
        const bool head_only = request_.method() == "HEAD";
        bool rejected = false;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (state_ != state::handshake) return; // closed while the handler ran
            rejected = rejection_ != nullptr;
        }
        auto& st = reg_.state().stats;
        if (!rejected) {
            detail::bump(st.streams_total);
            detail::bump(st.streams_open);
            reg_.state().tell(lifecycle_event::kind::stream_opened, request_.remote_address(), request_.path(), 200);
        }
        std::vector<waiter> dropped;
        std::error_code closed_meanwhile;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (state_ == state::handshake) {
                std::unique_ptr<response> rejection = std::move(rejection_);
                if (rejection || head_only) { // the answer only: no events
                    pending_.clear();
                    queued_bytes_ = 0;
                    dropped.swap(waiters_);
                }
                if (rejection)
                    pending_.push_back({detail::make_shared_buffer(rejection->serialize(head_only, false)), ++seq_,
                                        item::control});
                else
                    pending_.insert(pending_.begin(), {detail::make_shared_buffer(std::move(head)), 0, item::control});
                opened_ = !rejected;
                const auto now = clock::now();
                if (rejection || head_only || close_requested_ || stopping) { // answer, then close
                    state_ = state::closing;
                    close_deadline_ = now + options().write_timeout;
                } else {
                    state_ = state::open;
                }
                close_requested_ = false;
                last_write_ = now;
                take_off(now);
                start_write(write_buffers(inflight_, 0, 0));
            } else if (!rejected) {
                closed_meanwhile = close_reason_; // finish() ran (and counted nothing): close the books here
                if (!closed_meanwhile) closed_meanwhile = error::stream_closed;
            }
        }
        for (auto& w : dropped) w.done(error::stream_closed);
        if (closed_meanwhile) count_closed(closed_meanwhile);
    }

    // An opened stream is closed: counted and told once, by finish() or (see above) by open().
    void count_closed(std::error_code reason)
    {
        reg_.state().stats.streams_open.fetch_sub(1, std::memory_order_relaxed);
        reg_.state().tell(lifecycle_event::kind::stream_closed, request_.remote_address(), request_.path(), 0, reason);
    }

    detail::registered reg_;
    detail::connection_slot slot_;
    detail::lane& lane_; // one of server_state::lanes: its strand is shared with other streams
    sse::request request_;
    std::any user_;

    mutable std::mutex mu_; // guards the members up to the next comment
    std::vector<queued> pending_;
    std::size_t queued_bytes_ = 0; // counted items pending or in flight
    std::uint64_t seq_ = 0;
    std::vector<waiter> waiters_;
    std::vector<std::function<void(std::error_code)>> close_callbacks_;
    std::string last_id_;
    std::unique_ptr<response> rejection_;
    clock::time_point last_write_{}, write_started_{}, close_deadline_{};
    state state_ = state::handshake;
    bool writing_ = false, flush_due_ = false;
    bool close_requested_ = false; // close() before the stream answered
    bool opened_ = false;          // answered with the stream's head (not a rejection)

    // strand-owned (the flag first: it shares the padding above)
    bool watching_ = false; // start_read() has been called
    std::error_code close_reason_; // written under mu_ (the strand's, or a send's that overflows)
    std::vector<queued> inflight_;
    std::size_t write_pos_ = 0, write_offset_ = 0; // what of inflight_ is written: items, then bytes
    std::unique_ptr<std::list<strand_timer>> timers_; // made by the first every()/after()

    // The stream whose timer callback runs on this thread now (it flushes when the callback returns).
    static inline thread_local const stream* ticking_ = nullptr;
};

namespace detail {

/// Where a TLS stream's watch read puts what a client sends (nothing meaningful); plain TCP
/// streams wait for readability instead and need no buffer.
template <bool Plaintext>
struct watch_buffer {
    char read_buf_[16];
};
template <>
struct watch_buffer<true> {};

/// The stream on a concrete transport (`asio::ip::tcp::socket`, or an SSL stream over one).
template <class Socket>
class socket_stream final : public stream, private watch_buffer<transport<Socket>::plaintext> {
public:
    socket_stream(Socket socket, lane& lane, sse::request req, std::shared_ptr<server_state> state,
                  connection_slot slot)
        : stream(lane, std::move(req), std::move(state), std::move(slot)), socket_(std::move(socket))
    {
        std::error_code ignored; // if this fails, every write waits for the reactor: slower, still right
        if constexpr (transport<Socket>::plaintext) socket_.non_blocking(true, ignored);
    }

private:
    std::size_t try_write(const write_buffers& buffers, std::error_code& ec) override
    {
        if constexpr (transport<Socket>::plaintext) {
            if (socket_.non_blocking()) return socket_.write_some(buffers, ec);
        }
        ec = asio::error::would_block; // an SSL stream cannot take part of a record back
        return 0;
    }

    void start_write(const write_buffers& buffers) override
    {
        socket_.async_write_some(buffers, asio::bind_executor(get_executor(), [self = shared_from_this(),
                                                                               this](std::error_code ec, std::size_t n) {
            on_write(ec, n);
        }));
    }

    void start_read() override
    {
        if constexpr (transport<Socket>::plaintext) {
            // The watch is pending for the stream's whole life and usually completes once, at the
            // end: a wait (no buffer) with an unbound handler that dispatches to the strand, in a
            // block of its own size, keeps it small (a strand bound into it would be copied there).
            socket_.async_wait(asio::socket_base::wait_read,
                               with_exact_allocation([self = shared_from_this(), this](std::error_code ec) {
                                   asio::dispatch(get_executor(), [self, this, ec] { on_read(ec ? ec : drain()); });
                               }));
        } else {
            // A TLS read may write (e.g. alerts): its steps must run on the strand like the writes.
            socket_.async_read_some(asio::buffer(this->read_buf_),
                                    asio::bind_allocator(exact_allocator<void>(),
                                                         asio::bind_executor(get_executor(), [self = shared_from_this(),
                                                                                              this](std::error_code ec,
                                                                                                    std::size_t) {
                                                             on_read(ec);
                                                         })));
        }
    }

    // Plain TCP, on the strand: reads and discards what the client sent without blocking (a
    // bounded amount per wakeup). Returns how the stream ended (eof, an error), or nothing.
    std::error_code drain()
    {
        char discard[512];
        std::error_code ec;
        if (!socket_.non_blocking()) socket_.non_blocking(true, ec); // set in the constructor, normally
        for (int i = 0; i < 16 && !ec; ++i) socket_.read_some(asio::buffer(discard), ec);
        return ec == asio::error::would_block ? std::error_code() : ec;
    }

    void close_transport() noexcept override
    {
        std::error_code ignored;
        socket_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        socket_.lowest_layer().close(ignored);
    }

    Socket socket_;
};

/// What the server (and only the server) does to a stream.
struct stream_access {
    template <class Socket>
    static std::shared_ptr<stream> make(Socket socket, lane& lane, sse::request req,
                                        std::shared_ptr<server_state> state, connection_slot slot)
    {
        return std::make_shared<socket_stream<Socket>>(std::move(socket), lane, std::move(req),
                                                       std::move(state), std::move(slot));
    }
    static void open(stream& s, std::string head) { s.open(std::move(head)); }
};

} // namespace detail
} // namespace sse

#endif
