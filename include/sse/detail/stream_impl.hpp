// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_STREAM_IMPL_HPP
#define ASIO_SSE_DETAIL_STREAM_IMPL_HPP

// The longer member functions of sse::stream (declared, and documented, in <sse/stream.hpp>):
// the queueing, the write loop, closing, timers, housekeeping, the opening handshake and
// channel membership.

#include <sse/stream.hpp>

namespace sse {
namespace detail {

/// The headers of every stream's `200` head (HTTP/2 drops `Connection`, as it drops every
/// connection-specific header).
inline const std::vector<std::pair<std::string, std::string>>& stream_head_fields()
{
    static const std::vector<std::pair<std::string, std::string>> fields{
        {"Content-Type", "text/event-stream; charset=utf-8"},
        {"Cache-Control", "no-cache"},
        {"Connection", "keep-alive"},
        {"X-Accel-Buffering", "no"}};
    return fields;
}

/// What a stream sends first after its head: the `retry:` line, if configured.
inline std::string stream_preamble(const server_options& o)
{
    return o.retry ? "retry: " + std::to_string(o.retry->count()) + "\n" : std::string();
}

/// The HTTP/1.1 response head that opens every stream, with `extra` headers, and the preamble.
inline std::string stream_head(const server_options& o, const std::vector<std::pair<std::string, std::string>>& extra)
{
    std::string head = "HTTP/1.1 200 OK\r\n";
    for (const auto* fields : {&stream_head_fields(), &extra})
        for (const auto& h : *fields) head.append(h.first).append(": ").append(h.second).append("\r\n");
    return head.append("\r\n").append(stream_preamble(o));
}

} // namespace detail

inline std::string stream::answer_bytes(const response* rejection,
                                        const std::vector<std::pair<std::string, std::string>>& extra, bool head_only)
{
    return rejection ? rejection->serialize(head_only, false) : detail::stream_head(options(), extra);
}

inline bool stream::enqueue(detail::shared_buffer bytes, const std::string* id, kind k,
                            std::function<void(std::error_code)> done,
                            std::optional<overflow_policy> policy)
{
    bool flush_due = false, gentle = false;
    detail::send_queue::pushed r{false, 0};
    results out;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (state_ == state::closing || state_ == state::closed || close_requested_) {
            if (done) done(error::stream_closed); // only posts
            return false;
        }
        r = queue_.push(std::move(bytes), k, policy.value_or(options().overflow), std::move(done), out);
        if (!r.queued && !answered_) {
            // a burst before the head is out: the client gets the head and what fit, then the
            // close (at an event's end: it resumes from the last one it got)
            stop_accepting(error::queue_overflow, options().write_timeout);
            gentle = true;
        } else if (!r.queued) {
            state_ = state::closing; // refuse everything else; finish() follows at once
            close_reason_ = error::queue_overflow; // also if a flush gets to end it first
        } else {
            if (id) last_id_ = *id;
            if (state_ == state::open && !queue_.in_flight() && !flush_due_) flush_due = flush_due_ = true;
        }
    }
    if (r.dropped_events) detail::bump(reg_.state().stats.events_dropped, r.dropped_events);
    complete(out);
    if (!r.queued) {
        detail::bump(reg_.state().stats.slow_disconnects);
        if (gentle) return false; // the flush in progress (or open()) ends it
        // posted, never inline: the caller may hold a channel lock that finish() needs
        asio::post(lane_.strand(), [self = shared_from_this()] { self->finish(error::queue_overflow); });
        return false;
    }
    // a ticking stream flushes after its tick; any other waits for the coalescing window (if any)
    if (flush_due && ticking_ != this) lane_.schedule(weak_from_this(), options().flush_delay);
    return true;
}

inline bool stream::write_at_once(std::error_code& ec)
{
    for (;;) {
        const std::size_t n = try_write(queue_.buffers(), ec);
        if (ec == make_error_code(asio::error::would_block)) ec = {};
        if (ec || advance(n)) return true;
        if (n == 0 || queue_.mid_item()) break;
    }
    start_write(queue_.buffers());
    return false;
}

inline bool stream::settle(std::error_code ec, clock::time_point now)
{
    results done;
    detail::send_queue::settled held{0, 0};
    bool more = false, first = false;
    {
        std::lock_guard<std::mutex> lock(mu_);
        held = queue_.settle(!ec, done);
        first = !answered_ && !ec;
        answered_ = answered_ || !ec;
        more = queue_.has_pending() || state_ == state::closing;
        last_write_ = now;
    }
    if (!ec) {
        auto& st = reg_.state().stats;
        detail::bump(st.events_sent, held.events);
        detail::bump(st.heartbeats_sent, held.heartbeats);
    }
    complete(done);
    if (ec) {
        finish(ec);
        return false;
    }
    if (finished_) return false; // a write that completed as the stream ended
    if (first) start_read(); // the answer is out: from now on the socket is the strand's
    return more;
}

inline void stream::flush()
{
    constexpr int rounds = 16; // batches, then the lane's next turn
    for (int round = 0;; ++round) {
        clock::time_point now{};
        enum { nothing, write, end, later } next = nothing;
        {
            std::lock_guard<std::mutex> lock(mu_);
            flush_due_ = false;
            if (queue_.in_flight() || state_ == state::closed || state_ == state::handshake) return;
            if (queue_.has_pending()) {
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

inline void stream::begin_close(std::error_code reason, std::chrono::milliseconds within)
{
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (state_ == state::closed || state_ == state::closing) return;
        const bool answered = state_ != state::handshake;
        stop_accepting(answered ? reason : std::error_code(), within);
        if (!answered) return; // inside the handler: open() answers first, then closes
    }
    flush();
}

inline void stream::finish(std::error_code reason)
{
    std::shared_ptr<stream> keep; // declared first: the last to go
    std::unique_ptr<std::list<timer>> timers; // freed before `keep` (a callback may hold the stream)
    std::vector<std::function<void(std::error_code)>> callbacks;
    std::forward_list<detail::membership> channels;
    results waiters;
    bool opened = false;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (state_ == state::closed) return;
        state_ = state::closed;
        opened = opened_;
        callbacks.swap(close_callbacks_);
        channels.swap(memberships_);
        queue_.close(waiters); // in-flight items leave in on_write
        if (reason) close_reason_ = reason; // under the lock: open() may read it
        reg_.leave();
    }
    finished_ = true;
    close_transport();
    if (timers_) {
        keep = shared_from_this(); // its timers may hold the last references
        for (auto& t : *timers_) lane_.cancel_timer(t);
        timers = std::move(timers_);
    }
    slot_.release();
    for (auto& m : channels)
        if (auto ch = m.channel.lock()) ch->remove(m);
    complete(waiters);
    if (opened) count_closed(close_reason_);
    for (auto& cb : callbacks) invoke([&] { cb(close_reason_); });
}

inline void stream::start_timer(clock::duration d, std::function<void()> fn, bool repeat)
{
    if (is_closed()) return;
    asio::dispatch(lane_.strand(), [self = shared_from_this(), d, fn = std::move(fn), repeat]() mutable {
        if (!self->is_open()) return;
        if (!self->timers_) self->timers_ = std::make_unique<std::list<timer>>();
        auto& t = self->timers_->emplace_back();
        t.fn = std::move(fn);
        t.period = d;
        t.repeat = repeat;
        t.due = clock::now() + d;
        t.self = self;
        self->lane_.add_timer(t);
    });
}

inline void stream::on_time(timer& t)
{
    if (is_open()) {
        auto fn = std::move(t.fn); // if fn closes the stream, finish() frees t
        ticking_ = this;           // what fn sends waits for the flush below, not for the lane
        invoke(fn);
        ticking_ = nullptr;
        flush();
        if (finished_) return;
        t.fn = std::move(fn);
    }
    if (t.repeat && is_open()) {
        t.due += t.period;
        return lane_.add_timer(t);
    }
    // done: a one-shot timer, or the stream is closing (fire() holds the stream)
    timers_->remove_if([&](const timer& x) { return &x == &t; });
}

inline void stream::sweep(clock::time_point now)
{
    const auto& o = options();
    enum { nothing, ping, stalled, overdue } act = nothing;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (state_ == state::closed || state_ == state::handshake) return;
        const bool writing = queue_.in_flight();
        if (writing && now - write_started_ >= o.write_timeout)
            act = stalled;
        else if (state_ == state::closing && now >= close_deadline_)
            act = overdue;
        else if (state_ == state::open && !writing && !queue_.has_pending() && o.heartbeat.count() > 0 &&
                 now - last_write_ >= o.heartbeat)
            act = ping;
        // the earliest any of these can be due (a write that starts later stalls later; a close
        // that begins brings this forward, see stop_accepting)
        auto next = (writing ? write_started_ : now) + o.write_timeout;
        if (state_ == state::closing)
            next = std::min(next, close_deadline_);
        else if (o.heartbeat.count() > 0)
            next = std::min(next, last_write_ + o.heartbeat);
        reg_.next_sweep(next);
    }
    if (act == ping) {
        static const auto bytes = detail::make_shared_buffer(":\n");
        enqueue(bytes, nullptr, kind::heartbeat);
    } else if (act != nothing) {
        if (act == stalled) detail::bump(reg_.state().stats.write_timeouts);
        const std::error_code ec = act == stalled ? make_error_code(error::write_timeout) : std::error_code();
        asio::post(lane_.strand(), [self = shared_from_this(), ec] { self->finish(ec); }); // or its closing reason
    }
}

inline void stream::shutdown()
{
    asio::dispatch(lane_.strand(), [self = shared_from_this()] {
        const auto& st = self->reg_.state();
        if (st.final_event && self->was_opened()) self->enqueue(st.final_event, nullptr, kind::event);
        self->begin_close(error::shutting_down, st.options.shutdown_timeout);
    });
}

inline void stream::open(std::vector<std::pair<std::string, std::string>> extra)
{
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
    results dropped;
    std::error_code closed_meanwhile;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (state_ == state::handshake) {
            reg_.enroll(weak_from_this());
            std::unique_ptr<response> rejection = std::move(rejection_);
            if (rejection) // a plain answer gets the CORS grant too
                for (auto& h : extra) rejection->header(std::move(h.first), std::move(h.second));
            else
                for (auto& h : head_headers_) extra.push_back(std::move(h));
            head_headers_ = {};
            if (rejection || head_only) queue_.clear(dropped); // the answer only: no events
            if (rejection) {
                queue_.push(detail::make_shared_buffer(answer_bytes(rejection.get(), extra, head_only)), kind::control,
                            overflow_policy::disconnect, nullptr, dropped);
            } else {
                queue_.push_front(detail::make_shared_buffer(answer_bytes(nullptr, extra, head_only)));
            }
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
            start_write(queue_.buffers());
        } else if (!rejected) {
            closed_meanwhile = close_reason_; // finish() ran (and counted nothing): close the books here
            if (!closed_meanwhile) closed_meanwhile = error::stream_closed;
        }
    }
    complete(dropped);
    if (closed_meanwhile) count_closed(closed_meanwhile);
}

inline detail::membership* stream::join(const std::shared_ptr<detail::subscriber_list>& ch)
{
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == state::closing || state_ == state::closed) return nullptr;
    for (const auto& m : memberships_)
        if (same_owner(m.channel, ch)) return nullptr;
    memberships_.emplace_front();
    memberships_.front().channel = ch;
    return &memberships_.front();
}

inline std::size_t stream::leave(const std::shared_ptr<detail::subscriber_list>& ch)
{
    std::lock_guard<std::mutex> lock(mu_);
    for (auto prev = memberships_.before_begin(), it = memberships_.begin(); it != memberships_.end(); prev = it++) {
        if (!same_owner(it->channel, ch)) continue;
        const std::size_t index = it->index;
        memberships_.erase_after(prev);
        return index;
    }
    return detail::membership::none;
}
} // namespace sse

#endif
