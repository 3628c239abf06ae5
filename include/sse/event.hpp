// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_EVENT_HPP
#define ASIO_SSE_EVENT_HPP

#include <sse/detail/shared_buffer.hpp>
#include <sse/detail/utf8.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sse {

/** @brief One Server-Sent Event: `id`, `event` (its type), `retry`, `data` and optional comment.

    Fields are validated when set, so an event that exists can always be sent:
    a field that cannot be represented on the wire throws `std::invalid_argument`.
    Serialization (see `sse::serialize`) follows the WHATWG HTML "Server-sent events"
    section and the project's PROTOCOL rules:
    - `data` is split on CRLF, CR and LF into one `data:` line per line, so a client sees
      LF wherever the payload had CR or CRLF; empty data still dispatches (`data:`).
      Bytes that are not well-formed UTF-8 are sent as U+FFFD.
    - every field with a non-empty value is written `name: value`, so leading spaces survive
      the client's one-space strip;
    - the event ends with exactly one blank line.

    @code
    sse::event e = sse::event("hello").type("greeting").id("42");
    @endcode
*/
class event {
public:
    event() = default;

    /// An unnamed (`message`) event carrying `data`.
    explicit event(std::string data) : data_(std::move(data)) {}

    /** @brief A block without data: only its `id` and `retry` (and comment) are written, then
        the blank line. The client takes the id as its last event id (sent back as
        `Last-Event-ID`) and the reconnection delay, and dispatches no event.
        @code
        s->send(sse::event::fields().retry(std::chrono::seconds(10)));
        @endcode */
    static event fields()
    {
        event e;
        e.fields_only_ = true;
        return e;
    }

    /** @brief Sets the payload: any text; line breaks become separate `data:` lines.
        @throws std::logic_error on a `fields()` block (it has no data). */
    event& data(std::string value)
    {
        if (fields_only_) throw std::logic_error("sse::event: a fields() block carries no data");
        data_ = std::move(value);
        return *this;
    }

    /** @brief Sets the event type (the browser's `addEventListener` name).
        An empty name means `message` and writes no `event:` line.
        @throws std::invalid_argument on CR, LF, NUL, malformed UTF-8, or the names `open`
        and `error`, which would fire the browser's `onopen`/`onerror`; std::logic_error on a
        `fields()` block (it dispatches nothing, so it has no type). */
    event& type(std::string value)
    {
        if (fields_only_) throw std::logic_error("sse::event: a fields() block has no type");
        check_field("event type", value);
        if (value == "open" || value == "error")
            throw std::invalid_argument("sse::event: type \"" + value +
                                        "\" would fire EventSource.on" + value);
        type_ = std::move(value);
        return *this;
    }

    /** @brief Sets the id the client stores and sends back as `Last-Event-ID`.
        @throws std::invalid_argument if empty (use `reset_id()`), if it has CR, LF or NUL,
        malformed UTF-8, or leading/trailing white space (lost in the round trip). */
    event& id(std::string value)
    {
        if (value.empty())
            throw std::invalid_argument("sse::event: empty id; call reset_id() to clear the client's id");
        check_field("id", value);
        if (is_space(value.front()) || is_space(value.back()))
            throw std::invalid_argument("sse::event: id has leading or trailing white space");
        id_ = std::move(value);
        return *this;
    }

    /// Writes an empty `id:` line, which clears the client's last event id.
    event& reset_id()
    {
        id_.emplace();
        return *this;
    }

    /** @brief Sets the client's reconnection delay.
        @throws std::invalid_argument outside 0..2147483647 ms (JavaScript timers overflow above). */
    event& retry(std::chrono::milliseconds value)
    {
        if (value.count() < 0 || value.count() > max_retry_ms)
            throw std::invalid_argument("sse::event: retry outside 0..2147483647 ms");
        retry_ = value;
        return *this;
    }

    /// Sets a comment written before the fields (each of its lines prefixed with `:`).
    event& comment(std::string value)
    {
        comment_ = std::move(value);
        return *this;
    }

    const std::string& data() const noexcept { return data_; }
    const std::string& type() const noexcept { return type_; }
    /// The id, empty for "reset"; `std::nullopt` when the event carries no id.
    const std::optional<std::string>& id() const noexcept { return id_; }
    std::optional<std::chrono::milliseconds> retry() const noexcept { return retry_; }
    const std::string& comment() const noexcept { return comment_; }
    /// True for a `fields()` block (no `data:` line: it dispatches nothing).
    bool fields_only() const noexcept { return fields_only_; }

    /// True if `value` may be used as an event id (see `id()`).
    static bool valid_id(std::string_view value) noexcept
    {
        return !value.empty() && field_ok(value) && !is_space(value.front()) && !is_space(value.back());
    }

    static constexpr std::int64_t max_retry_ms = 2147483647;

private:
    static bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; }

    static bool field_ok(std::string_view v) noexcept
    {
        return v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos && detail::utf8_valid(v);
    }

    static void check_field(const char* what, std::string_view v)
    {
        if (!field_ok(v))
            throw std::invalid_argument(std::string("sse::event: ") + what +
                                        " contains CR, LF, NUL or malformed UTF-8");
    }

    std::string data_;
    std::string type_;
    std::optional<std::string> id_;
    std::optional<std::chrono::milliseconds> retry_;
    std::string comment_;
    bool fields_only_ = false;
};

namespace detail {

/// Calls `line(segment)` for each line of `text`, split on CRLF, CR or LF; a trailing
/// break yields a final empty segment, and empty text yields one empty segment.
template <class F>
void for_each_line(std::string_view text, F&& line)
{
    const char* const end = text.data() + text.size();
    const auto find = [end](const char* from, char c) {
        const void* at = from == end ? nullptr : std::memchr(from, c, static_cast<std::size_t>(end - from));
        return at ? static_cast<const char*>(at) : end;
    };
    const char* start = text.data();
    const char *cr = find(start, '\r'), *lf = find(start, '\n'); // each searched again once passed
    for (;;) {
        if (cr < start) cr = find(start, '\r');
        if (lf < start) lf = find(start, '\n');
        const char* brk = std::min(cr, lf);
        if (brk == end) break;
        line(std::string_view(start, static_cast<std::size_t>(brk - start)));
        start = brk + 1;
        if (*brk == '\r' && start != end && *start == '\n') ++start;
    }
    line(std::string_view(start, static_cast<std::size_t>(end - start)));
}

/// Bytes of the line `name: value` (`name:` when `value` is empty), its LF included.
inline std::size_t field_size(std::string_view name, std::string_view value) noexcept
{
    return name.size() + (value.empty() ? 2 : 3 + value.size());
}

/// Writes the line `field_size(name, value)` counts at `p`; returns the end of it.
inline char* put_field(char* p, std::string_view name, std::string_view value) noexcept
{
    std::memcpy(p, name.data(), name.size());
    p += name.size();
    *p++ = ':';
    if (!value.empty()) {
        *p++ = ' ';
        std::memcpy(p, value.data(), value.size());
        p += value.size();
    }
    *p++ = '\n';
    return p;
}

/// True if `text` goes out as it is, on one line: no CR or LF, well-formed UTF-8.
inline bool single_line(std::string_view text) noexcept
{
    return !std::memchr(text.data(), '\n', text.size()) && !std::memchr(text.data(), '\r', text.size()) &&
           utf8_valid(text);
}

} // namespace detail

/// Appends comment lines (`: text`) for `text`, one per line of it; no blank line follows,
/// so a comment never dispatches an event (the keep-alive form).
inline void serialize_comment(std::string_view text, std::string& out)
{
    detail::for_each_line(text, [&](std::string_view line) {
        out.push_back(':');
        if (!line.empty()) {
            out.push_back(' ');
            detail::append_utf8_sanitized(out, line);
        }
        out.push_back('\n');
    });
}

/// Appends the wire form of `e` to `out`: comment lines, then `id`, `event`, `retry`,
/// `data` lines (none for a `fields()` block), then the blank line that dispatches it.
inline void serialize(const event& e, std::string& out)
{
    if (!e.comment().empty()) serialize_comment(e.comment(), out);
    // The fields are single lines (their setters check), and so is most data: those are sized
    // first and copied into place; data with line breaks or bad bytes goes line by line.
    char retry[24];
    std::string_view retry_text;
    if (e.retry()) {
        const auto r = std::to_chars(retry, retry + sizeof retry, e.retry()->count());
        retry_text = std::string_view(retry, static_cast<std::size_t>(r.ptr - retry));
    }
    const bool one_line = e.fields_only() || detail::single_line(e.data());
    std::size_t n = one_line ? (e.fields_only() ? 0 : detail::field_size("data", e.data())) + 1 : 0;
    if (e.id()) n += detail::field_size("id", *e.id());
    if (!e.type().empty()) n += detail::field_size("event", e.type());
    if (e.retry()) n += detail::field_size("retry", retry_text);
    const std::size_t at = out.size();
    out.resize(at + n);
    char* p = &out[at];
    if (e.id()) p = detail::put_field(p, "id", *e.id());
    if (!e.type().empty()) p = detail::put_field(p, "event", e.type());
    if (e.retry()) p = detail::put_field(p, "retry", retry_text);
    if (one_line) {
        *(e.fields_only() ? p : detail::put_field(p, "data", e.data())) = '\n';
        return;
    }
    out.reserve(out.size() + e.data().size() + 16);
    detail::for_each_line(e.data(), [&](std::string_view line) {
        out.append("data:");
        if (!line.empty()) {
            out.push_back(' ');
            detail::append_utf8_sanitized(out, line);
        }
        out.push_back('\n');
    });
    out.push_back('\n');
}

/// The wire form of `e` (see `serialize(const event&, std::string&)`).
inline std::string to_string(const event& e)
{
    std::string out;
    serialize(e, out);
    return out;
}

/** @brief `json` with U+2028, U+2029 and U+0085 written as the JSON escapes `\u2028`,
    `\u2029` and `\u0085`, everything else unchanged.

    Spec clients (browsers, npm `eventsource`) break lines on CR and LF only, but clients that
    split with Python's `str.splitlines()` also break on these three characters and so cut an
    event's data apart (the ASCII controls it breaks on are never raw in valid JSON). Valid JSON
    can hold these three only inside strings, where the escape means the same character, so the
    result parses to the same value. Use it for JSON data only: in other
    text the escapes would be literal. */
inline std::string escape_line_separators(std::string_view json)
{
    std::string out;
    out.reserve(json.size());
    const auto at = [&](std::size_t i) { return i < json.size() ? static_cast<unsigned char>(json[i]) : 0u; };
    for (std::size_t i = 0; i < json.size(); ++i) {
        if (at(i) == 0xC2 && at(i + 1) == 0x85) { // U+0085
            out += "\\u0085";
            i += 1;
        } else if (at(i) == 0xE2 && at(i + 1) == 0x80 && (at(i + 2) == 0xA8 || at(i + 2) == 0xA9)) { // U+2028, U+2029
            out += at(i + 2) == 0xA8 ? "\\u2028" : "\\u2029";
            i += 2;
        } else {
            out += json[i];
        }
    }
    return out;
}

namespace detail {
/// `e` serialized once into the immutable buffer that queues share.
inline shared_buffer serialized(const event& e) { return make_shared_buffer(to_string(e)); }
} // namespace detail

} // namespace sse

#endif
