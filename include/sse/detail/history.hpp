// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_HISTORY_HPP
#define ASIO_SSE_DETAIL_HISTORY_HPP

#include <sse/detail/shared_buffer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sse {
class stream;
}

namespace sse::detail {

/** @brief A channel's bounded replay history (sans I/O): the last events by count, bytes and
    age, and where a client's `Last-Event-ID` falls in them. */
class history {
public:
    using clock = std::chrono::steady_clock;
    using filter = std::function<bool(const sse::stream&)>;

    struct entry {
        std::uint64_t seq;
        std::string id;
        shared_buffer bytes;
        clock::time_point at;
        filter to; // empty: every subscriber
    };

    history(std::size_t max_events, std::size_t max_bytes, clock::duration max_age) noexcept
        : max_events_(max_events), max_bytes_(max_bytes), max_age_(max_age)
    {
    }

    /// Records an event, then drops the oldest beyond the bounds.
    void add(entry e)
    {
        if (max_events_ == 0) return;
        bytes_ += e.bytes->size();
        const auto at = e.at;
        entries_.push_back(std::move(e));
        while (entries_.size() > max_events_ || (bytes_ > max_bytes_ && entries_.size() > 1)) pop();
        expire(at);
    }

    /// Drops events older than the age bound (if any).
    void expire(clock::time_point now)
    {
        if (max_age_.count() <= 0) return;
        while (!entries_.empty() && now - entries_.front().at > max_age_) pop();
    }

    /** @brief The index of the first entry after the one with `id`, or `std::nullopt` when `id`
        is not in the history (fell out, or never was). With `numeric`, ids are the decimal
        sequence numbers and the lookup is direct; otherwise the history is searched from the
        newest entry back. */
    std::optional<std::size_t> after(std::string_view id, bool numeric) const
    {
        if (entries_.empty()) return std::nullopt;
        if (numeric) {
            std::uint64_t n = 0;
            if (id.empty() || id.size() > 19) return std::nullopt;
            for (char c : id) {
                if (c < '0' || c > '9') return std::nullopt;
                n = n * 10 + static_cast<std::uint64_t>(c - '0');
            }
            const std::uint64_t first = entries_.front().seq;
            if (n + 1 < first || n > entries_.back().seq) return std::nullopt;
            return static_cast<std::size_t>(n + 1 - first);
        }
        for (std::size_t i = entries_.size(); i-- > 0;)
            if (entries_[i].id == id) return i + 1;
        return std::nullopt;
    }

    /// Forgets every event (what follows does not continue them).
    void clear() noexcept
    {
        entries_.clear();
        bytes_ = 0;
    }

    const std::deque<entry>& entries() const noexcept { return entries_; }
    std::size_t bytes() const noexcept { return bytes_; }

private:
    void pop()
    {
        bytes_ -= entries_.front().bytes->size();
        entries_.pop_front();
    }

    std::size_t max_events_, max_bytes_;
    clock::duration max_age_;
    std::deque<entry> entries_;
    std::size_t bytes_ = 0;
};

} // namespace sse::detail

#endif
