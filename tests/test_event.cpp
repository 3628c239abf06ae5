// sse::event: validation and the exact wire form (WHATWG "Server-sent events" + PROTOCOL.md).
#include "support/catch.hpp"
#include "support/sse_parser.hpp"

#include <sse/event.hpp>

#include <algorithm>
#include <stdexcept>

using namespace std::string_literals;

namespace {
test::parsed_event round_trip(const sse::event& e)
{
    test::sse_parser p;
    p.feed(sse::to_string(e));
    REQUIRE(p.events.size() == 1);
    return p.events.front();
}
} // namespace

TEST_CASE("event: the tutorial's frame", "[event]")
{
    auto e = sse::event("This is message number 1").id("1").type("myCustomEvent").retry(std::chrono::milliseconds(5000));
    CHECK(sse::to_string(e) == "id: 1\nevent: myCustomEvent\nretry: 5000\ndata: This is message number 1\n\n");
}

TEST_CASE("event: every field, with data on one line or many, appended after what is there", "[event]")
{
    using ms = std::chrono::milliseconds;
    const auto all = [](std::string data) {
        return sse::event(std::move(data)).comment("c").id("7").type("t").retry(ms(2147483647));
    };
    std::string out = "before\n";
    sse::serialize(all("one line"), out);
    CHECK(out == "before\n: c\nid: 7\nevent: t\nretry: 2147483647\ndata: one line\n\n");
    out = "before\n";
    sse::serialize(all("two\nlines"), out);
    CHECK(out == "before\n: c\nid: 7\nevent: t\nretry: 2147483647\ndata: two\ndata: lines\n\n");
    CHECK(sse::to_string(all("bad \xC0 byte")) ==
          ": c\nid: 7\nevent: t\nretry: 2147483647\ndata: bad \xEF\xBF\xBD byte\n\n");
    CHECK(sse::to_string(sse::event().reset_id().retry(ms(0))) == "id:\nretry: 0\ndata:\n\n");
}

TEST_CASE("event: data lines split on LF and CRLF and lone CR", "[event]")
{
    CHECK(sse::to_string(sse::event("a\nb")) == "data: a\ndata: b\n\n");
    CHECK(sse::to_string(sse::event("a\r\nb")) == "data: a\ndata: b\n\n");
    CHECK(sse::to_string(sse::event("a\rb")) == "data: a\ndata: b\n\n");
    CHECK(sse::to_string(sse::event("a\n\rb")) == "data: a\ndata:\ndata: b\n\n"); // \n\r is two breaks
    CHECK(sse::to_string(sse::event("a\n")) == "data: a\ndata:\n\n");
    CHECK(sse::to_string(sse::event("\n")) == "data:\ndata:\n\n");
    CHECK(round_trip(sse::event("x\r\ny\rz\n")).data == "x\ny\nz\n");
}

TEST_CASE("event: a lone CR cannot forge an id field", "[event][security]")
{
    auto ev = round_trip(sse::event("a\rid: 9"));
    CHECK(ev.data == "a\nid: 9");
    CHECK(ev.last_event_id.empty());
}

TEST_CASE("event: empty data still dispatches", "[event]")
{
    CHECK(sse::to_string(sse::event()) == "data:\n\n");
    CHECK(sse::to_string(sse::event("")) == "data:\n\n");
    CHECK(round_trip(sse::event()).data.empty());
}

TEST_CASE("event: leading and trailing spaces survive the one-space strip", "[event]")
{
    CHECK(sse::to_string(sse::event(" x ")) == "data:  x \n\n");
    CHECK(round_trip(sse::event("  two")).data == "  two");
    CHECK(round_trip(sse::event(" ")).data == " ");
}

TEST_CASE("event: empty type means message and writes no event line", "[event]")
{
    CHECK(sse::to_string(sse::event("x").type("")) == "data: x\n\n");
    CHECK(round_trip(sse::event("x")).type == "message");
    CHECK(round_trip(sse::event("x").type("update")).type == "update");
}

TEST_CASE("event: ids and names that cannot be represented are rejected", "[event][security]")
{
    for (const auto& bad : {"a\nb"s, "a\rb"s, "a\0b"s, "\xff"s}) {
        CHECK_THROWS_AS(sse::event().id(bad), std::invalid_argument);
        CHECK_THROWS_AS(sse::event().type(bad), std::invalid_argument);
        CHECK_FALSE(sse::event::valid_id(bad));
    }
    CHECK_THROWS_AS(sse::event().id(""), std::invalid_argument);
    CHECK_THROWS_AS(sse::event().id(" 1"), std::invalid_argument);
    CHECK_THROWS_AS(sse::event().id("1 "), std::invalid_argument);
    CHECK_THROWS_AS(sse::event().type("error"), std::invalid_argument);
    CHECK_THROWS_AS(sse::event().type("open"), std::invalid_argument);
    CHECK(sse::event::valid_id("é-42"));
}

TEST_CASE("event: reset_id writes an empty id line", "[event]")
{
    CHECK(sse::to_string(sse::event("x").reset_id()) == "id:\ndata: x\n\n");
}

TEST_CASE("event: retry bounds", "[event]")
{
    using ms = std::chrono::milliseconds;
    CHECK(sse::to_string(sse::event("x").retry(ms(0))) == "retry: 0\ndata: x\n\n");
    CHECK_NOTHROW(sse::event().retry(ms(2147483647)));
    CHECK_THROWS_AS(sse::event().retry(ms(2147483648LL)), std::invalid_argument);
    CHECK_THROWS_AS(sse::event().retry(ms(-1)), std::invalid_argument);
}

TEST_CASE("event: comments prefix every line", "[event][security]")
{
    std::string out;
    sse::serialize_comment("ping", out);
    CHECK(out == ": ping\n");
    out.clear();
    sse::serialize_comment("a\ndata: forged\rb", out);
    CHECK(out == ": a\n: data: forged\n: b\n");
    out.clear();
    sse::serialize_comment("", out);
    CHECK(out == ":\n");
    CHECK(sse::to_string(sse::event("x").comment("c")) == ": c\ndata: x\n\n");
}

TEST_CASE("event: malformed UTF-8 in data becomes U+FFFD and NUL is kept", "[event]")
{
    CHECK(sse::to_string(sse::event("a\xff" "b")) == "data: a\xEF\xBF\xBD" "b\n\n");
    CHECK(sse::to_string(sse::event("\xED\xA0\x80")) == "data: \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\n\n"); // surrogate
    CHECK(sse::to_string(sse::event("a\0b"s)) == "data: a\0b\n\n"s);
    CHECK(sse::to_string(sse::event("日本語 😀 e\xCC\x81")) == "data: 日本語 😀 e\xCC\x81\n\n");
}

TEST_CASE("event: line breaks and UTF-8 are handled at every offset of long data", "[event]")
{
    // ASCII is checked eight bytes at a time and breaks are found by search: put a multi-byte
    // character, a malformed byte and each kind of break at every offset across those words.
    const std::string ascii(40, 'a');
    for (std::size_t at = 0; at <= ascii.size(); ++at) {
        INFO("offset " << at);
        const std::string head = ascii.substr(0, at), tail = ascii.substr(at);
        CHECK(sse::to_string(sse::event(head + "\xC3\xA9" + tail)) == "data: " + head + "\xC3\xA9" + tail + "\n\n");
        CHECK(sse::to_string(sse::event(head + "\xFF" + tail)) == "data: " + head + "\xEF\xBF\xBD" + tail + "\n\n");
        for (const char* brk : {"\n", "\r", "\r\n"})
            CHECK(sse::to_string(sse::event(head + brk + tail)) ==
                  (head.empty() ? "data:\n"s : "data: " + head + "\n") +
                      (tail.empty() ? "data:\n"s : "data: " + tail + "\n") + "\n");
    }
    std::string many_cr; // many lone CRs and no LF: one line per CR, in one pass
    for (int i = 0; i < 1000; ++i) many_cr += "x\r";
    const auto ev = round_trip(sse::event(many_cr));
    CHECK(std::count(ev.data.begin(), ev.data.end(), '\n') == 1000);
}

TEST_CASE("event: escape_line_separators writes U+2028, U+2029 and U+0085 as JSON escapes", "[event]")
{
    // The characters beyond ASCII that Python's str.splitlines() breaks on, in UTF-8.
    const std::string ls = "\xE2\x80\xA8", ps = "\xE2\x80\xA9", nel = "\xC2\x85";
    CHECK(sse::escape_line_separators(R"({"a":"x)" + ls + "y" + ps + nel + R"("})") ==
          R"({"a":"x\u2028y\u2029\u0085"})");
    CHECK(sse::escape_line_separators(ls + ls) == R"(\u2028\u2028)");
    // Everything else is untouched: other characters that share lead bytes, ASCII, escapes
    // already there, and sequences cut short at the end.
    const std::string others = "\xE2\x80\xA7\xE2\x80\xAA\xC2\x84\xC2\x86 \xC3\xA9 \\u2028 \xE2\x80 \xC2";
    CHECK(sse::escape_line_separators(others) == others);
    CHECK(sse::escape_line_separators("") == "");
    CHECK(sse::escape_line_separators("\xE2\x80") == "\xE2\x80");

    // On the wire, no line separator is left for a splitlines() client to cut at, and a spec
    // client reads the escaped JSON text back.
    const auto data = sse::escape_line_separators(R"(["one)" + ls + "two" + nel + R"(three"])");
    const auto wire = sse::to_string(sse::event(data));
    for (const auto& sep : {ls, ps, nel}) CHECK(wire.find(sep) == std::string::npos);
    CHECK(round_trip(sse::event(data)).data == R"(["one\u2028two\u0085three"])");
}
