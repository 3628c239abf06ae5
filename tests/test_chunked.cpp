// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
// detail::chunked_decoder (sans I/O): Transfer-Encoding: chunked request bodies.
#include "support/catch.hpp"

#include <sse/detail/chunked.hpp>

#include <string>
#include <string_view>

namespace {
using sse::detail::chunked_decoder;
using state = chunked_decoder::state;

struct decoded {
    state st;
    int status;
    std::string body;
    std::size_t used; // bytes of the input consumed in all
};

// Feeds `in` in one call.
decoded decode(std::string_view in, std::size_t max = 1 << 20)
{
    chunked_decoder d(max);
    std::size_t used = 0;
    const state st = d.feed(in, used);
    return {st, d.status(), d.body(), used};
}

// Feeds `in` one byte at a time, dropping what was consumed as the connection does; checks
// that only a partial chunk-size line (at most 256 bytes and its CR) or CRLF is held back.
decoded decode_bytewise(std::string_view in, std::size_t max = 1 << 20)
{
    chunked_decoder d(max);
    std::string buf;
    std::size_t total = 0;
    state st = state::need_more;
    for (const char c : in) {
        buf += c;
        std::size_t used = 0;
        st = d.feed(buf, used);
        REQUIRE(used <= buf.size());
        buf.erase(0, used);
        total += used;
        if (st != state::need_more) break;
        REQUIRE(buf.size() <= 257);
    }
    return {st, d.status(), d.body(), total};
}
} // namespace

TEST_CASE("chunked: a simple body", "[chunked]")
{
    const std::string in = "5\r\nhello\r\n6\r\n world\r\na\r\n, 10 bytes\r\nA\r\n and again\r\n0\r\n\r\n";
    const auto r = decode(in);
    CHECK(r.st == state::complete);
    CHECK(r.status == 0);
    CHECK(r.body == "hello world, 10 bytes and again");
    CHECK(r.used == in.size());

    const auto empty = decode("0\r\n\r\n");
    CHECK(empty.st == state::complete);
    CHECK(empty.body.empty());
    CHECK(empty.used == 5);
}

TEST_CASE("chunked: one byte at a time gives the same body and consumes exactly the body", "[chunked]")
{
    const std::string body = "5\r\nhello\r\n1;x=y\r\n \r\n000005\r\nworld\r\n0\r\n\r\n";
    const auto r = decode_bytewise(body + "GET / HTTP/1.1\r\n");
    CHECK(r.st == state::complete);
    CHECK(r.body == "hello world");
    CHECK(r.used == body.size());
}

TEST_CASE("chunked: a partial chunk-size line or CRLF is not consumed", "[chunked]")
{
    chunked_decoder d(100);
    std::size_t used = 99;
    CHECK(d.feed("", used) == state::need_more);
    CHECK(used == 0);
    CHECK(d.feed("5;a=b\r", used) == state::need_more);
    CHECK(used == 0);
    CHECK(d.feed("5;a=b\r\nhel", used) == state::need_more);
    CHECK(used == 10);
    CHECK(d.body() == "hel");
    CHECK(d.feed("lo\r", used) == state::need_more);
    CHECK(used == 2);
    CHECK(d.feed("\r\n0\r\n\r", used) == state::need_more);
    CHECK(used == 5);
    CHECK(d.feed("\r\n", used) == state::complete);
    CHECK(used == 2);
    CHECK(d.body() == "hello");
}

TEST_CASE("chunked: extensions are accepted and ignored", "[chunked]")
{
    const std::string in = "5;name\r\nhello\r\n"
                           "3 ; a = b ;q=\"x;\\\"y\\\\\" ;t\t=\ttok;e=\"\"\r\nabc\r\n"
                           "2;obs=\"\xe9t\xe9\"\r\nde\r\n"
                           "0;last=\"chunk\"\r\n\r\n";
    const auto r = decode(in);
    CHECK(r.st == state::complete);
    CHECK(r.body == "helloabcde");
    CHECK(r.used == in.size());
    CHECK(decode_bytewise(in).body == "helloabcde");

    // a line of exactly 256 bytes before its CRLF is allowed
    const std::string longest = "1;" + std::string(254, 'e');
    REQUIRE(longest.size() == 256);
    CHECK(decode(longest + "\r\nx\r\n0\r\n\r\n").st == state::complete);
}

TEST_CASE("chunked: pipelined bytes after the terminating CRLF are left unconsumed", "[chunked]")
{
    const std::string body = "3\r\nabc\r\n0\r\n\r\n";
    const std::string next = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    chunked_decoder d(100);
    std::size_t used = 0;
    CHECK(d.feed(body + next, used) == state::complete);
    CHECK(used == body.size());
    CHECK(d.body() == "abc");
    CHECK(decode_bytewise(body + next).used == body.size());
    CHECK(decode(body + "0\r\n\r\n").used == body.size()); // even another chunked body
}

TEST_CASE("chunked: malformed bodies are 400, whole or byte by byte", "[chunked]")
{
    const std::string cases[] = {
        "z\r\n",                                          // bad hex
        "5x\r\nhello\r\n0\r\n\r\n",                       // junk after the size
        "-5\r\nhello\r\n0\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "\r\nhello\r\n0\r\n\r\n",                         // empty size
        ";a\r\nhello\r\n0\r\n\r\n",                       // extension without a size
        "00000000000000005\r\nhello\r\n0\r\n\r\n",        // 17 digits
        "10000000000000000\r\n",                          // 17 digits: would overflow 64 bits
        "5\r\nhelloX\r\n0\r\n\r\n",                       // data longer than its size
        "5\r\nhello\n0\r\n\r\n",                          // bare LF after data
        "5\r\nhello\rX0\r\n\r\n",                         // bare CR after data
        "5\nhello\r\n0\r\n\r\n",                          // bare LF after the size
        "5\rhello\r\n0\r\n\r\n",                          // bare CR in the size line
        "5\r\nhello\r\n0\n\r\n",                          // bare LF after the last chunk
        "0\r\n\n",                                        // bare LF ending the trailer section
        "0\r\n\rX",                                       // bare CR ending the trailer section
        "5 \r\nhello\r\n0\r\n\r\n",                       // whitespace without an extension
        "5;\r\nhello\r\n0\r\n\r\n",                       // ";" without a name
        "5;=x\r\nhello\r\n0\r\n\r\n",                     // extension without a name
        "5;a=\r\nhello\r\n0\r\n\r\n",                     // "=" without a value
        "5;a \r\nhello\r\n0\r\n\r\n",                     // trailing whitespace
        "5;a=b c\r\nhello\r\n0\r\n\r\n",                  // two values
        "5;a(b)\r\nhello\r\n0\r\n\r\n",                   // not a token
        "5;a=\"x\r\nhello\r\n0\r\n\r\n",                  // unterminated quoted string
        "5;a=\"x\\\"\r\nhello\r\n0\r\n\r\n",              // its quote escaped
        "5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n",             // a control in a quoted string
        "5;a=\"x\"y\r\nhello\r\n0\r\n\r\n",               // junk after it
        "0\r\nX-Checksum: 1\r\n\r\n",                     // a trailer field: refused
        "5\r\nhello\r\n0\r\nExpires: never\r\n\r\n",
    };
    for (const auto& in : cases) {
        INFO(in);
        const auto whole = decode(in);
        CHECK(whole.st == state::failed);
        CHECK(whole.status == 400);
        const auto bytewise = decode_bytewise(in);
        CHECK(bytewise.st == state::failed);
        CHECK(bytewise.status == 400);
        CHECK(bytewise.body == whole.body);
    }
}

TEST_CASE("chunked: an over-long chunk-size line is 400 without waiting for its end", "[chunked]")
{
    const std::string line = "1;" + std::string(255, 'e'); // 257 bytes before the CRLF
    CHECK(decode(line + "\r\nx\r\n0\r\n\r\n").status == 400);
    const auto r = decode_bytewise(line + std::string(1000, 'e'));
    CHECK(r.st == state::failed);
    CHECK(r.status == 400);
    CHECK(decode(std::string(257, 'e')).st == state::need_more); // might still be 256 bytes and CR
    CHECK(decode(std::string(258, 'e')).status == 400);
}

TEST_CASE("chunked: a body beyond the limit is 413", "[chunked]")
{
    // the size alone is too much: refused as soon as its line is read, before any data
    auto r = decode("b\r\n", 10);
    CHECK(r.st == state::failed);
    CHECK(r.status == 413);
    CHECK(r.body.empty());
    r = decode("FFFFFFFFFFFFFFFF\r\n", 10); // the largest size there is: no overflow
    CHECK(r.status == 413);
    r = decode("fffffff;ext\r\n", 0x10000000); // just within the limit: waits for the data
    CHECK(r.st == state::need_more);
    CHECK(r.used == 13);

    // the total is too much
    r = decode("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 10);
    CHECK(r.status == 413);
    CHECK(r.body == "hello");
    CHECK(decode_bytewise("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 10).status == 413);

    // exactly the limit is fine
    r = decode("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 10);
    CHECK(r.st == state::complete);
    CHECK(r.body == "helloworld");
    CHECK(decode("0\r\n\r\n", 0).st == state::complete);
}

TEST_CASE("chunked: the state sticks once complete or failed", "[chunked]")
{
    chunked_decoder done(100);
    std::size_t used = 0;
    REQUIRE(done.feed("2\r\nok\r\n0\r\n\r\n", used) == state::complete);
    CHECK(done.feed("3\r\nmore\r\n0\r\n\r\n", used) == state::complete);
    CHECK(used == 0);
    CHECK(done.body() == "ok");
    CHECK(done.status() == 0);

    chunked_decoder bad(100);
    REQUIRE(bad.feed("2\r\nok\r\nzz\r\n", used) == state::failed);
    CHECK(bad.status() == 400);
    CHECK(bad.feed("0\r\n\r\n", used) == state::failed);
    CHECK(used == 0);
    CHECK(bad.status() == 400);
    CHECK(bad.body() == "ok");

    chunked_decoder big(1);
    REQUIRE(big.feed("2\r\n", used) == state::failed);
    CHECK(big.feed("0\r\n\r\n", used) == state::failed);
    CHECK(big.status() == 413);
}
