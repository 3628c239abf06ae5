// Abuse limits per client, the authorization hook, and header injection at the API.
#include "support/catch.hpp"
#include "support/client.hpp"
#include "support/server_fixture.hpp"

#include <any>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using test::client;
using limits = sse::detail::client_limits;

namespace {
limits::key key_of(const char* a) { return limits::client_of(asio::ip::make_address(a)); }

// A plain route that answers "pong" (and a stream route), for connection-level tests.
void ping_routes(test::server_fixture& f)
{
    f.srv.on_request("/ping", [](const sse::request&) { return sse::response(200, "pong"); });
    f.srv.on_stream("/events", [](sse::stream_ptr s) { s->send(sse::event("hello")); });
}

int ping(unsigned short port, const char* source)
{
    client c(port, source);
    c.send("GET /ping HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    return client::status(c.read_head());
}
} // namespace

TEST_CASE("client limits: concurrency, token bucket and bounded memory (sans-I/O)", "[security][limits]")
{
    const auto t0 = limits::clock::now();
    SECTION("concurrent connections per client")
    {
        limits l(2, 0, 0);
        const auto a = key_of("10.0.0.1"), b = key_of("10.0.0.2");
        CHECK(l.admit(a, t0) == limits::verdict::admitted);
        CHECK(l.admit(a, t0) == limits::verdict::admitted);
        CHECK(l.admit(a, t0) == limits::verdict::too_many);
        CHECK(l.admit(b, t0) == limits::verdict::admitted); // another client is not affected
        l.release(a, t0);
        CHECK(l.admit(a, t0) == limits::verdict::admitted);
        l.release(a, t0);
        l.release(a, t0);
        l.release(b, t0);
        CHECK(l.tracked() == 0); // no connection and no rate limit: nothing kept
    }
    SECTION("new connections per second: burst, then the rate")
    {
        limits l(0, 10, 3); // 10/s, burst 3
        const auto a = key_of("10.0.0.1");
        for (int i = 0; i < 3; ++i) CHECK(l.admit(a, t0) == limits::verdict::admitted);
        CHECK(l.admit(a, t0) == limits::verdict::too_fast);
        CHECK(l.admit(key_of("10.0.0.2"), t0) == limits::verdict::admitted);
        CHECK(l.admit(a, t0 + 50ms) == limits::verdict::too_fast); // half a token
        CHECK(l.admit(a, t0 + 100ms) == limits::verdict::admitted);
        CHECK(l.admit(a, t0 + 100ms) == limits::verdict::too_fast);
        for (int i = 0; i < 4; ++i) l.release(a, t0 + 100ms);
        CHECK(l.tracked() == 2); // the bucket is not full yet: remembered
    }
    SECTION("an IPv6 client is its /64; IPv4-mapped is IPv4")
    {
        CHECK(key_of("2001:db8:1:2::1") == key_of("2001:db8:1:2:ffff::9"));
        CHECK(key_of("2001:db8:1:2::1") != key_of("2001:db8:1:3::1"));
        CHECK(key_of("::ffff:10.0.0.1") == key_of("10.0.0.1"));
        CHECK(key_of("10.0.0.1") != key_of("10.0.0.2"));
    }
    SECTION("idle clients are forgotten: memory stays bounded")
    {
        limits l(4, 1000, 2);
        for (unsigned i = 0; i < 10'000; ++i) {
            const auto k = limits::client_of(asio::ip::address_v4(0x0A000000u + i));
            const auto now = t0 + std::chrono::milliseconds(i);
            REQUIRE(l.admit(k, now) == limits::verdict::admitted);
            l.release(k, now);
        }
        // each client's bucket refills in 1 ms, so at most the last few thousand are kept
        CHECK(l.tracked() < 200);
    }
    SECTION("no limits: nothing tracked")
    {
        limits l(0, 0, 5);
        CHECK_FALSE(l.enabled());
        for (int i = 0; i < 1000; ++i) CHECK(l.admit(key_of("10.0.0.1"), t0) == limits::verdict::admitted);
        CHECK(l.tracked() == 0);
    }
}

TEST_CASE("security: one client over its connection limit gets 429, others are served", "[security][limits]")
{
    sse::server_options o;
    o.max_connections_per_client = 3;
    test::signal left; // before the server: its stop closes the streams
    test::server_fixture f(o);
    f.srv.on_stream("/events", [&](sse::stream_ptr s) {
        s->send(sse::event("hello"));
        s->on_close([&](std::error_code) { left.set(); });
    });
    f.srv.on_request("/ping", [](const sse::request&) { return sse::response(200, "pong"); });
    f.run();

    std::vector<client> flood;
    for (int i = 0; i < 3; ++i) {
        flood.push_back(client::get(f.port(), "/events", {}, "127.0.0.2"));
        CHECK(client::status(flood.back().read_head()) == 200);
    }
    client over(f.port(), "127.0.0.2");
    const auto head = over.read_head();
    CHECK(client::status(head) == 429);
    CHECK(head.find("Retry-After: 5\r\n") != std::string::npos);
    CHECK(over.closed_within(3s));

    // another address is not starved
    for (int i = 0; i < 5; ++i) CHECK(ping(f.port(), "127.0.0.1") == 200);
    CHECK(f.srv.stats().client_limit_refusals == 1);

    // a slot frees when one of the flood's streams ends
    flood.front().close();
    REQUIRE(left.wait());
    CHECK(client::status(client::get(f.port(), "/events", {}, "127.0.0.2").read_head()) == 200);
}

TEST_CASE("security: a connection flood from one address is rate limited, others are served", "[security][limits]")
{
    sse::server_options o;
    o.connection_rate_per_client = 0.1; // one token per 10 s: none refills during the test
    o.connection_burst_per_client = 5;
    test::server_fixture f(o);
    ping_routes(f);
    f.run(2);

    int ok = 0, refused = 0;
    for (int i = 0; i < 40; ++i) {
        const int status = ping(f.port(), "127.0.0.2");
        ok += status == 200;
        refused += status == 429;
    }
    CHECK(ok == 5);
    CHECK(refused == 35);
    CHECK(f.srv.stats().client_rate_refusals == 35);

    // 127.0.0.1 has its own bucket
    for (int i = 0; i < 5; ++i) CHECK(ping(f.port(), "127.0.0.1") == 200);
    CHECK(ping(f.port(), "127.0.0.1") == 429);
    CHECK(ping(f.port(), "127.0.0.3") == 200);
}

TEST_CASE("security: limits of 0 lift the per-client caps", "[security][limits]")
{
    sse::server_options o;
    o.max_connections_per_client = 0;
    o.connection_rate_per_client = 0;
    test::server_fixture f(o);
    ping_routes(f);
    f.run();
    std::vector<client> many;
    for (int i = 0; i < 300; ++i) many.push_back(client::get(f.port(), "/events"));
    for (auto& c : many) CHECK(client::status(c.read_head()) == 200);
    const auto st = f.srv.stats();
    CHECK(st.client_limit_refusals + st.client_rate_refusals == 0);
    CHECK(st.streams_open == 300);
}

namespace {
struct user {
    std::string name;
};

// Allows `?token=<name>-ok` or the cookie `session=<name>-ok`; denies anything else with 401.
void check_token(const sse::request& r, sse::authorization done)
{
    std::string token;
    if (auto q = r.query_param("token"))
        token = *q;
    else if (auto c = r.cookie("session"))
        token = std::string(*c);
    const auto cut = token.rfind("-ok");
    if (token.empty() || cut == std::string::npos || cut + 3 != token.size())
        done.deny(sse::response(401, "bad token\n").header("WWW-Authenticate", "Bearer"));
    else
        done.allow(user{token.substr(0, cut)});
}
} // namespace

TEST_CASE("security: authorize sees query and cookie, denies with a body, and sets user()", "[security][auth]")
{
    std::atomic<int> handled{0};
    test::server_fixture f;
    sse::route_options ro;
    ro.authorize = check_token;
    ro.cors = sse::cors_policy{{"https://app.example"}, true, {}, std::chrono::seconds(60), {}};
    f.srv.on_stream("/events", [&](sse::stream_ptr s) {
        ++handled;
        s->send(sse::event("hello " + std::any_cast<const user&>(s->user()).name));
    }, ro);
    f.srv.on_request("/events", [](const sse::request&) { return sse::response(200, "the plain route is open"); });
    f.run();

    auto by_query = client::get(f.port(), "/events?token=ann-ok");
    CHECK(client::status(by_query.read_head()) == 200);
    CHECK(by_query.read_events(1)[0].data == "hello ann");

    auto by_cookie = client::get(f.port(), "/events", "Cookie: theme=dark; session=bob-ok\r\n");
    CHECK(client::status(by_cookie.read_head()) == 200);
    CHECK(by_cookie.read_events(1)[0].data == "hello bob");

    auto denied = client::get(f.port(), "/events?token=forged", "Origin: https://app.example\r\n");
    const auto head = denied.read_head();
    CHECK(client::status(head) == 401);
    CHECK(head.find("WWW-Authenticate: Bearer\r\n") != std::string::npos);
    CHECK(head.find("Access-Control-Allow-Origin: https://app.example\r\n") != std::string::npos);
    CHECK(denied.read_to_close() == "bad token\n");

    auto none = client::get(f.port(), "/events");
    CHECK(client::status(none.read_head()) == 401);

    client plain(f.port());
    plain.send("GET /events HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(client::status(plain.read_head()) == 200); // plain requests are not authorized

    CHECK(handled == 2);
    const auto st = f.srv.stats();
    CHECK(st.authorization_denied == 2);
    CHECK(st.streams_total == 2);
}

TEST_CASE("security: authorize may decide later, from another thread", "[security][auth]")
{
    sse::server_options o;
    o.head_timeout = 500ms;
    test::server_fixture f(o);
    // after the server: the decisions must go before its io_context does
    std::mutex m;
    std::vector<std::pair<std::string, sse::authorization>> pending;
    test::signal asked;
    sse::route_options ro;
    ro.authorize = [&](const sse::request& r, sse::authorization done) {
        std::lock_guard<std::mutex> l(m);
        pending.emplace_back(std::string(r.query_param("who").value_or("")), std::move(done));
        if (pending.size() == 3) asked.set();
    };
    f.srv.on_stream("/events", [](sse::stream_ptr s) {
        s->send(sse::event("hi " + std::any_cast<std::string>(s->user())));
    }, ro);
    f.srv.on_request("/ping", [](const sse::request&) { return sse::response(200, "pong"); });
    f.run(2);

    auto a = client::get(f.port(), "/events?who=a");
    auto b = client::get(f.port(), "/events?who=b");
    auto gone = client::get(f.port(), "/events?who=gone");
    REQUIRE(asked.wait());
    // the io_context is not blocked while decisions are pending
    client p(f.port());
    p.send("GET /ping HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(client::status(p.read_head()) == 200);

    auto decide = [&](bool late) {
        std::thread decider([&] {
            std::lock_guard<std::mutex> l(m);
            for (auto& [who, done] : pending) {
                if ((who == "gone") != late) continue;
                if (who == "b")
                    CHECK(done.deny(403));
                else
                    CHECK(done.allow(who));
                CHECK_FALSE(done.allow(who)); // decided once
            }
        });
        decider.join();
    };
    decide(false);
    // the third client is closed at the head timeout while its decision is pending; a decision
    // after that is harmless
    CHECK(gone.closed_within(3s));
    decide(true);
    CHECK(client::status(a.read_head()) == 200);
    CHECK(a.read_events(1)[0].data == "hi a");
    CHECK(client::status(b.read_head()) == 403);
    CHECK(b.read_to_close() == "403 Forbidden\n");
    CHECK(f.srv.stats().streams_total == 1);
}

TEST_CASE("security: an undecided or throwing authorize never leaves a connection hanging", "[security][auth]")
{
    test::server_fixture f; // head timeout 10 s: the closes below come sooner
    sse::route_options dropped, throws;
    dropped.authorize = [](const sse::request&, sse::authorization) {}; // drops its decision
    throws.authorize = [](const sse::request&, sse::authorization done) {
        done.allow();
        throw std::runtime_error("auth service down");
    };
    f.srv.on_stream("/dropped", [](sse::stream_ptr) { FAIL("not authorized"); }, dropped);
    f.srv.on_stream("/throws", [](sse::stream_ptr) { FAIL("not authorized"); }, throws);
    f.run();

    auto d = client::get(f.port(), "/dropped");
    CHECK(d.read_to_close(3s).empty());
    auto t = client::get(f.port(), "/throws");
    CHECK(client::status(t.read_head()) == 500);
    CHECK(f.srv.stats().handler_errors == 1);
    CHECK(f.srv.stats().streams_total == 0);
}

TEST_CASE("security: channel filters see the authorized user", "[security][auth]")
{
    sse::channel ch;
    std::atomic<int> subscribed{0};
    test::server_fixture f;
    sse::route_options ro;
    ro.authorize = check_token;
    f.srv.on_stream("/events", [&](sse::stream_ptr s) {
        ch.subscribe(s);
        ++subscribed;
    }, ro);
    f.run();
    auto ann = client::get(f.port(), "/events?token=ann-ok");
    auto bob = client::get(f.port(), "/events?token=bob-ok");
    CHECK(client::status(ann.read_head()) == 200);
    CHECK(client::status(bob.read_head()) == 200);
    REQUIRE(subscribed == 2);
    ch.publish(sse::event("for bob"), [](const sse::stream& s) { return std::any_cast<const user&>(s.user()).name == "bob"; });
    ch.publish(sse::event("for all"));
    CHECK(bob.read_events(2)[0].data == "for bob");
    CHECK(ann.read_events(1)[0].data == "for all");
}

TEST_CASE("security: CR/LF cannot reach the wire through the API", "[security][injection]")
{
    const std::vector<std::string> bads = {"a\r\nSet-Cookie: x=1", "a\nb", "a\rb", std::string("a\0b", 3)};
    for (const auto& bad : bads) {
        CHECK_THROWS_AS(sse::response(200).header("X-Test", bad), std::invalid_argument);
        CHECK_THROWS_AS(sse::response(200).header(bad, "v"), std::invalid_argument);
        CHECK_THROWS_AS(sse::response(200, "body", bad), std::invalid_argument);
        CHECK_THROWS_AS(sse::event("x").id(bad), std::invalid_argument);
        CHECK_THROWS_AS(sse::event("x").type(bad), std::invalid_argument);
    }
    CHECK_THROWS_AS(sse::response(401).header("WWW-Authenticate", "Bearer\r\n\r\n<script>"), std::invalid_argument);

    asio::io_context io;
    sse::server srv(io);
    sse::route_options bad_header;
    bad_header.cors = sse::cors_policy{{"https://a.example"}, false, {"X-Ok\r\nX-Evil"}, std::chrono::seconds(1), {}};
    CHECK_THROWS_AS(srv.on_stream("/x", [](sse::stream_ptr) {}, bad_header), std::invalid_argument);

    // data and comments are split into lines, so a payload cannot forge a field
    CHECK(sse::to_string(sse::event("a\rid: 9\nevent: x")) == "data: a\ndata: id: 9\ndata: event: x\n\n");
    const auto commented = sse::to_string(sse::event("x").comment("c\r\nid: 9"));
    CHECK(commented.find("\nid:") == std::string::npos);
    CHECK(commented.rfind("id:", 0) == std::string::npos);
}

TEST_CASE("security: an echoed request header with CR/LF never reaches the response", "[security][injection]")
{
    test::server_fixture f;
    sse::route_options ro;
    ro.cors = sse::cors_policy{{"*"}, true, {}, std::chrono::seconds(1), {}}; // echoes the Origin
    f.srv.on_stream("/events", [](sse::stream_ptr s) { s->send(sse::event("x")); }, ro);
    f.run();
    // a bare CR inside a header value is refused (400) or at least never echoed
    auto c = client::get(f.port(), "/events", "Origin: https://a.example\rX-Evil: 1\r\n");
    const auto head = c.read_head();
    CHECK(head.find("X-Evil") == std::string::npos);
}
