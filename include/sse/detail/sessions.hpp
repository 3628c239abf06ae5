// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_SESSIONS_HPP
#define ASIO_SSE_DETAIL_SESSIONS_HPP

#include <atomic>
#include <chrono>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

namespace sse::detail {

/// Anything a stopping server must end: a connection still reading its head, or a stream.
class session {
public:
    virtual ~session() = default;
    /// Ends the session soon (flushing what a stream has queued, within the shutdown timeout).
    /// Safe from any thread.
    virtual void shutdown() = 0;
    /// Periodic housekeeping driven by the server (heartbeats, deadlines). Safe from any thread.
    virtual void sweep(std::chrono::steady_clock::time_point) {}
};

/** @brief The sessions of one server, and from when each needs the server's sweep again.

    A session says, when swept, how long the sweep may pass it by (a stream that wrote a moment
    ago needs no heartbeat for a while, and a write that has not started cannot stall yet). A
    sweep then reads one small entry per session, contiguous with the others, and visits only
    those due, instead of taking every session's lock. Entries never move (a session writes
    its own without the list's lock) and are reused once their session leaves. Sans-I/O.
*/
class session_list {
public:
    using clock = std::chrono::steady_clock;

private:
    static constexpr clock::rep soon = std::numeric_limits<clock::rep>::min();
    static constexpr clock::rep never = std::numeric_limits<clock::rep>::max();

public:
    /// One session's place. `due` (a `clock` count) is written only by the session's owner,
    /// while it is in the list.
    struct entry {
        std::weak_ptr<session> s;
        std::atomic<clock::rep> due{soon};
    };

    /// Adds `s`, due at the next sweep; the entry is the session's until `remove`.
    entry* add(std::weak_ptr<session> s)
    {
        std::lock_guard<std::mutex> lock(mu_);
        entry* e = nullptr;
        if (free_.empty()) {
            free_.reserve(entries_.size() + 1); // remove() then never allocates
            e = &entries_.emplace_back();
        } else {
            e = free_.back();
            free_.pop_back();
        }
        e->s = std::move(s);
        e->due.store(soon, std::memory_order_relaxed);
        return e;
    }

    void remove(entry* e)
    {
        std::lock_guard<std::mutex> lock(mu_);
        e->s.reset();
        e->due.store(never, std::memory_order_relaxed);
        free_.push_back(e);
    }

    /// Every session alive now.
    std::vector<std::shared_ptr<session>> live() { return collect(never); }

    /// The sessions alive now whose sweep is due by `now`.
    std::vector<std::shared_ptr<session>> due(clock::time_point now) { return collect(now.time_since_epoch().count()); }

private:
    std::vector<std::shared_ptr<session>> collect(clock::rep by)
    {
        std::vector<std::shared_ptr<session>> out;
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& e : entries_)
            if (e.due.load(std::memory_order_relaxed) <= by)
                if (auto s = e.s.lock()) out.push_back(std::move(s));
        return out;
    }

    std::mutex mu_; // guards the two below (not an entry's `due`)
    std::deque<entry> entries_;
    std::vector<entry*> free_;
};

} // namespace sse::detail

#endif
