// basic_server over real loopback sockets: routing, the stream head, and every HTTP error.
#include "support/catch.hpp"
#include "support/client.hpp"
#include "support/server_fixture.hpp"

using namespace std::chrono_literals;
using test::client;

namespace {
void open_route(test::server_fixture& f)
{
    f.srv.on_stream("/events", [](sse::stream_ptr s) { s->send(sse::event("hello")); });
}
} // namespace

TEST_CASE("server: port 0 picks a free port", "[server]")
{
    test::server_fixture f;
    open_route(f);
    f.run();
    CHECK(f.port() != 0);
}

TEST_CASE("server: listen on a port in use fails clearly", "[server]")
{
    test::server_fixture f;
    f.run();
    asio::io_context io;
    sse::server other(io);
    std::error_code ec;
    other.listen(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), f.port()), ec);
    CHECK(ec);
    CHECK_THROWS_AS(other.listen("127.0.0.1", f.port()), std::system_error);
    CHECK_THROWS_AS(other.start(), std::logic_error);
}

TEST_CASE("server: the stream head is exact", "[server]")
{
    test::server_fixture f;
    open_route(f);
    f.run();
    auto c = client::get(f.port(), "/events");
    CHECK(c.read_head() == "HTTP/1.1 200 OK\r\n"
                           "Content-Type: text/event-stream; charset=utf-8\r\n"
                           "Cache-Control: no-cache\r\n"
                           "Connection: keep-alive\r\n"
                           "X-Accel-Buffering: no\r\n"
                           "\r\n");
    CHECK(c.read_until("\n\n") == "data: hello\n\n");
}

TEST_CASE("server: retry is sent on connect when configured", "[server]")
{
    sse::server_options o;
    o.retry = 2500ms;
    test::server_fixture f(o);
    open_route(f);
    f.run();
    auto c = client::get(f.port(), "/events");
    c.read_head();
    CHECK(c.read_until("\n\n") == "retry: 2500\ndata: hello\n\n");
}

TEST_CASE("server: errors get a clear status and the connection closes", "[server]")
{
    test::server_fixture f;
    open_route(f);
    f.srv.on_request("/page", [](const sse::request&) { return sse::response(200, "page"); });
    f.run();

    auto expect = [&](const std::string& raw, int status) {
        client c(f.port());
        c.send(raw);
        const std::string head = c.read_head();
        CHECK(client::status(head) == status);
        CHECK(head.find("Connection: close\r\n") != std::string::npos);
        CHECK(c.closed_within(3s));
        return head;
    };
    SECTION("unknown path: 404") { expect("GET /nope HTTP/1.1\r\nHost: h\r\n\r\n", 404); }
    SECTION("malformed request line: 400") { expect("GARBAGE\r\n\r\n", 400); }
    SECTION("no version: 400") { expect("GET /events\r\n\r\n", 400); }
    SECTION("header name with a space: 400") { expect("GET /events HTTP/1.1\r\nHo st: h\r\n\r\n", 400); }
    SECTION("Content-Length with Transfer-Encoding: 400")
    {
        expect("POST /page HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nhi", 400);
    }
    SECTION("POST on a stream route: 405 with Allow")
    {
        auto head = expect("POST /events HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", 405);
        CHECK(head.find("Allow: GET, HEAD\r\n") != std::string::npos);
    }
    SECTION("a body on a stream route: 400") { expect("GET /events HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc", 400); }
    SECTION("head over 8 KiB: 431")
    {
        expect("GET /events HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n", 431);
    }
    SECTION("HTTP/2.0: 505") { expect("GET /events HTTP/2.0\r\nHost: h\r\n\r\n", 505); }
    CHECK(f.srv.stats().requests_rejected == 1);
}

TEST_CASE("server: a head of 1 MiB is refused at the limit without reading it all", "[server]")
{
    test::server_fixture f;
    open_route(f);
    f.run();
    client c(f.port());
    std::string big = "GET /events HTTP/1.1\r\nHost: h\r\nX: " + std::string(1 << 20, 'a');
    try {
        c.send(big); // the server may close (and reset) before all of it is sent
    } catch (const std::runtime_error&) {
    }
    const std::string head = c.read_head();
    CHECK(client::status(head) == 431);
}

TEST_CASE("server: a client that sends its head too slowly is dropped", "[server]")
{
    sse::server_options o;
    o.head_timeout = 300ms;
    test::server_fixture f(o);
    open_route(f);
    f.run();
    client c(f.port());
    c.send("GET /events HTTP/1.1\r\n");
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(c.read_to_close(5s).empty());
    CHECK(std::chrono::steady_clock::now() - t0 >= 250ms);
    // and the server still serves others
    auto ok = client::get(f.port(), "/events");
    CHECK(client::status(ok.read_head()) == 200);
}

TEST_CASE("server: plain routes answer with keep-alive and Accept picks the stream", "[server]")
{
    test::server_fixture f;
    f.srv.on_request("/", [](const sse::request& r) {
        return sse::response(200, "page for " + std::string(r.method()), "text/html; charset=utf-8");
    });
    f.srv.on_stream("/", [](sse::stream_ptr s) { s->send(sse::event("streamed")); });
    f.srv.on_request("/echo", [](const sse::request& r) { return sse::response(200, r.body()); });
    f.run();

    client c(f.port());
    c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\nPOST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
    const std::string h1 = c.read_head();
    CHECK(client::status(h1) == 200);
    CHECK(h1.find("Connection: keep-alive") != std::string::npos);
    CHECK(h1.find("Content-Type: text/html; charset=utf-8") != std::string::npos);
    CHECK(c.read_until("page for GET") == "page for GET");
    CHECK(client::status(c.read_head()) == 200);
    CHECK(c.read_until("hello") == "hello");

    auto s = client::get(f.port(), "/");
    CHECK(client::status(s.read_head()) == 200);
    CHECK(s.read_until("\n\n") == "data: streamed\n\n");
}

TEST_CASE("server: a body over the limit is 413", "[server]")
{
    sse::server_options o;
    o.max_body_bytes = 10;
    test::server_fixture f(o);
    f.srv.on_request("/echo", [](const sse::request& r) { return sse::response(200, r.body()); });
    f.run();
    client c(f.port());
    c.send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n");
    CHECK(client::status(c.read_head()) == 413);
}

TEST_CASE("server: the handler sees the request and may refuse the stream", "[server]")
{
    test::server_fixture f;
    f.srv.on_stream("/events", [](sse::stream_ptr s) {
        const auto& r = s->request();
        if (r.query_param("token") != std::optional<std::string>("good"))
            return s->reject(sse::response(401, "who are you?\n"));
        if (r.header("x-done")) return s->reject(sse::response(204));
        s->send(sse::event("welcome, last id " + r.last_event_id()));
    });
    f.run();

    auto denied = client::get(f.port(), "/events?token=bad");
    CHECK(client::status(denied.read_head()) == 401);
    CHECK(denied.read_to_close() == "who are you?\n");

    auto done = client::get(f.port(), "/events?token=good", "X-Done: 1\r\n");
    const auto head = done.read_head();
    CHECK(client::status(head) == 204);
    CHECK(head.find("Content-Length") == std::string::npos);
    CHECK(done.read_to_close().empty());

    auto ok = client::get(f.port(), "/events?token=good", "Last-Event-ID: 41\r\n");
    CHECK(client::status(ok.read_head()) == 200);
    CHECK(ok.read_events(1)[0].data == "welcome, last id 41");
}

TEST_CASE("server: HEAD on a stream route answers the head only", "[server]")
{
    test::server_fixture f;
    open_route(f);
    f.run();
    client c(f.port());
    c.send("HEAD /events HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(client::status(c.read_head()) == 200);
    CHECK(c.read_to_close().empty());
}

TEST_CASE("server: a handler that throws gets a 500 and the server goes on", "[server]")
{
    test::server_fixture f;
    f.srv.on_stream("/boom", [](sse::stream_ptr) { throw std::runtime_error("boom"); });
    f.srv.on_request("/boom-page", [](const sse::request&) -> sse::response { throw std::runtime_error("boom"); });
    open_route(f);
    f.run();
    auto a = client::get(f.port(), "/boom");
    CHECK(client::status(a.read_head()) == 500);
    client b(f.port());
    b.send("GET /boom-page HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(client::status(b.read_head()) == 500);
    auto ok = client::get(f.port(), "/events");
    CHECK(client::status(ok.read_head()) == 200);
    CHECK(f.srv.stats().handler_errors == 2);
}

TEST_CASE("server: stream limits answer 503 with Retry-After", "[server][limits]")
{
    sse::server_options o;
    o.max_streams = 2;
    o.retry_after = std::chrono::seconds(7);
    test::signal first_closed; // before the server: its stop closes the streams that set it
    test::server_fixture f(o);
    open_route(f);
    sse::route_options ro;
    ro.max_streams = 1;
    f.srv.on_stream("/one", [&](sse::stream_ptr s) {
        s->send(sse::event("x"));
        s->on_close([&](std::error_code) { first_closed.set(); });
    }, ro);
    f.run();

    auto a = client::get(f.port(), "/one");
    CHECK(client::status(a.read_head()) == 200);
    a.read_events(1);
    auto b = client::get(f.port(), "/one");
    const auto hb = b.read_head();
    CHECK(client::status(hb) == 503);
    CHECK(hb.find("Retry-After: 7\r\n") != std::string::npos);

    auto c = client::get(f.port(), "/events");
    CHECK(client::status(c.read_head()) == 200);
    c.read_events(1);
    auto d = client::get(f.port(), "/events");
    CHECK(client::status(d.read_head()) == 503);

    // a slot frees when a client leaves
    a.close();
    REQUIRE(first_closed.wait());
    auto e = client::get(f.port(), "/one");
    CHECK(client::status(e.read_head()) == 200);
}

TEST_CASE("server: connections over max_connections get 503", "[server][limits]")
{
    sse::server_options o;
    o.max_connections = 1;
    test::server_fixture f(o);
    open_route(f);
    f.run();
    auto a = client::get(f.port(), "/events");
    CHECK(client::status(a.read_head()) == 200);
    client b(f.port());
    const auto head = b.read_head();
    CHECK(client::status(head) == 503);
    CHECK(b.closed_within(3s));
}

TEST_CASE("server: CORS grants allowed origins and answers preflights", "[server][cors]")
{
    test::server_fixture f;
    sse::route_options ro;
    ro.cors = sse::cors_policy{{"https://app.example"}, true, {"Authorization"}, std::chrono::seconds(60), {}};
    f.srv.on_stream("/events", [](sse::stream_ptr s) { s->send(sse::event("x")); }, ro);
    sse::route_options any;
    any.cors = sse::cors_policy{{"*"}, false, {}, std::chrono::seconds(600), {}};
    f.srv.on_request("/public", [](const sse::request&) { return sse::response(200, "ok"); }, any);
    f.run();

    auto allowed = client::get(f.port(), "/events", "Origin: https://app.example\r\n");
    const auto h1 = allowed.read_head();
    CHECK(h1.find("Access-Control-Allow-Origin: https://app.example\r\n") != std::string::npos);
    CHECK(h1.find("Access-Control-Allow-Credentials: true\r\n") != std::string::npos);
    CHECK(h1.find("Vary: Origin\r\n") != std::string::npos);

    auto other = client::get(f.port(), "/events", "Origin: https://evil.example\r\n");
    const auto h2 = other.read_head();
    CHECK(client::status(h2) == 200);
    CHECK(h2.find("Access-Control") == std::string::npos); // no grant: the browser refuses it

    client pre(f.port());
    pre.send("OPTIONS /events HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example\r\n"
             "Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: last-event-id\r\n\r\n");
    const auto h3 = pre.read_head();
    CHECK(client::status(h3) == 204);
    CHECK(h3.find("Access-Control-Allow-Methods: GET, HEAD\r\n") != std::string::npos);
    CHECK(h3.find("Access-Control-Allow-Headers: Last-Event-ID, Authorization\r\n") != std::string::npos);
    CHECK(h3.find("Access-Control-Max-Age: 60\r\n") != std::string::npos);

    client bad(f.port());
    bad.send("OPTIONS /events HTTP/1.1\r\nHost: h\r\nOrigin: https://evil.example\r\n\r\n");
    CHECK(client::status(bad.read_head()) == 403);

    client pub(f.port());
    pub.send("GET /public HTTP/1.1\r\nHost: h\r\nOrigin: null\r\n\r\n");
    const auto h4 = pub.read_head();
    CHECK(h4.find("Access-Control-Allow-Origin: *\r\n") != std::string::npos);
    CHECK(h4.find("Vary") == std::string::npos);

    sse::route_options injected;
    injected.cors = sse::cors_policy{{"https://a\r\nX-Evil: 1"}, false, {}, std::chrono::seconds(1), {}};
    asio::io_context io;
    sse::server s2(io);
    CHECK_THROWS_AS(s2.on_stream("/x", [](sse::stream_ptr) {}, injected), std::invalid_argument);
}

TEST_CASE("server: the lifecycle hook sees accepts, refusals, error answers and streams", "[server][lifecycle]")
{
    using kind = sse::lifecycle_event::kind;
    struct record {
        kind what;
        std::string path;
        int status;
        std::error_code reason;
        asio::ip::address remote;
    };
    std::mutex m;
    std::vector<record> log;
    test::signal stream_closed;
    sse::server_options o;
    o.max_connections = 2;
    o.on_lifecycle = [&](const sse::lifecycle_event& e) {
        std::lock_guard<std::mutex> l(m);
        log.push_back({e.what, std::string(e.path), e.status, e.reason, e.remote}); // asserted below: Catch is
        if (e.what == kind::stream_closed) stream_closed.set();                     // not thread-safe
    };
    test::server_fixture f(o);
    open_route(f);
    f.run();
    {
        auto s = client::get(f.port(), "/events");
        s.read_events(1);
        client bad(f.port()); // stays connected: the server lingers until it leaves
        bad.send("GET /nope HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(client::status(bad.read_head()) == 404);
        client over(f.port()); // both allowed connections are taken
        CHECK(client::status(over.read_head()) == 503);
    }
    REQUIRE(stream_closed.wait());
    std::lock_guard<std::mutex> l(m);
    std::vector<kind> kinds;
    for (const auto& r : log) {
        kinds.push_back(r.what);
        CHECK(r.remote == asio::ip::make_address("127.0.0.1"));
    }
    REQUIRE(log.size() == 6);
    CHECK(log[0].what == kind::accepted);
    CHECK(log[1].what == kind::stream_opened);
    CHECK(log[1].path == "/events");
    CHECK(log[2].what == kind::accepted);
    CHECK(log[3].what == kind::rejected);
    CHECK(log[3].path == "/nope");
    CHECK(log[3].status == 404);
    CHECK(log[4].what == kind::refused);
    CHECK(std::count(kinds.begin(), kinds.end(), kind::accepted) == 2); // not the refused one
    CHECK(log[4].status == 503);
    CHECK(log[5].what == kind::stream_closed);
    CHECK(log[5].reason); // the client went away
}
