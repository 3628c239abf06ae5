// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_LANE_HPP
#define ASIO_SSE_DETAIL_LANE_HPP

#include <sse/detail/asio.hpp>
#include <sse/detail/timer_heap.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace sse::detail {

/// What a lane flushes: a stream with something new to write.
class flushable {
public:
    /// On the lane's strand: writes what is queued.
    virtual void flush() = 0;

protected:
    ~flushable() = default;
};

/// A timer that a lane fires, on its strand, once due. While queued it keeps what it needs
/// alive (its stream, its callback), as a pending asynchronous wait would.
struct lane_timer : timer_node {
    /// On the lane's strand: the timer is due (and no longer queued).
    virtual void fire() = 0;
    /// The lane goes while the timer is queued: the timer drops what it holds, all but the
    /// reference to its owner, which it returns for the lane to drop once every timer is out.
    virtual std::shared_ptr<void> release() noexcept = 0;

protected:
    ~lane_timer() = default;
};

/** @brief A strand that streams share, and the streams on it that have something to write.

    However many of its streams an event reaches, one handler on the strand flushes them all:
    a publish to N streams posts at most one handler per lane, not N. The lane holds its
    waiting streams weakly (a stream that is gone has nothing to write), and its handler holds
    the lane, so a lane and its streams never keep each other alive.

    A stream may also wait for a coalescing window (`server_options::flush_delay`): one timer
    per lane, due at the earliest window's end, flushes every stream that is waiting then, so
    what reaches a stream within the window leaves in one write.

    And it runs its streams' timers (`stream::every`, `after`) from one heap on one Asio timer,
    due at the earliest: a tick then costs no asynchronous operation of its own.
*/
class lane : public std::enable_shared_from_this<lane> {
public:
    using clock = std::chrono::steady_clock;

    /// `early` in [0, 1): the share of a window by which this lane ends it early, so that the
    /// lanes of one context, all reached by one publish, do not all flush at the same instant
    /// (other work, such as the publisher's own timer, runs between them).
    explicit lane(const asio::any_io_executor& ex, double early = 0)
        : strand_(asio::make_strand(ex)), early_(early), timer_(strand_), ticks_(strand_)
    {
    }

    lane(const lane&) = delete;
    lane& operator=(const lane&) = delete;

    // The timers still queued keep their streams, and each stream its timers: let go of them
    // (the streams last: one may own several of the timers).
    ~lane()
    {
        std::vector<std::shared_ptr<void>> owners;
        owners.reserve(timers_.size());
        while (timer_node* n = timers_.top()) {
            timers_.remove(*n);
            owners.push_back(static_cast<lane_timer*>(n)->release());
        }
    }

    const asio::strand<asio::any_io_executor>& strand() const noexcept { return strand_; }

    /// Safe from any thread: `s` is flushed on the strand soon (once, however often it is
    /// scheduled before that; the caller keeps track).
    void schedule(std::weak_ptr<flushable> s)
    {
        bool post = false;
        {
            std::lock_guard<std::mutex> lock(mu_);
            waiting_.push_back(std::move(s));
            post = !posted_;
            posted_ = true;
        }
        if (post) asio::post(strand_, [self = shared_from_this()] { self->run(); });
    }

    /// Safe from any thread: `s` is flushed on the strand within `delay` (or sooner, with the
    /// other streams of the lane whose window ends first); at once when `delay` is zero.
    void schedule(std::weak_ptr<flushable> s, clock::duration delay)
    {
        if (delay <= clock::duration::zero()) return schedule(std::move(s));
        const auto due = clock::now() + delay - std::chrono::duration_cast<clock::duration>(delay * early_);
        bool arm = false;
        {
            std::lock_guard<std::mutex> lock(mu_);
            arm = delayed_.empty() || due < due_;
            if (arm) due_ = due;
            delayed_.push_back(std::move(s));
        }
        if (arm) asio::post(strand_, [w = weak_from_this()] {
            if (auto self = w.lock()) self->arm();
        });
    }

    /// On the strand: `t` (not queued) fires on the strand once `t.due` has passed; its
    /// wakeup is rounded up to the millisecond, so that the timers due within one millisecond
    /// share it. Catching up, a timer may fire late, never early.
    void add_timer(lane_timer& t)
    {
        timers_.push(t);
        if (timers_.top() == &t) arm_ticks();
    }

    /// On the strand: `t` does not fire (unless it is firing now). The lane keeps no work
    /// pending once it has no timer left.
    void cancel_timer(lane_timer& t)
    {
        timers_.remove(t);
        if (timers_.empty() && ticks_armed_) {
            ticks_armed_ = false;
            ticks_.cancel();
        }
    }

private:
    // On the strand: the Asio timer waits for the earliest lane timer (unless it waits for an
    // earlier instant already: it then looks again).
    void arm_ticks()
    {
        const auto at = clock::time_point(std::chrono::duration_cast<clock::duration>(
            std::chrono::ceil<std::chrono::milliseconds>(timers_.top()->due.time_since_epoch())));
        if (ticks_armed_ && at >= ticks_at_) return;
        ticks_armed_ = true;
        ticks_at_ = at;
        ticks_.expires_at(at); // a wait for later is cancelled: its handler does nothing
        ticks_.async_wait([w = weak_from_this()](asio_error_code ec) {
            if (ec) return;
            if (auto self = w.lock()) self->fire_due();
        });
    }

    // On the strand: fires the timers due now (as many as were queued: one that keeps coming
    // due again, catching up, waits for the next turn), then waits for the next.
    void fire_due()
    {
        ticks_armed_ = false;
        const auto now = clock::now();
        try {
            for (std::size_t n = timers_.size(); n > 0; --n) {
                timer_node* t = timers_.pop_due(now);
                if (!t) break;
                static_cast<lane_timer*>(t)->fire();
            }
        } catch (...) {
            if (!timers_.empty()) arm_ticks();
            throw;
        }
        if (!timers_.empty()) arm_ticks();
    }

    // On the strand: the timer waits for the earliest window's end (a wait for a later one is
    // cancelled, and its handler does nothing).
    void arm()
    {
        clock::time_point due;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (delayed_.empty()) return; // flushed meanwhile
            due = due_;
        }
        timer_.expires_at(due);
        timer_.async_wait([w = weak_from_this()](asio_error_code ec) {
            if (ec) return;
            if (auto self = w.lock()) self->run_delayed();
        });
    }

    // On the strand: the window is over; the streams waiting for it join this turn.
    void run_delayed()
    {
        {
            std::lock_guard<std::mutex> lock(mu_);
            for (auto& s : delayed_) waiting_.push_back(std::move(s));
            delayed_.clear();
        }
        run();
    }

    // On the strand: flushes every stream waiting now (those scheduled meanwhile get a new turn).
    // If a flush throws (out of memory), the streams after it are scheduled again, not lost.
    void run()
    {
        {
            std::lock_guard<std::mutex> lock(mu_);
            running_.swap(waiting_);
            posted_ = false;
        }
        std::size_t i = 0;
        try {
            for (; i < running_.size(); ++i)
                if (auto s = running_[i].lock()) s->flush();
        } catch (...) {
            for (++i; i < running_.size(); ++i) schedule(std::move(running_[i]));
            running_.clear();
            throw;
        }
        running_.clear(); // keeps its capacity for the next turn
    }

    const asio::strand<asio::any_io_executor> strand_;
    std::mutex mu_;                             // guards the four below
    std::vector<std::weak_ptr<flushable>> waiting_;
    bool posted_ = false;                       // a run() is posted and has not started yet
    std::vector<std::weak_ptr<flushable>> delayed_; // waiting for the timer (any: it is armed)
    clock::time_point due_{};                       // when the timer ends their wait
    std::vector<std::weak_ptr<flushable>> running_; // strand-owned
    const double early_;
    using strand_timer = asio::basic_waitable_timer<clock, asio::wait_traits<clock>, asio::strand<asio::any_io_executor>>;
    strand_timer timer_; // strand-owned, as are the four below
    timer_heap timers_;
    strand_timer ticks_; // waits for timers_.top()
    bool ticks_armed_ = false;
    clock::time_point ticks_at_{};
};

/** @brief The lanes of one execution context, shared by every server on it: 64 strands handed
    out in turn (as Asio's `io_context::strand` shares a fixed set of implementations; a strand
    of its own would cost every idle stream about 100 bytes).

    The context owns them, not the servers or streams: when the context shuts down, the strands
    go with it, so a closed stream that the application still holds (or a channel, or a server
    state) holds no Asio object, and may be destroyed after its context. A stream refers to its
    lane, and uses it only while its context is alive.
*/
class lane_service : public asio::execution_context::service {
public:
    using key_type = lane_service;
    static inline asio::execution_context::id id;
    static constexpr std::size_t count = 64;

    explicit lane_service(asio::execution_context& ctx) : asio::execution_context::service(ctx) {}

    /// The lane service of `ex`'s execution context.
    static lane_service& of(const asio::any_io_executor& ex)
    {
        return asio::use_service<lane_service>(asio::query(ex, asio::execution::context));
    }

    /// Makes the lanes, on strands over `ex`, unless the first server on the context did.
    lane_service& with_lanes(const asio::any_io_executor& ex)
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (lanes_.empty())
            for (std::size_t i = 0; i < count; ++i)
                lanes_.push_back(std::make_shared<lane>(ex, static_cast<double>(i) / (4 * count))); // up to a quarter
        return *this;
    }

    /// The next lane, in turn; safe from any thread.
    lane& next()
    {
        std::lock_guard<std::mutex> lock(mu_);
        return *lanes_[next_++ % lanes_.size()];
    }

private:
    void shutdown() override
    {
        std::lock_guard<std::mutex> lock(mu_);
        lanes_.clear(); // while every service is alive: a strand's destructor tells its service
    }

    std::mutex mu_;
    std::vector<std::shared_ptr<lane>> lanes_;
    std::size_t next_ = 0;
};

} // namespace sse::detail

#endif
