// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_CHANNEL_HPP
#define ASIO_SSE_CHANNEL_HPP

#include <sse/detail/checked_options.hpp>
#include <sse/detail/history.hpp>
#include <sse/detail/fanout.hpp>
#include <sse/event.hpp>
#include <sse/options.hpp>
#include <sse/stream.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sse {

/// What a channel does for a client whose `Last-Event-ID` is not in its history (the events
/// after it fell out, or the id is unknown, e.g. from before a restart).
enum class missed_policy {
    send_history, ///< send everything the history still holds, then live events
    live_only,    ///< send live events only
};

/** @brief Settings of one `sse::channel`, with their defaults. */
struct channel_options {
    /// The channel numbers its events 1, 2, 3, … (replacing any id the publisher set); when
    /// false, it keeps the publisher's ids (events without one cannot be resumed from).
    bool assign_ids = true;
    /// Replay history bounds: the newest events up to this count, these bytes, and (if
    /// non-zero) this age. `history_events = 0` disables replay.
    std::size_t history_events = 1024;
    std::size_t history_bytes = 1024 * 1024;
    std::chrono::milliseconds history_age{0};
    /// For a client whose `Last-Event-ID` is not in the history.
    missed_policy on_missed = missed_policy::send_history;
    /// If not empty, such a client first gets an event of this type whose data is the id it
    /// sent, so the application can refetch state.
    std::string missed_event;
    /// Overrides the server's `overflow` policy for this channel's events.
    std::optional<overflow_policy> overflow;
};

/** @brief A channel's counters (see `channel::stats()`). */
struct channel_stats {
    std::uint64_t published = 0;   ///< events published
    std::uint64_t replayed = 0;    ///< events queued from history for reconnecting clients
    std::uint64_t missed = 0;      ///< reconnects whose `Last-Event-ID` was not in the history
    std::uint64_t subscribers = 0; ///< streams subscribed now
    std::uint64_t history_events = 0, history_bytes = 0; ///< what the history holds now
};

/** @brief A topic streams subscribe to, with bounded replay for `Last-Event-ID`.

    `publish()` serializes an event once into an immutable shared buffer that every
    subscriber's queue references: no per-subscriber copy or formatting. Every subscriber
    receives a channel's events in publish order. A stream may be in several channels and
    leaves them when it closes. A client reconnecting with `Last-Event-ID` gets every event
    after that id from the history, then live events, with no gap and no duplicate, even while
    publishes continue.

    `channel` is a handle: copies refer to the same topic.
    @par Thread Safety
    Every member function may be called from any thread. Filters run under the channel's lock,
    on the publishing thread (and, for replay, on the subscribing one): keep them short and do
    not call back into the channel.
*/
class channel {
public:
    /// Selects the subscribers an event goes to.
    using filter = std::function<bool(const stream&)>;

    /// @throws std::invalid_argument if `options.missed_event` is not a valid event type, or
    /// `history_age` is negative or over 365 days.
    explicit channel(channel_options options = {}) : impl_(std::make_shared<impl>(std::move(options))) {}

    /** @brief Adds `s`, first queueing what it missed according to its request's
        `Last-Event-ID` (header, or `lastEventId` query parameter). */
    void subscribe(const stream_ptr& s) { subscribe(s, s->request().last_event_id()); }

    /// Adds `s`, first queueing the history after `last_event_id` (none if empty). No effect if
    /// `s` is subscribed already, or closing. O(1) in the channel's size.
    void subscribe(const stream_ptr& s, std::string_view last_event_id) { impl_->add(s, last_event_id); }

    /// Removes `s` (it stays open); undoes all that `subscribe` did. O(1) in the channel's size.
    void unsubscribe(const stream_ptr& s) { impl_->drop(*s); }

    /** @brief Sends `e` to every subscriber (those `to` accepts, if given) and records it in
        the history. @return the event's id (assigned by the channel, or the publisher's). */
    std::string publish(event e, filter to = nullptr) { return impl_->publish(std::move(e), std::move(to)); }

    /// The number of subscribed streams.
    std::size_t size() const
    {
        std::lock_guard<std::mutex> lock(impl_->mu);
        return impl_->size();
    }

    /// The channel's counters, now.
    channel_stats stats() const
    {
        std::lock_guard<std::mutex> lock(impl_->mu);
        auto s = impl_->counts;
        s.subscribers = impl_->size();
        s.history_events = impl_->past.entries().size();
        s.history_bytes = impl_->past.bytes();
        return s;
    }

private:
    struct impl final : detail::fanout, std::enable_shared_from_this<impl> {
        explicit impl(channel_options o)
            : options(std::move(o)),
              past(options.history_events, options.history_bytes, detail::checked_duration(options.history_age, "history_age"))
        {
            if (!options.missed_event.empty()) event().type(options.missed_event); // validates
        }

        void add(const stream_ptr& s, std::string_view last_event_id)
        {
            std::lock_guard<std::mutex> lock(mu);
            fanout::add(s, shared_from_this(), [&](stream& st) { replay(st, last_event_id); });
        }

        void drop(stream& s)
        {
            std::lock_guard<std::mutex> lock(mu);
            fanout::drop(s, shared_from_this());
        }

        std::string publish(event e, filter to)
        {
            std::lock_guard<std::mutex> lock(mu);
            const std::uint64_t seq = ++last_seq;
            if (options.assign_ids) e.id(std::to_string(seq));
            last_id = e.id() ? *e.id() : std::string();
            auto bytes = detail::serialized(e);
            ++counts.published;
            // Deliver first, then record: the history takes ownership of the filter.
            deliver(bytes, e.id() ? &last_id : nullptr, to, options.overflow);
            past.add({seq, last_id, std::move(bytes), detail::history::clock::now(), std::move(to)});
            return last_id;
        }

        // Under mu: queues for `s` what it missed after `last`.
        void replay(stream& s, std::string_view last)
        {
            if (last.empty() || last == last_id) return; // a new client, or one that is up to date
            past.expire(detail::history::clock::now());
            auto from = past.after(last, options.assign_ids);
            if (!from) {
                ++counts.missed;
                if (!options.missed_event.empty())
                    fanout::replay(s, detail::serialized(event(std::string(last)).type(options.missed_event)));
                if (options.on_missed == missed_policy::live_only) return;
                from = 0;
            }
            counts.replayed += fanout::replay(s, past, *from);
        }

        const channel_options options;
        detail::history past;
        std::uint64_t last_seq = 0;
        std::string last_id;
        channel_stats counts;
    };

    std::shared_ptr<impl> impl_;
};

} // namespace sse

#endif
