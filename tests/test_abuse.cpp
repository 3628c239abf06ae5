// Hostile clients against a real server on loopback. Every case asserts the clear answer (a
// status, or a clean close) and that a well-behaved stream client, connected throughout, keeps
// receiving its events in order while the abuse goes on.
#include "support/catch.hpp"
#include "support/client.hpp"
#include "support/server_fixture.hpp"

#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <random>

using namespace std::chrono_literals;
using test::client;

namespace {

/// A client whose every send() leaves at once as its own segment (no Nagle delay).
client trickling_client(unsigned short port)
{
    client c(port);
    const int one = 1;
    ::setsockopt(c.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return c;
}

sse::server_options with_head_timeout(std::chrono::milliseconds t)
{
    sse::server_options o;
    o.head_timeout = t;
    return o;
}

/// A server with a ticking stream, plain routes and a stream that queues a large backlog; and
/// one healthy client on the ticking stream that must see every tick, in order, throughout.
class abuse_server {
public:
    static constexpr std::size_t backlog_events = 128;
    static constexpr std::size_t backlog_event_bytes = 128 * 1024;

    explicit abuse_server(sse::server_options o = {}) : f_(o)
    {
        f_.srv.on_stream("/ticks", [](sse::stream_ptr s) {
            s->every(10ms, [s, n = 0]() mutable { s->send(sse::event(std::to_string(n++))); });
        });
        f_.srv.on_request("/page", [](const sse::request& r) { return sse::response(200, "page:" + std::string(r.method())); });
        f_.srv.on_request("/echo", [](const sse::request& r) { return sse::response(200, "echo:" + r.body()); });
        f_.srv.on_request("/big", [](const sse::request&) {
            return sse::response(200, std::string(backlog_events * backlog_event_bytes, 'x'));
        });
        f_.srv.on_stream("/backlog", [this](sse::stream_ptr s) {
            s->on_close([this](std::error_code) {
                if (++backlog_closed_ == backlog_wanted_) backlog_all_closed_.set();
            });
            const sse::event big(std::string(backlog_event_bytes, 'x'));
            for (std::size_t i = 0; i < backlog_events; ++i) s->send(big);
        });
        f_.run(2);
        healthy_ = std::make_unique<client>(client::get(port(), "/ticks"));
        REQUIRE(client::status(healthy_->read_head()) == 200);
        healthy_ticks(2);
    }

    unsigned short port() const { return f_.port(); }
    sse::stats stats() const { return f_.srv.stats(); }

    /// The healthy client receives the next `n` ticks, none lost, none out of order.
    void healthy_ticks(std::size_t n = 2)
    {
        for (const auto& e : healthy_->read_events(n, 3s)) REQUIRE(e.data == std::to_string(next_tick_++));
    }

    /// Waits until exactly the healthy stream (plus `others`) holds a connection.
    bool connections_settle(std::uint64_t others = 0)
    {
        return test::eventually([&] { return stats().connections_open == 1 + others; });
    }

    /// Expects `n` streams of /backlog to open; `wait_backlog_closed()` then awaits their close.
    void expect_backlog_streams(int n) { backlog_wanted_ = n; }
    bool wait_backlog_closed() { return backlog_all_closed_.wait(5s); }

    /// Stops the server; false if anything was left pending on the io_context.
    bool stop() { return f_.stop_and_join(); }

private:
    // declared before the server, so they outlive the callbacks it runs while it stops
    std::atomic<int> backlog_closed_{0}, backlog_wanted_{-1};
    test::signal backlog_all_closed_;
    std::unique_ptr<client> healthy_;
    int next_tick_ = 0;
    test::server_fixture f_;
};

/// Sends `raw` (tolerating a server that closes before it is all sent) and returns the
/// response head; the connection must then close.
std::string answer_to(unsigned short port, const std::string& raw)
{
    client c(port);
    try {
        c.send(raw);
    } catch (const std::runtime_error&) {
    }
    const std::string head = c.read_head();
    CHECK(head.find("Connection: close\r\n") != std::string::npos);
    CHECK(c.closed_within(3s));
    return head;
}

std::string garbage(std::size_t n, unsigned seed)
{
    std::minstd_rand rng(seed);
    std::string out(n, '\0');
    for (char& c : out) c = static_cast<char>(rng() & 0xFF);
    return out;
}

} // namespace

TEST_CASE("abuse: slowloris is dropped at head_timeout", "[abuse]")
{
    abuse_server s(with_head_timeout(300ms));
    client slow = trickling_client(s.port());
    const std::string head = "GET /ticks HTTP/1.1\r\nHost: h\r\nX-Pad: " + std::string(200, 'a') + "\r\n\r\n";
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t sent = 0;
    std::string answer;
    // sends the next byte; false once the server has closed the connection
    auto trickle = [&] {
        try {
            slow.send(head.substr(sent, 1));
        } catch (const std::runtime_error&) {
            return false; // reset by the server's close
        }
        ++sent;
        try {
            answer = slow.read_to_close(1ms);
            return false;
        } catch (const std::runtime_error&) {
            return true; // still open
        }
    };
    // one byte per healthy tick (10 ms): the healthy stream paces the trickle
    bool open = true;
    while (open && sent < head.size()) {
        s.healthy_ticks(1);
        open = trickle();
    }
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    CHECK(!open);
    CHECK(sent < head.size());
    CHECK(answer.empty()); // dropped without an answer
    CHECK(slow.buffered().empty());
    CHECK(elapsed >= 250ms);
    CHECK(elapsed < 3s);
    CHECK(s.connections_settle());
    s.healthy_ticks();
    CHECK(s.stop());
}

TEST_CASE("abuse: a request split into 1-byte writes that completes in time succeeds", "[abuse]")
{
    abuse_server s(with_head_timeout(3s));
    client c = trickling_client(s.port());
    const std::string head = "GET /ticks HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n";
    for (std::size_t i = 0; i < head.size(); ++i) {
        c.send(head.substr(i, 1));
        if (i % 2 == 0) s.healthy_ticks(1); // spread over a few hundred ms
    }
    CHECK(client::status(c.read_head()) == 200);
    CHECK(c.read_events(1)[0].data == "0");
    s.healthy_ticks();
    CHECK(s.stop());
}

TEST_CASE("abuse: malformed heads get a clear status and a close", "[abuse]")
{
    abuse_server s;
    struct bad {
        const char* what;
        std::string raw;
        int status;
    };
    const bad cases[] = {
        {"a head of 1 MiB", "GET /ticks HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n", 431},
        {"binary garbage", garbage(1024, 1) + "\r\n\r\n" + garbage(4096, 2), 400},
        {"NUL and control bytes", std::string("\0\x01\x02\x7f\xff\r\n\r\n", 9), 400},
        {"request line without a version", "GET /ticks\r\nHost: h\r\n\r\n", 400},
        {"Content-Length with Transfer-Encoding",
         "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello", 400},
        {"header name with a space", "GET /ticks HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n", 400},
        {"space before the colon", "GET /ticks HTTP/1.1\r\nHost : h\r\n\r\n", 400},
    };
    std::uint64_t rejected = s.stats().requests_rejected;
    for (const auto& b : cases) {
        INFO(b.what);
        CHECK(client::status(answer_to(s.port(), b.raw)) == b.status);
        CHECK(s.stats().requests_rejected == ++rejected);
        s.healthy_ticks(1);
    }
    CHECK(s.connections_settle());
    s.healthy_ticks();
    CHECK(s.stop());
}

TEST_CASE("abuse: 1000 connections opened and dropped at once", "[abuse]")
{
    // The per-client limits would refuse most of this crowd from one address (tested in
    // test_security.cpp); here the server must absorb the crowd itself.
    sse::server_options o;
    o.max_connections_per_client = 0;
    o.connection_rate_per_client = 0;
    abuse_server s(o);
    const std::uint64_t total_before = s.stats().connections_total;
    constexpr std::size_t n = 1000;
    std::vector<client> crowd;
    crowd.reserve(n);
    for (std::size_t i = 0; i < n; ++i) crowd.emplace_back(s.port());
    s.healthy_ticks(1);
    // half leave with a FIN, half with a reset; some of them with half a request sent
    for (std::size_t i = 0; i < n; ++i) {
        if (i % 3 == 0) crowd[i].send("GET /ticks HTTP/1.1\r\nHo");
        if (i % 2 == 0)
            crowd[i].close();
        else
            crowd[i].reset();
    }
    crowd.clear();
    CHECK(test::eventually([&] { return s.stats().connections_total >= total_before + n; }));
    CHECK(s.connections_settle());
    s.healthy_ticks();
    // and a newcomer is served
    client page(s.port());
    page.send("GET /page HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    CHECK(client::status(page.read_head()) == 200);
    CHECK(page.read_to_close() == "page:GET");
    page.close(); // ends the server's lingering close at once
    CHECK(s.connections_settle());
    CHECK(s.stop());
}

TEST_CASE("abuse: clients that reset mid-write of a large backlog", "[abuse]")
{
    sse::server_options o;
    o.max_queue_bytes = 2 * abuse_server::backlog_events * abuse_server::backlog_event_bytes;
    abuse_server s(o);
    constexpr int n = 3;
    s.expect_backlog_streams(n);
    std::vector<client> readers;
    for (int i = 0; i < n; ++i) {
        readers.push_back(client::get(s.port(), "/backlog"));
        // the head and some of the backlog have arrived: the server is writing the rest (16 MiB,
        // four times what Linux lets a socket buffer by default for a reader that stops reading)
        CHECK(client::status(readers.back().read_head()) == 200);
        readers.back().read_until("xxxx\n");
    }
    s.healthy_ticks(1);
    for (auto& r : readers) r.reset();
    REQUIRE(s.wait_backlog_closed());
    // the resets interrupted the writes: most of the backlog never completed
    CHECK(s.stats().events_sent < n * abuse_server::backlog_events);
    CHECK(s.stats().streams_open == 1);
    CHECK(s.connections_settle());
    s.healthy_ticks();
    CHECK(s.stop());
}

TEST_CASE("abuse: a client that never reads its plain response is dropped", "[abuse]")
{
    // sends a request for 16 MiB and never reads the answer
    auto stalled_reader = [](abuse_server& s) {
        client c(s.port());
        c.send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(client::status(c.read_head()) == 200);
        s.healthy_ticks(1);
        return c;
    };
    SECTION("at write_timeout")
    {
        sse::server_options o;
        o.write_timeout = 300ms;
        abuse_server s(o);
        client c = stalled_reader(s);
        CHECK(s.connections_settle());
        s.healthy_ticks();
        CHECK(s.stop());
    }
    SECTION("by stop(), within shutdown_timeout")
    {
        sse::server_options o;
        o.shutdown_timeout = 300ms;
        abuse_server s(o);
        client c = stalled_reader(s);
        const auto t0 = std::chrono::steady_clock::now();
        CHECK(s.stop());
        CHECK(std::chrono::steady_clock::now() - t0 < 3s);
    }
}

TEST_CASE("abuse: garbage sent on an open stream is ignored", "[abuse]")
{
    abuse_server s;
    client c = client::get(s.port(), "/ticks");
    CHECK(client::status(c.read_head()) == 200);
    CHECK(c.read_until("\n\n") == "data: 0\n\n");
    // bytes after the head mean nothing on a stream: not a request, not a reason to stop
    std::string junk = "GET /page HTTP/1.1\r\nHost: h\r\n\r\n" + garbage(256 * 1024, 3);
    c.send(junk);
    s.healthy_ticks(1);
    for (int i = 1; i <= 3; ++i) CHECK(c.read_until("\n\n") == "data: " + std::to_string(i) + "\n\n");
    CHECK(s.stats().streams_open == 2);
    c.close();
    CHECK(s.connections_settle());
    s.healthy_ticks();
    CHECK(s.stop());
}

TEST_CASE("abuse: pipelined requests on keep-alive are answered in order", "[abuse]")
{
    abuse_server s;
    SECTION("plain requests, the last one closing")
    {
        client c(s.port());
        c.send("GET /page HTTP/1.1\r\nHost: h\r\n\r\n"
               "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
               "HEAD /page HTTP/1.1\r\nHost: h\r\n\r\n"
               "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye");
        CHECK(client::status(c.read_head()) == 200);
        CHECK(c.read_until("page:GET") == "page:GET");
        CHECK(client::status(c.read_head()) == 200);
        CHECK(c.read_until("echo:hello") == "echo:hello");
        const std::string head = c.read_head();
        CHECK(client::status(head) == 200);
        CHECK(head.find("Content-Length: 9\r\n") != std::string::npos); // HEAD: the length, no body
        const std::string last = c.read_head();
        CHECK(last.find("Connection: close\r\n") != std::string::npos);
        CHECK(c.read_to_close() == "echo:bye");
    }
    SECTION("a plain request, then a stream on the same connection")
    {
        client c(s.port());
        c.send("GET /page HTTP/1.1\r\nHost: h\r\n\r\nGET /ticks HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n");
        CHECK(client::status(c.read_head()) == 200);
        CHECK(c.read_until("page:GET") == "page:GET");
        CHECK(c.read_head().find("Content-Type: text/event-stream") != std::string::npos);
        CHECK(c.read_events(2)[1].data == "1");
    }
    SECTION("a bad request in the middle ends the connection after the good ones")
    {
        client c(s.port());
        c.send("GET /page HTTP/1.1\r\nHost: h\r\n\r\nGET /page\r\n\r\nGET /page HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(client::status(c.read_head()) == 200);
        CHECK(c.read_until("page:GET") == "page:GET");
        CHECK(client::status(c.read_head()) == 400);
        const std::string rest = c.read_to_close();
        CHECK(rest.find("HTTP/1.1") == std::string::npos); // the third request is not answered
    }
    s.healthy_ticks();
    CHECK(s.connections_settle());
    CHECK(s.stop());
}
