// detail::request_parser (sans I/O) and sse::request accessors.
#include "support/catch.hpp"

#include <sse/detail/http_parser.hpp>

#include <string>

namespace {
// Scans and parses `head` in one go; returns 0 or the error status.
int parse(const std::string& head, sse::request& out, std::size_t max = 8192)
{
    sse::detail::request_parser p(max);
    switch (p.scan(head)) {
    case sse::detail::request_parser::state::need_more: return -1;
    case sse::detail::request_parser::state::failed: return p.status();
    case sse::detail::request_parser::state::complete: break;
    }
    return p.parse(std::string_view(head).substr(0, p.head_size()), out);
}
int status_of(const std::string& head)
{
    sse::request r;
    return parse(head, r);
}
} // namespace

TEST_CASE("parser: a browser's EventSource request", "[parser]")
{
    sse::request r;
    REQUIRE(parse("GET /events?topic=a%20b&x=1+2&flag HTTP/1.1\r\nHost: localhost:3000\r\n"
                  "Accept: text/event-stream\r\nCache-Control: no-cache\r\nLast-Event-ID: 41\r\n"
                  "Cookie: a=1; session=s3cr3t\r\n\r\n",
                  r) == 0);
    CHECK(r.method() == "GET");
    CHECK(r.path() == "/events");
    CHECK(r.query() == "topic=a%20b&x=1+2&flag");
    CHECK(r.target() == "/events?topic=a%20b&x=1+2&flag");
    CHECK(r.version_minor() == 1);
    CHECK(r.query_param("topic") == std::optional<std::string>("a b"));
    CHECK(r.query_param("x") == std::optional<std::string>("1 2"));
    CHECK(r.query_param("flag") == std::optional<std::string>(""));
    CHECK_FALSE(r.query_param("nope"));
    CHECK(r.header("accept") == std::optional<std::string_view>("text/event-stream"));
    CHECK(r.header("HOST") == std::optional<std::string_view>("localhost:3000"));
    CHECK(r.accepts_event_stream());
    CHECK(r.last_event_id() == "41");
    CHECK(r.cookie("session") == std::optional<std::string_view>("s3cr3t"));
    CHECK(r.headers().size() == 5);
}

TEST_CASE("parser: Last-Event-ID from the query when no header", "[parser]")
{
    sse::request r;
    REQUIRE(parse("GET /e?lastEventId=7 HTTP/1.1\r\nHost: h\r\n\r\n", r) == 0);
    CHECK(r.last_event_id() == "7");
}

TEST_CASE("parser: bare LF line endings and HTTP/1.0 without Host and absolute-form", "[parser]")
{
    sse::request r;
    CHECK(parse("GET / HTTP/1.1\nHost: h\n\n", r) == 0);
    CHECK(parse("GET /x HTTP/1.0\r\n\r\n", r) == 0);
    CHECK(r.version_minor() == 0);
    CHECK(parse("GET http://example.com/p?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", r) == 0);
    CHECK(r.path() == "/p");
    CHECK(r.query() == "q=1");
}

TEST_CASE("parser: malformed heads are 400", "[parser]")
{
    CHECK(status_of("GET /\r\nHost: h\r\n\r\n") == 400);                          // no version
    CHECK(status_of("GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n") == 400);           // junk after version
    CHECK(status_of("GET  / HTTP/1.1\r\nHost: h\r\n\r\n") == 400);                // double space
    CHECK(status_of("G(T / HTTP/1.1\r\nHost: h\r\n\r\n") == 400);                 // bad method char
    CHECK(status_of("GET noslash HTTP/1.1\r\nHost: h\r\n\r\n") == 400);           // bad target
    CHECK(status_of("GET / HTTX/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nBad Name: v\r\nHost: h\r\n\r\n") == 400);   // space in name
    CHECK(status_of("GET / HTTP/1.1\r\nName : v\r\nHost: h\r\n\r\n") == 400);      // space before colon
    CHECK(status_of("GET / HTTP/1.1\r\nNoColon\r\nHost: h\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n") == 400);       // obs-fold
    CHECK(status_of("GET / HTTP/1.1\r\nX: a\x01" "b\r\nHost: h\r\n\r\n") == 400);   // control char
    CHECK(status_of("GET / HTTP/1.1\r\n\r\n") == 400);                            // 1.1 without Host
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n") == 400);
    CHECK(status_of("\x16\x03\x01\x02\x01\xfc\x03\x03\n\n") == 400);                 // binary (a TLS hello)
}

TEST_CASE("parser: Content-Length with Transfer-Encoding is refused (smuggling)", "[parser][security]")
{
    CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n") == 400);
    CHECK(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: gzip\r\n\r\n") == 400);
}

TEST_CASE("parser: Transfer-Encoding: chunked is accepted", "[parser]")
{
    for (const char* value : {"chunked", "Chunked", "CHUNKED", " \tchunked\t "}) {
        INFO(value);
        sse::detail::request_parser p;
        const std::string head =
            std::string("POST /mcp HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:") + value + "\r\n\r\n5\r\nhello";
        REQUIRE(p.scan(head) == sse::detail::request_parser::state::complete);
        sse::request r;
        REQUIRE(p.parse(std::string_view(head).substr(0, p.head_size()), r) == 0);
        CHECK(p.chunked());
        CHECK(p.content_length() == 0);
        CHECK(head.substr(p.head_size()) == "5\r\nhello");

        // reset() and the next parse() forget it
        const std::size_t head_size = p.head_size();
        p.reset();
        CHECK_FALSE(p.chunked());
        REQUIRE(p.parse(std::string_view(head).substr(0, head_size), r) == 0);
        CHECK(p.chunked());
        CHECK(p.parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n", r) == 0);
        CHECK_FALSE(p.chunked());
        CHECK(p.parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", r) == 400); // no Host
        CHECK_FALSE(p.chunked());
    }
}

TEST_CASE("parser: other transfer codings are 501, doubtful ones 400", "[parser][security]")
{
    const std::string post = "POST / HTTP/1.1\r\nHost: h\r\n";
    CHECK(status_of(post + "Transfer-Encoding: gzip\r\n\r\n") == 501);
    CHECK(status_of(post + "Transfer-Encoding: identity\r\n\r\n") == 501);
    CHECK(status_of(post + "Transfer-Encoding: gzip, chunked\r\n\r\n") == 501);
    CHECK(status_of(post + "Transfer-Encoding: chunked, chunked\r\n\r\n") == 501);
    CHECK(status_of(post + "Transfer-Encoding: chunked;q=1\r\n\r\n") == 501);
    CHECK(status_of(post + "Transfer-Encoding: \"chunked\"\r\n\r\n") == 501);
    CHECK(status_of(post + "Transfer-Encoding:\r\n\r\n") == 501);
    // two Transfer-Encoding fields, whatever their values
    CHECK(status_of(post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
    CHECK(status_of(post + "Transfer-Encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n") == 400);
    // HTTP/1.0 has no transfer codings (RFC 9112 section 6.1)
    CHECK(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
    CHECK(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n") == 400);
}

TEST_CASE("parser: a duplicate Content-Length is 400, even with the same value", "[parser][security]")
{
    const std::string post = "POST / HTTP/1.1\r\nHost: h\r\n";
    CHECK(status_of(post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\n") == 400);
    CHECK(status_of(post + "Content-Length: 5\r\ncontent-length: 6\r\n\r\n") == 400);
    CHECK(status_of(post + "Content-Length: 0\r\nX: y\r\nCONTENT-LENGTH: 0\r\n\r\n") == 400);
    CHECK(status_of(post + "Content-Length: 5, 5\r\n\r\n") == 400);
    CHECK(status_of(post + "Content-Length: 5\r\n\r\n") == 0);
}

TEST_CASE("parser: other HTTP versions are 505", "[parser]")
{
    CHECK(status_of("GET / HTTP/2.0\r\nHost: h\r\n\r\n") == 505);
    CHECK(status_of("GET / HTTP/1.2\r\nHost: h\r\n\r\n") == 505);
}

TEST_CASE("parser: limits are 431", "[parser]")
{
    std::string big = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(9000, 'a') + "\r\n\r\n";
    CHECK(status_of(big) == 431);
    std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 101; ++i) many += "X" + std::to_string(i) + ": v\r\n";
    CHECK(status_of(many + "\r\n") == 431);
}

TEST_CASE("parser: incremental scan finds the end across any split", "[parser]")
{
    const std::string head = "GET /e HTTP/1.1\r\nHost: h\r\n\r\n";
    for (std::size_t split = 0; split <= head.size(); ++split) {
        sse::detail::request_parser p;
        std::string buf = head.substr(0, split);
        auto st = p.scan(buf);
        if (split < head.size()) {
            REQUIRE(st == sse::detail::request_parser::state::need_more);
            buf = head;
            st = p.scan(buf);
        }
        REQUIRE(st == sse::detail::request_parser::state::complete);
        CHECK(p.head_size() == head.size());
    }
}

TEST_CASE("parser: the head ends at the first blank line and the rest is body", "[parser]")
{
    sse::detail::request_parser p;
    const std::string bytes = "POST /chat HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    REQUIRE(p.scan(bytes) == sse::detail::request_parser::state::complete);
    sse::request r;
    REQUIRE(p.parse(std::string_view(bytes).substr(0, p.head_size()), r) == 0);
    CHECK(p.content_length() == 5);
    CHECK(bytes.substr(p.head_size()) == "hello");
}
