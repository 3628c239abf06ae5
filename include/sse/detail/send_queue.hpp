// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_SEND_QUEUE_HPP
#define ASIO_SSE_DETAIL_SEND_QUEUE_HPP

#include <sse/detail/asio.hpp>
#include <sse/detail/ring.hpp>
#include <sse/detail/shared_buffer.hpp>
#include <sse/error.hpp>
#include <sse/options.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

namespace sse::detail {

/// What a queued item is; only some count against the bound (see `send_queue`).
enum class item_kind : unsigned char { control, event, replay, comment, heartbeat };

/** @brief One stream's write queue, sans I/O and without a lock of its own (its owner locks).

    Items wait in two FIFOs, in one order (a sequence number): those counted against the bound
    (events, comments, heartbeats) and the exempt ones (the response head or a rejection, and
    channel history replays, whose size is bounded at their source). A writer takes a batch of
    up to `max_batch` items into flight (`take()`), writes `buffers()`, reports progress with
    `advance()` and completes the batch with `settle()`.

    The bound counts what an item costs: its bytes plus `item_charge`. When a counted item would
    take the queue past the bound (and the queue holds anything counted), the overflow policy
    decides: `disconnect` refuses it (the owner closes the stream); `drop_oldest` drops the
    oldest counted items that are not in flight, O(1) each, until it fits. A lone item larger
    than the bound is still taken, so the queue holds at most the bound plus one item.

    A completion (`async_send`) waits on an item; the queue never calls it, but hands it back
    with its result (`std::error_code`) for the owner to call outside its lock: success when
    the item's batch settles, `queue_overflow` when the item is dropped, `stream_closed` when
    the queue is cleared or closed.

    Locking: every member needs the owner's lock, except `buffers()`, `advance()` and
    `mid_item()`, which touch only the batch in flight: the one writer (a stream's strand) calls
    them without it, between the `take()` and the `settle()` it makes under the lock.
*/
class send_queue {
public:
    using completion = std::function<void(std::error_code)>;
    /// Completions with their results, in the order they must run.
    using results = std::vector<std::pair<completion, std::error_code>>;

    /** What the bound charges for an item beyond its bytes: its slot in the ring (32 bytes,
        twice over for the ring's room to grow) and the allocation of a shared buffer that only
        this queue holds (`std::make_shared<const std::string>`: 48 bytes, 64 with malloc's
        header). A channel's buffer is shared by every subscriber, so its streams are charged
        more than they hold. */
    static constexpr std::size_t item_charge = 128;
    /// The most items in flight at once (a socket gathers at most 64 buffers per system call).
    static constexpr std::size_t max_batch = 64;

    struct item {
        shared_buffer bytes;
        std::uint64_t seq;
        item_kind kind;
        bool waited; // a completion waits on it
    };

    /// The in-flight items from a position on, as an Asio buffer sequence (no vector of
    /// buffers is built: a socket gathers up to 64 per system call).
    class buffer_sequence {
    public:
        class const_iterator {
        public:
            using iterator_category = std::input_iterator_tag; // multi-pass, but yields values
            using value_type = asio::const_buffer;
            using difference_type = std::ptrdiff_t;
            using pointer = const asio::const_buffer*;
            using reference = asio::const_buffer;

            const_iterator() = default;
            const_iterator(const item* it, std::size_t offset) noexcept : item_(it), offset_(offset) {}

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
            const item* item_ = nullptr;
            std::size_t offset_ = 0; // into the first item
        };

        buffer_sequence(const item* begin, const item* end, std::size_t offset) noexcept
            : begin_(begin, offset), end_(end, 0)
        {
        }
        const_iterator begin() const noexcept { return begin_; }
        const_iterator end() const noexcept { return end_; }

    private:
        const_iterator begin_, end_;
    };

    /// What a push did.
    struct pushed {
        bool queued;               ///< false: the disconnect policy refused it (nothing queued)
        std::size_t dropped_events; ///< events `drop_oldest` dropped to make room
    };

    /// What a settled batch held.
    struct settled {
        std::size_t events, heartbeats;
    };

    explicit send_queue(std::size_t max_bytes) noexcept : max_bytes_(max_bytes) {}

    /// Whether an item of `kind` counts against the bound.
    static constexpr bool counted(item_kind kind) noexcept
    {
        return kind != item_kind::control && kind != item_kind::replay;
    }

    /// What an item of `size` bytes costs against the bound.
    static constexpr std::size_t cost(std::size_t size) noexcept
    {
        return size > SIZE_MAX - item_charge ? SIZE_MAX : size + item_charge;
    }

    /** @brief Queues `bytes` (of a counted kind: meets the overflow policy). Completions of
        dropped items are appended to `out`; `done`, if any, waits on this item (or, if it is
        refused, is appended to `out` with `queue_overflow`). */
    pushed push(shared_buffer bytes, item_kind kind, overflow_policy policy, completion done, results& out)
    {
        std::size_t dropped = 0;
        if (counted(kind)) {
            const std::size_t c = cost(bytes->size());
            if (!fits(c)) {
                if (policy == overflow_policy::disconnect) {
                    if (done) out.emplace_back(std::move(done), error::queue_overflow);
                    return {false, 0};
                }
                dropped = drop_oldest(c, out);
            }
            bytes_ += c;
        }
        const std::uint64_t seq = ++seq_;
        const bool waited = done != nullptr;
        if (waited) {
            if (!counted(kind)) throw std::logic_error("sse::detail::send_queue: a completion on an exempt item");
            waiters().pending.push_back(std::move(done));
        }
        (counted(kind) ? counted_ : exempt_).push_back({std::move(bytes), seq, kind, waited}, ring_limit());
        return {true, dropped};
    }

    /// Puts `bytes` (the response head) before everything queued; exempt from the bound.
    void push_front(shared_buffer bytes) { exempt_.push_front({std::move(bytes), 0, item_kind::control, false}); }

    /// Drops everything queued and not in flight; its completions get `stream_closed`.
    void clear(results& out)
    {
        for (; !counted_.empty(); counted_.pop_front()) bytes_ -= cost(counted_.front().bytes->size());
        exempt_.clear();
        if (w_)
            while (!w_->pending.empty()) out.emplace_back(w_->pending.pop_front(), error::stream_closed);
    }

    /// As `clear()`, and the in-flight items' completions get `stream_closed` too (their items
    /// stay until `settle()`: a write may still be reading them).
    void close(results& out)
    {
        if (w_) {
            for (auto& c : w_->flight) out.emplace_back(std::move(c), error::stream_closed);
            w_->flight.clear();
        }
        clear(out);
    }

    /// Whether items wait to be taken.
    bool has_pending() const noexcept { return !counted_.empty() || !exempt_.empty(); }
    /// Whether a batch is in flight.
    bool in_flight() const noexcept { return !flight_.empty(); }
    /// Bytes charged against the bound now (counted items queued or in flight, with their charge).
    std::size_t bytes() const noexcept { return bytes_; }

    /// Takes the next batch (up to `max_batch` items, in order) into flight. Needs `!in_flight()`.
    void take()
    {
        write_pos_ = write_offset_ = 0;
        while (flight_.size() < max_batch && has_pending()) {
            const bool from_exempt =
                !exempt_.empty() && (counted_.empty() || exempt_.front().seq < counted_.front().seq);
            item it = (from_exempt ? exempt_ : counted_).pop_front();
            if (it.waited) w_->flight.push_back(w_->pending.pop_front());
            flight_.push_back(std::move(it));
        }
    }

    /// What is left to write of the batch in flight.
    buffer_sequence buffers() const noexcept
    {
        const item* base = flight_.data();
        return {base + write_pos_, base + flight_.size(), write_offset_};
    }

    /// `n` bytes of the batch were written; returns whether all of it is.
    bool advance(std::size_t n) noexcept
    {
        for (; write_pos_ < flight_.size(); ++write_pos_, write_offset_ = 0) { // past empty items too
            const std::size_t left = flight_[write_pos_].bytes->size() - write_offset_;
            if (n < left) {
                write_offset_ += n;
                return false;
            }
            n -= left;
        }
        return true;
    }

    /// Whether the write stopped inside an item.
    bool mid_item() const noexcept { return write_offset_ != 0; }

    /** @brief Ends the batch in flight: written (`ok`; its completions are appended to `out`
        with success) or not (the owner closes the queue). Returns what it held. */
    settled settle(bool ok, results& out)
    {
        settled s{0, 0};
        for (const auto& it : flight_) {
            s.events += it.kind == item_kind::event || it.kind == item_kind::replay;
            s.heartbeats += it.kind == item_kind::heartbeat;
            if (counted(it.kind)) bytes_ -= cost(it.bytes->size());
        }
        flight_.clear();
        if (w_) {
            for (auto& c : w_->flight) out.emplace_back(std::move(c), ok ? std::error_code() : error::stream_closed);
            w_->flight.clear();
        }
        return s;
    }

private:
    // Drops the oldest counted items that wait (never those in flight) until `incoming` fits.
    std::size_t drop_oldest(std::size_t incoming, results& out)
    {
        std::size_t events = 0;
        while (!counted_.empty() && !fits(incoming)) {
            item it = counted_.pop_front();
            bytes_ -= cost(it.bytes->size());
            events += it.kind == item_kind::event;
            // the pending completions are in the order of their (counted) items
            if (it.waited) out.emplace_back(w_->pending.pop_front(), error::queue_overflow);
        }
        return events;
    }

    // Whether an item costing `c` may join: the queue holds nothing counted, or it stays within
    // the bound (written so that nothing overflows).
    bool fits(std::size_t c) const noexcept
    {
        return bytes_ == 0 || c <= max_bytes_ - (bytes_ < max_bytes_ ? bytes_ : max_bytes_);
    }

    // The counted ring never needs more slots than the bound can charge for (plus one item over).
    std::size_t ring_limit() const noexcept { return max_bytes_ / item_charge + 2; }

    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::uint64_t seq_ = 0;
    // Completions are rare (async_send only): made on first use, they cost other streams 8 bytes.
    struct waiting {
        ring<completion> pending;       // of waited items not yet in flight, in order
        std::vector<completion> flight; // of waited items in flight
    };
    waiting& waiters()
    {
        if (!w_) w_ = std::make_unique<waiting>();
        return *w_;
    }

    ring<item> counted_;
    ring<item> exempt_{0}; // rarely used (the head, replays): no storage kept while empty
    std::vector<item> flight_; // the batch being written (at most max_batch)
    std::unique_ptr<waiting> w_;
    std::size_t write_pos_ = 0, write_offset_ = 0; // what of flight_ is written: items, then bytes
};

} // namespace sse::detail

#endif
