// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_TIMER_HEAP_HPP
#define ASIO_SSE_DETAIL_TIMER_HEAP_HPP

#include <chrono>
#include <cstddef>
#include <limits>
#include <vector>

namespace sse::detail {

/// A timer a `timer_heap` orders by `due`. It knows its place in the heap, so that it leaves
/// in O(log n) when cancelled.
struct timer_node {
    static constexpr std::size_t nowhere = std::numeric_limits<std::size_t>::max();

    std::chrono::steady_clock::time_point due{};
    std::size_t place = nowhere; // its index in the heap, if queued

    bool queued() const noexcept { return place != nowhere; }
};

/** @brief The timers of one lane, earliest first: a binary min-heap of nodes it does not own
    (each stays alive, and in one heap at most, while queued; its `due` does not change while
    queued). The heap keeps each node's due time beside its pointer, so that ordering reads one
    contiguous array, not the nodes (which live in their streams, scattered). Sans-I/O.
*/
class timer_heap {
public:
    using time_point = std::chrono::steady_clock::time_point;

    bool empty() const noexcept { return heap_.empty(); }
    std::size_t size() const noexcept { return heap_.size(); }

    /// The earliest timer (null if none).
    timer_node* top() const noexcept { return heap_.empty() ? nullptr : heap_.front().node; }

    /// Queues `n` (not queued yet) at `n.due`.
    void push(timer_node& n)
    {
        heap_.push_back({n.due, &n});
        n.place = heap_.size() - 1;
        up(n.place);
    }

    /// Takes `n` out, if queued.
    void remove(timer_node& n) noexcept
    {
        if (!n.queued()) return;
        const std::size_t i = n.place;
        n.place = timer_node::nowhere;
        const slot last = heap_.back();
        heap_.pop_back();
        if (last.node == &n) return;
        put(i, last);
        up(i);
        down(last.node->place);
    }

    /// Takes out and returns the earliest timer if it is due by `now` (else null).
    timer_node* pop_due(time_point now) noexcept
    {
        if (heap_.empty() || heap_.front().due > now) return nullptr;
        timer_node* n = heap_.front().node;
        remove(*n);
        return n;
    }

private:
    struct slot {
        time_point due;
        timer_node* node;
    };

    void put(std::size_t i, const slot& s) noexcept
    {
        heap_[i] = s;
        s.node->place = i;
    }

    void up(std::size_t i) noexcept
    {
        const slot s = heap_[i];
        while (i > 0) {
            const std::size_t parent = (i - 1) / 2;
            if (heap_[parent].due <= s.due) break;
            put(i, heap_[parent]);
            i = parent;
        }
        put(i, s);
    }

    void down(std::size_t i) noexcept
    {
        const slot s = heap_[i];
        for (;;) {
            std::size_t child = 2 * i + 1;
            if (child >= heap_.size()) break;
            if (child + 1 < heap_.size() && heap_[child + 1].due < heap_[child].due) ++child;
            if (s.due <= heap_[child].due) break;
            put(i, heap_[child]);
            i = child;
        }
        put(i, s);
    }

    std::vector<slot> heap_;
};

} // namespace sse::detail

#endif
