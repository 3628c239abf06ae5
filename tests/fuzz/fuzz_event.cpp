// libFuzzer target: sse::event built from arbitrary fields, serialized, and read back by the
// reference WHATWG parser of the tests (tests/support/sse_parser.hpp).
//
// Input (FuzzedDataProvider): the last byte says which setters run, the 8 before it are the
// retry; from the front come the type, id and comment (each ended by a backslash and another
// character; "\\\\" is a literal backslash), and the rest is the data.
// Checked: a setter refuses exactly the values PROTOCOL.md says it must (and leaves the event
// as it was); the wire has no CR, every line is a comment or a known field, and the event ends
// with its only blank line; a spec client dispatches exactly one event with the same type (or
// "message"), the data with CR/CRLF turned into LF and malformed UTF-8 into U+FFFD, the same id
// and retry; a comment alone never sets a field or dispatches; escape_line_separators() leaves
// none of U+2028, U+2029, U+0085 and grows the data by exactly their escapes.
#include "check.hpp"
#include "support/sse_parser.hpp"

#include <sse/event.hpp>

#include <fuzzer/FuzzedDataProvider.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629), or 0. Written from
// the code point values, independently of the table-driven decoder in sse/detail/utf8.hpp.
std::size_t utf8_sequence(std::string_view s)
{
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || len > s.size()) return 0;
    std::uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (std::size_t i = 1; i < len; ++i) {
        if ((b(i) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b(i) & 0x3F);
    }
    static constexpr std::uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

bool utf8_ok(std::string_view s)
{
    for (std::size_t n; !s.empty(); s.remove_prefix(n))
        if ((n = utf8_sequence(s)) == 0) return false;
    return true;
}

// What a client must receive for `data`: CR and CRLF become LF, and every byte that does not
// start a well-formed sequence becomes U+FFFD.
std::string expected_data(std::string_view data)
{
    std::string out;
    for (std::size_t i = 0; i < data.size();) {
        if (data[i] == '\r') {
            out.push_back('\n');
            i += i + 1 < data.size() && data[i + 1] == '\n' ? 2 : 1;
        } else if (const std::size_t n = utf8_sequence(data.substr(i)); n != 0) {
            out.append(data.substr(i, n));
            i += n;
        } else {
            out.append("\xEF\xBF\xBD");
            ++i;
        }
    }
    return out;
}

bool has_break_or_nul(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != s.npos; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; }

// Calls `set(value)`; checks that it throws std::invalid_argument exactly when `valid` is false
// and that a refused value leaves `field()` unchanged.
template <class Set, class Field>
bool try_set(bool valid, Set set, Field field)
{
    const auto before = field();
    try {
        set();
    } catch (const std::invalid_argument&) {
        FUZZ_CHECK(!valid && field() == before);
        return false;
    }
    FUZZ_CHECK(valid);
    return true;
}

// The wire form is well formed: no CR, only comment or known field lines, one blank line at the end.
void check_wire(std::string_view wire)
{
    FUZZ_CHECK(wire.find('\r') == std::string_view::npos);
    FUZZ_CHECK(wire.size() >= 2 && wire.substr(wire.size() - 2) == "\n\n");
    FUZZ_CHECK(wire.find("\n\n") == wire.size() - 2 && wire.front() != '\n');
    for (std::string_view rest = wire.substr(0, wire.size() - 1); !rest.empty();) {
        const std::string_view line = rest.substr(0, rest.find('\n'));
        rest.remove_prefix(line.size() + 1);
        const bool known = line.front() == ':' || line.rfind("id:", 0) == 0 || line.rfind("event:", 0) == 0 ||
                           line.rfind("retry:", 0) == 0 || line.rfind("data:", 0) == 0;
        FUZZ_CHECK(known);
        const auto colon = line.find(':');
        FUZZ_CHECK(colon + 1 == line.size() || line[colon + 1] == ' ');
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size)
{
    FuzzedDataProvider in(bytes, size);
    const auto flags = in.ConsumeIntegral<std::uint8_t>();
    const auto retry = in.ConsumeIntegralInRange<std::int64_t>(-2, std::int64_t{1} << 32);
    const std::string type = in.ConsumeRandomLengthString(64);
    const std::string id = in.ConsumeRandomLengthString(64);
    const std::string comment = in.ConsumeRandomLengthString(256);
    const std::string data = in.ConsumeRemainingBytesAsString();

    sse::event e = flags & 0x01 ? sse::event(data) : sse::event().data(data);
    std::string want_type = "message", want_id;
    long long want_retry = -1;
    if (flags & 0x02) {
        const bool valid = !has_break_or_nul(type) && utf8_ok(type) && type != "open" && type != "error";
        if (try_set(valid, [&] { e.type(type); }, [&] { return e.type(); }) && !type.empty()) want_type = type;
    }
    if (flags & 0x04) {
        const bool valid = !id.empty() && !has_break_or_nul(id) && utf8_ok(id) && !is_space(id.front()) &&
                           !is_space(id.back());
        FUZZ_CHECK(sse::event::valid_id(id) == valid);
        if (try_set(valid, [&] { e.id(id); }, [&] { return e.id(); })) want_id = id;
    }
    if (flags & 0x08) {
        e.reset_id();
        want_id.clear();
    }
    if (flags & 0x10) {
        const bool valid = retry >= 0 && retry <= sse::event::max_retry_ms;
        if (try_set(valid, [&] { e.retry(std::chrono::milliseconds(retry)); }, [&] { return e.retry(); }))
            want_retry = retry;
    }
    if (flags & 0x20) e.comment(comment);

    const std::string wire = sse::to_string(e);
    check_wire(wire);
    std::string appended = "x";
    sse::serialize(e, appended);
    FUZZ_CHECK(appended == "x" + wire);

    test::sse_parser client;
    client.feed(wire);
    FUZZ_CHECK(client.events.size() == 1);
    const test::parsed_event& got = client.events.front();
    FUZZ_CHECK(got.type == want_type);
    FUZZ_CHECK(got.data == expected_data(data));
    FUZZ_CHECK(got.last_event_id == want_id);
    FUZZ_CHECK(client.retry == want_retry);

    // a comment on its own (the keep-alive form), even followed by a blank line, does nothing
    std::string alone;
    sse::serialize_comment(comment, alone);
    FUZZ_CHECK(alone.find('\r') == std::string::npos && alone.front() == ':' && alone.back() == '\n');
    for (std::size_t i = 0; i + 1 < alone.size(); ++i)
        if (alone[i] == '\n') FUZZ_CHECK(alone[i + 1] == ':');
    test::sse_parser quiet;
    quiet.feed(alone + "\n");
    FUZZ_CHECK(quiet.events.empty() && quiet.last_event_id.empty() && quiet.retry == -1);

    // each U+2028/U+2029 (3 bytes) and U+0085 (2 bytes) becomes a 6-byte escape; nothing else changes size
    const auto count = [](std::string_view s, std::string_view what) {
        std::size_t n = 0;
        for (auto at = s.find(what); at != s.npos; at = s.find(what, at + what.size())) ++n;
        return n;
    };
    const std::string ls = "\xE2\x80\xA8", ps = "\xE2\x80\xA9", nel = "\xC2\x85";
    const std::string escaped = sse::escape_line_separators(data);
    FUZZ_CHECK(count(escaped, ls) == 0 && count(escaped, ps) == 0 && count(escaped, nel) == 0);
    FUZZ_CHECK(escaped.size() == data.size() + 3 * (count(data, ls) + count(data, ps)) + 4 * count(data, nel));
    return 0;
}
