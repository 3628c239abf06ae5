// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
// Every request shape over real loopback sockets: streams answering POST (Content-Length and
// chunked bodies, Expect: 100-continue), the per-request choice between a plain answer and the
// stream, extra stream headers, CORS for fetch, bodies that are too big, trickle or lie, bursts
// before the head is out, fields-only blocks, and producers that learn the client left.
#include "support/catch.hpp"
#include "support/client.hpp"
#include "support/server_fixture.hpp"

#include <asio/use_future.hpp>

#include <future>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using test::client;

namespace {

sse::route_options post_only()
{
    sse::route_options ro;
    ro.methods = {"POST"};
    return ro;
}

// A POST of `body` to `target` with a Content-Length, asking for a stream.
std::string post(std::string_view target, std::string_view body, std::string_view extra = {})
{
    return "POST " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" +
           "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
           std::string(extra) + "\r\n" + std::string(body);
}

// The head of a chunked POST to `target` (the chunks follow).
std::string chunked_head(std::string_view target, std::string_view extra = {})
{
    return "POST " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" +
           "Transfer-Encoding: chunked\r\n" + std::string(extra) + "\r\n";
}

// A route that echoes the request's body back as one event, then closes.
void echo_route(test::server_fixture& f)
{
    f.srv.on_stream(
        "/echo",
        [](sse::stream_ptr s) {
            s->send(sse::event(s->request().body()).type(std::string(s->request().method())));
            s->close();
        },
        post_only());
}

} // namespace

TEST_CASE("requests: a POST with a Content-Length body opens a stream that sees the body", "[requests]")
{
    test::server_fixture f;
    echo_route(f);
    f.run();
    client c(f.port());
    c.send(post("/echo", R"({"stream":true})"));
    const auto head = c.read_head();
    CHECK(client::status(head) == 200);
    CHECK(head.find("Content-Type: text/event-stream") != std::string::npos);
    const auto e = c.read_events(1);
    CHECK(e[0].type == "POST");
    CHECK(e[0].data == R"({"stream":true})");
    CHECK(c.closed_within(5s));
}

TEST_CASE("requests: a chunked body arrives whole, however it is cut", "[requests]")
{
    test::server_fixture f;
    echo_route(f);
    f.run();
    client c(f.port());
    c.send(chunked_head("/echo"));
    const std::string wire = "5;note=x\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n";
    for (char ch : wire) c.send(std::string_view(&ch, 1)); // one byte per segment (TCP_NODELAY)
    CHECK(client::status(c.read_head()) == 200);
    CHECK(c.read_events(1)[0].data == "hello world");
}

TEST_CASE("requests: Expect: 100-continue gets the interim answer before the body is sent", "[requests]")
{
    test::server_fixture f;
    echo_route(f);
    f.run();
    client c(f.port());
    const std::string body = "prompt";
    c.send("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: 6\r\n\r\n");
    CHECK(c.read_until("\r\n\r\n").rfind("HTTP/1.1 100 Continue\r\n", 0) == 0);
    c.send(body);
    CHECK(client::status(c.read_head()) == 200);
    CHECK(c.read_events(1)[0].data == body);

    client other(f.port()); // an expectation we do not know
    other.send("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx");
    CHECK(client::status(other.read_head()) == 417);
}

TEST_CASE("requests: the route's methods decide, others get 405 with Allow, GET keeps taking no body", "[requests]")
{
    test::server_fixture f;
    sse::route_options ro;
    ro.methods = {"GET", "POST", "DELETE"};
    f.srv.on_stream("/mcp", [](sse::stream_ptr s) { s->send(sse::event(std::string(s->request().method()))); }, ro);
    f.srv.on_stream("/events", [](sse::stream_ptr s) { s->send(sse::event("x")); });
    f.run();

    auto method_status = [&](std::string_view method, std::string_view target, std::string_view body) {
        client c(f.port());
        c.send(std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: h\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + std::string(body));
        return c.read_head();
    };
    CHECK(client::status(method_status("DELETE", "/mcp", "")) == 200);
    CHECK(client::status(method_status("POST", "/mcp", "{}")) == 200);
    const auto put = method_status("PUT", "/mcp", "{}");
    CHECK(client::status(put) == 405);
    CHECK(put.find("Allow: GET, POST, DELETE\r\n") != std::string::npos);
    CHECK(client::status(method_status("POST", "/events", "{}")) == 405); // the default: GET and HEAD
    CHECK(client::status(method_status("GET", "/mcp", "x")) == 400);      // a GET stream takes no body

    asio::io_context io; // a server not started yet: only the method can be refused
    sse::server fresh(io);
    for (std::vector<std::string> methods : {std::vector<std::string>{"PO ST"}, {""}, {}}) {
        sse::route_options bad;
        bad.methods = methods;
        CHECK_THROWS_AS(fresh.on_stream("/bad", [](sse::stream_ptr) {}, bad), std::invalid_argument);
    }
}

TEST_CASE("requests: one route answers JSON, 202 or a stream, per request", "[requests]")
{
    test::server_fixture f;
    f.srv.on_stream(
        "/rpc",
        [](sse::stream_ptr s) {
            const std::string& body = s->request().body();
            if (body == "notification") return s->respond(sse::response(202));
            if (body == "call") return s->respond(sse::response(200, R"({"result":1})", "application/json").header("X-Id", "7"));
            s->header("Mcp-Session-Id", "abc");
            s->send(sse::event("streamed"));
        },
        post_only());
    f.run();

    client notify(f.port());
    notify.send(post("/rpc", "notification"));
    const auto accepted = notify.read_to_close();
    CHECK(client::status(accepted) == 202);
    CHECK(accepted.find("Content-Length: 0\r\n") != std::string::npos); // no body

    client call(f.port());
    call.send(post("/rpc", "call"));
    const auto json = call.read_to_close();
    CHECK(client::status(json) == 200);
    CHECK(json.find("Content-Type: application/json\r\n") != std::string::npos);
    CHECK(json.find("X-Id: 7\r\n") != std::string::npos);
    CHECK(json.substr(json.size() - 12) == R"({"result":1})");

    client stream(f.port());
    stream.send(post("/rpc", "stream"));
    const auto head = stream.read_head();
    CHECK(client::status(head) == 200);
    CHECK(head.find("Mcp-Session-Id: abc\r\n") != std::string::npos);
    CHECK(stream.read_events(1)[0].data == "streamed");
}

TEST_CASE("requests: a stream's own headers cannot be replaced, and none can be added once it answered",
          "[requests]")
{
    test::one_stream t;
    CHECK_THROWS_AS(t.s->header("X-Late", "1"), std::logic_error);
    CHECK_THROWS_AS(t.s->respond(sse::response(202)), std::logic_error);
    std::promise<std::string> verdicts;
    test::server_fixture f;
    f.srv.on_stream("/h", [&](sse::stream_ptr s) {
        std::string v;
        for (const char* name : {"Content-Type", "connection", "Cache-Control"}) {
            try {
                s->header(name, "x");
            } catch (const std::invalid_argument&) {
                v += "refused ";
            }
        }
        try {
            s->header("X-Evil", "a\r\nInjected: 1");
        } catch (const std::invalid_argument&) {
            v += "injection";
        }
        verdicts.set_value(v);
    });
    f.run();
    auto c = client::get(f.port(), "/h");
    CHECK(client::status(c.read_head()) == 200);
    CHECK(verdicts.get_future().get() == "refused refused refused injection");
}

TEST_CASE("requests: CORS for a fetch POST: the preflight lists the route's methods and headers", "[requests]")
{
    test::server_fixture f;
    sse::route_options ro = post_only();
    ro.cors = sse::cors_policy{{"https://app.example"}, false, {"Authorization", "Content-Type", "Mcp-Session-Id"},
                               std::chrono::seconds(60), {"Mcp-Session-Id"}};
    f.srv.on_stream(
        "/chat",
        [](sse::stream_ptr s) {
            if (s->request().body() == "json") return s->respond(sse::response(200, "{}", "application/json"));
            s->send(sse::event("token"));
        },
        ro);
    f.run();

    client pre(f.port());
    pre.send("OPTIONS /chat HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example\r\n"
             "Access-Control-Request-Method: POST\r\n"
             "Access-Control-Request-Headers: authorization, content-type\r\n\r\n");
    const auto answer = pre.read_head();
    CHECK(client::status(answer) == 204);
    CHECK(answer.find("Access-Control-Allow-Methods: POST\r\n") != std::string::npos);
    CHECK(answer.find("Access-Control-Allow-Headers: Last-Event-ID, Authorization, Content-Type, Mcp-Session-Id\r\n") !=
          std::string::npos);

    client streamed(f.port());
    streamed.send(post("/chat", "stream", "Origin: https://app.example\r\n"));
    const auto head = streamed.read_head();
    CHECK(head.find("Access-Control-Allow-Origin: https://app.example\r\n") != std::string::npos);
    CHECK(head.find("Access-Control-Expose-Headers: Mcp-Session-Id\r\n") != std::string::npos);

    client wrong(f.port()); // so does the server's own error answer: the page can read the status
    wrong.send("GET /chat HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example\r\n\r\n");
    const auto refused = wrong.read_to_close();
    CHECK(client::status(refused) == 405);
    CHECK(refused.find("Access-Control-Allow-Origin: https://app.example\r\n") != std::string::npos);

    client json(f.port()); // a plain answer from the stream handler gets the grant too
    json.send(post("/chat", "json", "Origin: https://app.example\r\n"));
    const auto plain = json.read_to_close();
    CHECK(client::status(plain) == 200);
    CHECK(plain.find("Access-Control-Allow-Origin: https://app.example\r\n") != std::string::npos);
}

TEST_CASE("requests: bad bodies get a clear status, and the server stays healthy", "[requests][abuse]")
{
    sse::server_options o;
    o.max_body_bytes = 1024;
    o.body_timeout = 300ms;
    test::server_fixture f(o);
    echo_route(f);
    f.srv.on_request("/plain", [](const sse::request& r) { return sse::response(200, r.body()); });
    f.run();

    auto status_of = [&](const std::string& bytes) {
        client c(f.port());
        c.send(bytes);
        const auto got = c.read_to_close();
        return got.size() >= 12 ? client::status(got) : 0;
    };
    const std::string big(2000, 'x');
    CHECK(status_of(post("/echo", big)) == 413);                                             // announced too big
    CHECK(status_of(chunked_head("/echo") + "7d0\r\n" + big + "\r\n0\r\n\r\n") == 413);      // a chunk too big
    CHECK(status_of(chunked_head("/echo") + "400\r\n" + big.substr(0, 1024) + "\r\n1\r\nx\r\n0\r\n\r\n") == 413); // in sum
    CHECK(status_of(chunked_head("/echo") + "zz\r\nhello\r\n0\r\n\r\n") == 400);             // not hex
    CHECK(status_of(chunked_head("/echo") + "5\r\nhelloXX0\r\n\r\n") == 400);                // no CRLF after data
    CHECK(status_of(chunked_head("/echo") + "5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n") == 400); // trailers refused
    CHECK(status_of(chunked_head("/echo") + "1;" + std::string(400, 'e') + "\r\nx\r\n0\r\n\r\n") == 400); // extension abuse
    // smuggling shapes
    CHECK(status_of("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "0\r\n\r\n") == 400);
    CHECK(status_of("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx") == 400);
    CHECK(status_of("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy") == 400);
    CHECK(status_of("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n") == 501);

    // a body that trickles past the body timeout: 408
    client slow(f.port());
    slow.send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nonly a part");
    const auto timed_out = slow.read_to_close(5s);
    CHECK(client::status(timed_out) == 408);

    // a chunked body that never ends: 408 too
    client endless(f.port());
    endless.send(chunked_head("/echo") + "3\r\nabc\r\n");
    CHECK(client::status(endless.read_to_close(5s)) == 408);

    // a client that sends its body and leaves before the stream opens: nothing is left behind
    for (int i = 0; i < 20; ++i) {
        client gone(f.port());
        gone.send(post("/echo", "bye"));
        gone.reset();
    }

    // a truncated body, then the client closes: the connection just closes
    {
        client cut(f.port());
        cut.send("POST /plain HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
        ::shutdown(cut.fd(), SHUT_WR);
        CHECK(cut.read_to_close(5s).empty());
    }

    // neighbours are fine, and a plain route keeps its connection alive after a body
    client keep(f.port());
    keep.send("POST /plain HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
              "POST /plain HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nyes");
    const auto both = keep.read_to_close();
    CHECK(both.find("\r\n\r\nok") != std::string::npos);
    CHECK(both.substr(both.size() - 3) == "yes");
    CHECK(test::eventually([&] { return f.srv.stats().connections_open == 0; }));
}

TEST_CASE("requests: a burst beyond the queue bound before the head is out still gets the head, "
          "what fit, then a close at an event's end",
          "[requests][bounds]")
{
    sse::server_options o;
    o.max_queue_bytes = 8 * 1024;
    test::server_fixture f(o);
    std::atomic<int> accepted{0};
    test::signal closed;
    std::error_code reason;
    f.srv.on_stream("/burst", [&](sse::stream_ptr s) {
        s->on_close([&](std::error_code ec) {
            reason = ec;
            closed.set();
        });
        const std::string data(500, 'b');
        for (int i = 1; i <= 100; ++i) // ~50 KB: far beyond the bound, before the stream opens
            if (s->send(sse::event(data).id(std::to_string(i)))) ++accepted;
    });
    f.run();
    auto c = client::get(f.port(), "/burst");
    CHECK(client::status(c.read_head()) == 200);
    const std::string rest = c.read_to_close();
    REQUIRE(closed.wait());
    CHECK(reason == sse::error::queue_overflow);
    CHECK(accepted > 0);
    CHECK(accepted < 100);
    // every event that was accepted arrived whole, and nothing after it
    {
        test::sse_parser p;
        p.feed(rest);
        CHECK(p.events.size() == std::size_t(accepted.load()));
        CHECK(p.events.back().last_event_id == std::to_string(accepted.load()));
        CHECK(rest.substr(rest.size() - 2) == "\n\n");
    }
    CHECK(f.srv.stats().slow_disconnects == 1);
}

TEST_CASE("requests: fields-only blocks set the id and the retry delay and dispatch nothing", "[requests][event]")
{
    CHECK(sse::to_string(sse::event::fields().id("7")) == "id: 7\n\n");
    CHECK(sse::to_string(sse::event::fields().retry(2500ms)) == "retry: 2500\n\n");
    CHECK(sse::to_string(sse::event::fields().id("8").retry(10ms).comment("c")) == ": c\nid: 8\nretry: 10\n\n");
    CHECK_THROWS_AS(sse::event::fields().data("x"), std::logic_error);
    CHECK_THROWS_AS(sse::event::fields().type("t"), std::logic_error);

    test::one_stream t;
    t.s->send(sse::event::fields().id("41").retry(1000ms));
    t.s->send(sse::event("next"));
    const auto e = t.c.read_events(1);
    CHECK(e[0].data == "next"); // the first event: the fields-only block dispatched nothing
    CHECK(e[0].last_event_id == "41"); // the id it set carried over to the next event
    CHECK(t.s->last_event_id() == "41");
}

TEST_CASE("requests: a producer on another thread learns at once that the client left, and can wait "
          "for the socket",
          "[requests]")
{
    test::server_fixture f;
    std::promise<int> produced;
    f.srv.on_stream(
        "/generate",
        [&](sse::stream_ptr s) {
            std::thread([s, &produced] {
                int n = 0;
                std::error_code ec;
                // waits for each token to be written: never fills the queue
                for (; n < 1'000'000 && !ec; ++n)
                    ec = s->async_send(sse::event("token " + std::to_string(n)),
                                       asio::use_future([](std::error_code e) { return e; }))
                             .get();
                produced.set_value(ec == sse::error::stream_closed ? n : -1);
            }).detach();
        },
        post_only());
    f.run();
    client c(f.port());
    c.send(post("/generate", "{}"));
    CHECK(client::status(c.read_head()) == 200);
    const auto first = c.read_events(5);
    CHECK(first[4].data == "token 4");
    c.close();
    auto done = produced.get_future();
    REQUIRE(done.wait_for(5s) == std::future_status::ready);
    const int n = done.get();
    CHECK(n >= 5);
    CHECK(n < 1'000'000);
    CHECK(test::eventually([&] { return f.srv.stats().streams_open == 0; }));
}
