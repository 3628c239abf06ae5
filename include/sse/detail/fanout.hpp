// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_FANOUT_HPP
#define ASIO_SSE_DETAIL_FANOUT_HPP

#include <sse/detail/history.hpp>
#include <sse/detail/membership.hpp>
#include <sse/detail/send_queue.hpp>
#include <sse/detail/shared_buffer.hpp>
#include <sse/options.hpp>
#include <sse/stream.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sse::detail {

/** @brief A channel's subscribers and the fan-out to them: what `sse::channel` and
    `sse::redis_channel` share. Its lock (`mu`) guards the subscribers and whatever state the
    owning channel keeps beside them; every member but `remove` expects it held. */
class fanout : public subscriber_list {
public:
    using filter = std::function<bool(const stream&)>;

    mutable std::mutex mu;

    /// Adds `s`, after `before(s)` (which queues what it missed) ran; `self` is this list, as
    /// the stream records it. No effect if `s` is in already, or closing. O(1).
    template <class Before>
    void add(const stream_ptr& s, const std::shared_ptr<subscriber_list>& self, Before&& before)
    {
        membership* m = s->join(self);
        if (!m) return;
        before(*s);
        m->index = subscribers_.size();
        subscribers_.push_back({s, m});
    }

    /// Removes `s` (it stays open). O(1).
    void drop(stream& s, const std::shared_ptr<subscriber_list>& self)
    {
        const std::size_t at = s.leave(self);
        if (at != membership::none) erase(at);
    }

    /// subscriber_list: a closing stream leaves (takes the lock).
    void remove(membership& m) override
    {
        std::lock_guard<std::mutex> lock(mu);
        if (m.index >= subscribers_.size() || subscribers_[m.index].m != &m) return;
        erase(m.index);
        m.index = membership::none;
    }

    /// Queues `bytes` (an event, `id` its id if any) for each subscriber `to` accepts. One that
    /// refuses (closing) is forgotten here (its closing finds it gone).
    void deliver(const shared_buffer& bytes, const std::string* id, const filter& to,
                 std::optional<overflow_policy> overflow)
    {
        for (std::size_t i = 0; i < subscribers_.size();) {
            auto& s = *subscribers_[i].s;
            if ((!to || to(s)) && !s.enqueue(bytes, id, item_kind::event, nullptr, overflow)) {
                subscribers_[i].m->index = membership::none;
                erase(i);
            } else {
                ++i;
            }
        }
    }

    /// Queues `bytes` for every subscriber, outside the queue bound (a notice such as the
    /// channel's `missed_event`).
    void notify(const shared_buffer& bytes)
    {
        for (auto& sub : subscribers_) sub.s->enqueue(bytes, nullptr, item_kind::replay);
    }

    /// Queues replayed bytes for `s` (outside its queue bound: their source is bounded).
    static bool replay(stream& s, const shared_buffer& bytes, const std::string* id = nullptr)
    {
        return s.enqueue(bytes, id, item_kind::replay);
    }

    /// Adds `n` to the server's count of replayed events.
    static void count_replayed(stream& s, std::uint64_t n) noexcept { s.count_replayed(n); }

    /// Queues for `s` the entries of `past` from index `from` on (those whose filter accepts
    /// it); counts them for the server. Returns how many.
    static std::uint64_t replay(stream& s, const history& past, std::size_t from)
    {
        const auto& entries = past.entries();
        std::uint64_t n = 0;
        for (std::size_t i = from; i < entries.size(); ++i) {
            const auto& e = entries[i];
            if (e.to && !e.to(s)) continue;
            n += replay(s, e.bytes, e.id.empty() ? nullptr : &e.id);
        }
        count_replayed(s, n);
        return n;
    }

    std::size_t size() const noexcept { return subscribers_.size(); }

protected:
    ~fanout() = default;

private:
    struct subscriber {
        stream_ptr s;
        membership* m; // where the stream records its place here
    };

    // Removes the subscriber at `i` (the last one takes its place); the removed one's
    // membership is the caller's to mark (or already gone).
    void erase(std::size_t i)
    {
        if (i + 1 != subscribers_.size()) {
            subscribers_[i] = std::move(subscribers_.back());
            subscribers_[i].m->index = i;
        }
        subscribers_.pop_back();
    }

    std::vector<subscriber> subscribers_;
};

} // namespace sse::detail

#endif
