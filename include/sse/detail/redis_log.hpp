// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_REDIS_LOG_HPP
#define ASIO_SSE_DETAIL_REDIS_LOG_HPP

// A channel's shared log in Redis, sans I/O: positions, the records and messages nodes exchange,
// and the follower that turns live messages (at most once) plus fetches from the stream into
// one gap-free, duplicate-free sequence per node.

#include <sse/event.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sse::detail {

/// A Redis stream entry id, `ms-seq`. `{0, 0}` is "before the first entry".
struct redis_id {
    std::uint64_t ms = 0, seq = 0;

    friend bool operator==(const redis_id& a, const redis_id& b) noexcept { return a.ms == b.ms && a.seq == b.seq; }
    friend bool operator!=(const redis_id& a, const redis_id& b) noexcept { return !(a == b); }
    friend bool operator<(const redis_id& a, const redis_id& b) noexcept
    {
        return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq);
    }
    bool zero() const noexcept { return ms == 0 && seq == 0; }

    /// The smallest id after this one (for an inclusive range start).
    redis_id next() const noexcept { return seq == UINT64_MAX ? redis_id{ms + 1, 0} : redis_id{ms, seq + 1}; }

    std::string str() const { return std::to_string(ms) + '-' + std::to_string(seq); }

    /// `ms-seq` in canonical decimal; "" is `{0, 0}` (no previous entry); anything else is not an id.
    static std::optional<redis_id> parse(std::string_view s) noexcept
    {
        if (s.empty()) return redis_id{};
        const auto dash = s.find('-');
        if (dash == std::string_view::npos) return std::nullopt;
        redis_id id;
        if (!number(s.substr(0, dash), id.ms) || !number(s.substr(dash + 1), id.seq)) return std::nullopt;
        return id;
    }

private:
    static bool number(std::string_view s, std::uint64_t& out) noexcept
    {
        if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
        return r.ec == std::errc() && r.ptr == s.data() + s.size();
    }
};

/// Where a client is in a channel's log: the SSE id `epoch:ms-seq`.
struct log_position {
    std::string epoch;
    redis_id id;

    std::string str() const { return epoch + ':' + id.str(); }

    static std::optional<log_position> parse(std::string_view s)
    {
        const auto colon = s.find(':');
        if (colon == std::string_view::npos || colon == 0 || !epoch_ok(s.substr(0, colon))) return std::nullopt;
        auto id = redis_id::parse(s.substr(colon + 1));
        if (!id || id->zero()) return std::nullopt;
        return log_position{std::string(s.substr(0, colon)), *id};
    }

    /// An epoch is 1 to 32 lowercase hex digits (Redis gives back what a node chose).
    static bool epoch_ok(std::string_view e) noexcept
    {
        if (e.empty() || e.size() > 32) return false;
        for (char c : e)
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        return true;
    }
};

/** @brief An event's fields as they travel through Redis (its id is its place in the log):
    `type LF retry LF comment-length LF comment data`. */
inline std::string encode_record(const event& e)
{
    std::string out = e.type();
    out += '\n';
    if (e.retry()) out += std::to_string(e.retry()->count());
    out += '\n';
    out += std::to_string(e.comment().size());
    out += '\n';
    out += e.comment();
    out += e.data();
    return out;
}

/// The event a record holds, checked as any event is; `std::nullopt` for anything malformed.
inline std::optional<event> decode_record(std::string_view r)
{
    auto line = [&r](std::string_view& out) {
        const auto lf = r.find('\n');
        if (lf == std::string_view::npos) return false;
        out = r.substr(0, lf);
        r.remove_prefix(lf + 1);
        return true;
    };
    std::string_view type, retry, comment_size;
    if (!line(type) || !line(retry) || !line(comment_size)) return std::nullopt;
    std::size_t n = 0;
    const auto c = std::from_chars(comment_size.data(), comment_size.data() + comment_size.size(), n);
    if (c.ec != std::errc() || c.ptr != comment_size.data() + comment_size.size() || n > r.size()) return std::nullopt;
    try {
        event e{std::string(r.substr(n))};
        if (!type.empty()) e.type(std::string(type));
        if (!retry.empty()) {
            std::int64_t ms = 0;
            const auto m = std::from_chars(retry.data(), retry.data() + retry.size(), ms);
            if (m.ec != std::errc() || m.ptr != retry.data() + retry.size()) return std::nullopt;
            e.retry(std::chrono::milliseconds(ms));
        }
        if (n) e.comment(std::string(r.substr(0, n)));
        return e;
    } catch (const std::invalid_argument&) {
        return std::nullopt;
    }
}

/// A live message as published with an event: `epoch LF id LF previous-id LF record`.
struct log_message {
    std::string_view epoch;
    redis_id id, prev;
    std::string_view record;

    /// `std::nullopt` if `payload` is not such a message.
    static std::optional<log_message> parse(std::string_view payload)
    {
        std::string_view part[3];
        for (auto& p : part) {
            const auto lf = payload.find('\n');
            if (lf == std::string_view::npos) return std::nullopt;
            p = payload.substr(0, lf);
            payload.remove_prefix(lf + 1);
        }
        auto id = redis_id::parse(part[1]);
        auto prev = redis_id::parse(part[2]);
        if (!log_position::epoch_ok(part[0]) || !id || id->zero() || !prev || !(*prev < *id)) return std::nullopt;
        return log_message{part[0], *id, *prev, payload};
    }
};

/// What a fetch from the stream returned: the epoch, the stream's last id, and entries from the
/// requested start on, oldest first.
struct log_fetch {
    struct entry {
        redis_id id, prev;
        std::string record;
    };
    std::string epoch; ///< empty: the channel has no log (never published to, or lost)
    redis_id tail;
    std::vector<entry> entries;
};

/** @brief One node's reading of a channel's log (sans I/O). Live messages arrive at most once
    and may be missed (a dropped connection); each names its predecessor, so a gap shows, and a
    fetch from the stream repairs it. The follower hands the owner every event once, in log
    order, and says when history was lost (trimmed before this node read it, or an epoch
    ended: Redis lost its data).

    The owner: calls `subscribed()` when the live feed (re)starts and `unsubscribed()` when it
    stops; feeds `message()`; whenever a call returns true, fetches from `from()` (at most
    `fetch_count` entries) and hands the result to `fetched()` (or `fetch_failed()`). */
class redis_follower {
public:
    /// Receives the follower's output, in order.
    struct sink {
        virtual void deliver(const log_position& at, std::string_view record) = 0;
        virtual void lost() = 0; ///< events between the last delivered and the next were lost
    protected:
        ~sink() = default;
    };

    static constexpr std::size_t fetch_count = 512;
    /// Live messages kept while a fetch is in flight or waits to be retried, at most this many
    /// and these bytes (beyond: dropped, and read from the log after).
    static constexpr std::size_t max_held = 1024, max_held_bytes = 4 * 1024 * 1024;

    /// Whether this node knows where the log is (its first fetch returned).
    bool started() const noexcept { return started_; }
    const std::string& epoch() const noexcept { return epoch_; }
    redis_id last() const noexcept { return last_; }
    /// Where the next fetch starts (inclusive).
    redis_id from() const noexcept { return last_.next(); }
    /// Whether the next fetch only learns the position (the node's first).
    bool tail_only() const noexcept { return !started_; }

    /// The live feed is on: catch up with what it did not carry. Returns whether to fetch.
    bool subscribed()
    {
        live_ = true;
        return want_fetch();
    }

    /// The live feed stopped: messages are not expected until `subscribed()`.
    void unsubscribed() noexcept { live_ = false; }

    /// A live message (its payload). Returns whether to fetch.
    bool message(std::string_view payload, sink& out)
    {
        if (!live_) return false;
        if (fetching_) {
            if (held_.size() < max_held && held_bytes_ + payload.size() <= max_held_bytes) {
                held_.emplace_back(payload);
                held_bytes_ += payload.size();
            } else {
                again_ = true;
            }
            return false;
        }
        return take(payload, out);
    }

    /// A fetch's result. Returns whether to fetch again.
    bool fetched(const log_fetch& f, sink& out)
    {
        fetching_ = false;
        if (!started_) {
            started_ = true;
            epoch_ = f.epoch;
            last_ = f.tail;
        } else {
            if (f.epoch != epoch_) {
                if (f.epoch.empty()) return drain_held(out); // no log (yet): nothing to read
                // A new log: Redis lost the old one (or never had what this node saw).
                if (!epoch_.empty()) out.lost();
                const bool fresh = last_.zero();
                epoch_ = f.epoch;
                last_ = {};
                if (!fresh) return want_fetch(); // the fetch was from an old position: start over
            }
            if (!f.entries.empty()) {
                if (f.entries.front().prev != last_) out.lost(); // trimmed before this node read it
                deliver_all(f, out);
                if (f.entries.size() >= fetch_count) again_ = true;
            }
        }
        return drain_held(out);
    }

    /// A fetch did not complete (no connection): fetch again when possible.
    bool fetch_failed() noexcept
    {
        fetching_ = false;
        return want_fetch();
    }

    /// Whether a fetch is in flight.
    bool fetching() const noexcept { return fetching_; }
    /// Live messages that were not in the format nodes publish (ignored).
    std::uint64_t bad_messages() const noexcept { return bad_; }

private:
    bool want_fetch()
    {
        if (fetching_) {
            again_ = true;
            return false;
        }
        held_.clear();
        held_bytes_ = 0;
        again_ = false;
        fetching_ = true;
        return true;
    }

    void deliver_all(const log_fetch& f, sink& out)
    {
        for (const auto& e : f.entries) {
            if (!(last_ < e.id)) continue;
            last_ = e.id;
            out.deliver({epoch_, e.id}, e.record);
        }
    }

    // After a fetch: the messages held meanwhile, then another fetch if they were not enough.
    bool drain_held(sink& out)
    {
        auto held = std::move(held_);
        held_.clear();
        held_bytes_ = 0;
        const bool again = again_;
        again_ = false;
        for (const auto& p : held)
            if (take(p, out)) return true;
        return again && want_fetch();
    }

    bool take(std::string_view payload, sink& out)
    {
        auto m = log_message::parse(payload);
        if (!m) {
            ++bad_; // not a message of ours
            return false;
        }
        if (!started_ || m->epoch != epoch_) return want_fetch();
        if (!(last_ < m->id)) return false; // had it
        if (m->prev != last_) return want_fetch();
        last_ = m->id;
        out.deliver({epoch_, m->id}, m->record);
        return false;
    }

    bool started_ = false, live_ = false, fetching_ = false, again_ = false;
    std::string epoch_;
    redis_id last_;
    std::uint64_t bad_ = 0;
    std::deque<std::string> held_;
    std::size_t held_bytes_ = 0;
};

/// For a client resuming after `client`: whether a fetch from `client.id.next()` shows that
/// nothing after it was lost (same epoch; the first entry follows it, or none is due).
inline bool resumes_cleanly(const log_position& client, const log_fetch& f) noexcept
{
    if (f.epoch != client.epoch) return false;
    if (f.entries.empty()) return f.tail == client.id;
    return f.entries.front().prev == client.id;
}

} // namespace sse::detail

#endif
