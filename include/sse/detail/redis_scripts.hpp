// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_REDIS_SCRIPTS_HPP
#define ASIO_SSE_DETAIL_REDIS_SCRIPTS_HPP

// What a channel's log is in Redis: its key names, the two Lua scripts that append to it and
// read from it (each atomic), and the decoding of their replies (sans I/O).

#include <sse/detail/redis_log.hpp>
#include <sse/detail/redis_reply.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace sse::detail {

/// The names one channel uses in Redis. The channel's name is escaped (`%XX` for anything but
/// letters, digits and `-_.:/@`), so no name can reach another's keys, a hash tag or a pattern.
struct redis_names {
    std::string log, epoch, feed; // a stream, a string, a pub/sub channel

    redis_names(std::string_view prefix, std::string_view channel, bool live_only)
    {
        std::string base(prefix);
        base += '{';
        base += escape(channel);
        base += '}';
        log = base + ":log";
        epoch = base + ":epoch";
        feed = base + (live_only ? ":live" : ":feed");
    }

    static std::string escape(std::string_view s)
    {
        static constexpr char hex[] = "0123456789ABCDEF";
        std::string out;
        out.reserve(s.size());
        for (unsigned char c : s) {
            const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                               c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '@';
            if (plain) {
                out += static_cast<char>(c);
            } else {
                out += '%';
                out += hex[c >> 4];
                out += hex[c & 15];
            }
        }
        return out;
    }
};

/// Appends a record to the log and publishes it, as one step. KEYS: log, epoch. ARGV: the
/// trimming length, the record, a fresh epoch (used if the channel has none), the feed.
/// Returns {epoch, id}. Each entry records its predecessor, so that a gap always shows.
inline constexpr std::string_view redis_append_script = R"lua(
local e = redis.call('GET', KEYS[2])
if not e then
  e = ARGV[3]
  redis.call('SET', KEYS[2], e)
end
local t = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local p = ''
if t[1] then p = t[1][1] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'p', p, 'r', ARGV[2])
redis.call('PUBLISH', ARGV[4], e .. '\n' .. id .. '\n' .. p .. '\n' .. ARGV[2])
return {e, id}
)lua";

/// Reads the log. KEYS: log, epoch. ARGV: the first id wanted, the most entries (0: none).
/// Returns {epoch or '', the last id or '', entries}.
inline constexpr std::string_view redis_fetch_script = R"lua(
local e = redis.call('GET', KEYS[2]) or ''
local t = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local tail = ''
if t[1] then tail = t[1][1] end
local r = {}
if tonumber(ARGV[2]) > 0 then r = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2]) end
return {e, tail, r}
)lua";

/// The append script's reply: where the event went; `std::nullopt` if malformed.
inline std::optional<log_position> parse_appended(const redis_reply& r)
{
    const auto *e = r.at(0), *id = r.at(1);
    if (!e || !id || !e->is_string() || !id->is_string() || !log_position::epoch_ok(e->str)) return std::nullopt;
    auto at = redis_id::parse(id->str);
    if (!at || at->zero()) return std::nullopt;
    return log_position{e->str, *at};
}

/// The fetch script's reply; `std::nullopt` if malformed (entries out of order included).
inline std::optional<log_fetch> parse_fetch(const redis_reply& r)
{
    const auto *e = r.at(0), *tail = r.at(1), *entries = r.at(2);
    if (!e || !tail || !entries || !e->is_string() || !tail->is_string() || entries->type != redis_reply::kind::array)
        return std::nullopt;
    if (!e->str.empty() && !log_position::epoch_ok(e->str)) return std::nullopt;
    auto t = redis_id::parse(tail->str);
    if (!t) return std::nullopt;
    log_fetch f;
    f.epoch = e->str;
    f.tail = *t;
    f.entries.reserve(entries->elements.size());
    for (const auto& entry : entries->elements) {
        if (!entry) return std::nullopt;
        const auto *id = entry->at(0), *fields = entry->at(1);
        if (!id || !fields || !id->is_string() || fields->type != redis_reply::kind::array) return std::nullopt;
        auto at = redis_id::parse(id->str);
        if (!at || at->zero() || (!f.entries.empty() && !(f.entries.back().id < *at))) return std::nullopt;
        std::optional<redis_id> prev;
        const std::string* record = nullptr;
        for (std::size_t i = 0; i + 1 < fields->elements.size(); i += 2) {
            const auto *k = fields->at(i), *v = fields->at(i + 1);
            if (!k || !v || !k->is_string() || !v->is_string()) return std::nullopt;
            if (k->str == "p") prev = redis_id::parse(v->str);
            if (k->str == "r") record = &v->str;
        }
        if (!prev || !record || !(*prev < *at)) return std::nullopt;
        f.entries.push_back({*at, *prev, *record});
    }
    return f;
}

} // namespace sse::detail

#endif
