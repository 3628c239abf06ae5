// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
// detail::router (sans I/O): exact paths, `{name}` and trailing `*` patterns, precedence,
// decoding of parameters; and one route with a parameter over a real socket.
#include "support/catch.hpp"
#include "support/client.hpp"
#include "support/server_fixture.hpp"

#include <sse/detail/http_parser.hpp>
#include <sse/detail/router.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

using namespace std::chrono_literals;
using test::client;

namespace {
// A GET request for `target`, parsed the way a connection parses it.
sse::request make_request(const std::string& target)
{
    const std::string head = "GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n";
    sse::detail::request_parser p(8192);
    REQUIRE(p.scan(head) == sse::detail::request_parser::state::complete);
    sse::request r;
    REQUIRE(p.parse(std::string_view(head).substr(0, p.head_size()), r) == 0);
    return r;
}

// What the router makes of `target`: the route (or nullptr), the request and the status.
struct lookup {
    const sse::detail::route* route = nullptr;
    sse::request req;
    int status = 0;
};
lookup resolve(const sse::detail::router& rt, const std::string& target)
{
    lookup l;
    l.req = make_request(target);
    l.route = rt.find(l.req, l.status);
    return l;
}

std::optional<std::string_view> sv(const char* s) { return std::string_view(s); }
} // namespace

TEST_CASE("router: an exact path beats a pattern that also matches", "[router]")
{
    sse::detail::router rt;
    auto& pattern = rt.at("/rooms/{id}");
    auto& exact = rt.at("/rooms/lobby");
    auto a = resolve(rt, "/rooms/lobby");
    CHECK(a.route == &exact);
    CHECK_FALSE(a.req.param("id"));
    auto b = resolve(rt, "/rooms/kitchen");
    CHECK(b.route == &pattern);
    CHECK(b.req.param("id") == sv("kitchen"));
    CHECK_FALSE(b.req.param("name"));
}

TEST_CASE("router: a literal beats a parameter, whatever the registration order", "[router]")
{
    for (int order = 0; order < 2; ++order) {
        sse::detail::router rt;
        sse::detail::route* lit = nullptr;
        sse::detail::route* par = nullptr;
        if (order == 0) {
            lit = &rt.at("/rooms/lobby/{x}");
            par = &rt.at("/rooms/{id}/{x}");
        } else {
            par = &rt.at("/rooms/{id}/{x}");
            lit = &rt.at("/rooms/lobby/{x}");
        }
        auto a = resolve(rt, "/rooms/lobby/7");
        CHECK(a.route == lit);
        CHECK(a.req.param("x") == sv("7"));
        CHECK_FALSE(a.req.param("id"));
        auto b = resolve(rt, "/rooms/hall/7");
        CHECK(b.route == par);
        CHECK(b.req.param("id") == sv("hall"));
        CHECK(b.req.param("x") == sv("7"));
    }
}

TEST_CASE("router: a parameter beats the wildcard, whatever the registration order", "[router]")
{
    for (int order = 0; order < 2; ++order) {
        sse::detail::router rt;
        sse::detail::route* par = nullptr;
        sse::detail::route* any = nullptr;
        if (order == 0) {
            par = &rt.at("/files/{name}");
            any = &rt.at("/files/*");
        } else {
            any = &rt.at("/files/*");
            par = &rt.at("/files/{name}");
        }
        auto one = resolve(rt, "/files/a.txt");
        CHECK(one.route == par);
        CHECK(one.req.param("name") == sv("a.txt"));
        CHECK_FALSE(one.req.param("*"));
        auto two = resolve(rt, "/files/dir/a.txt");
        CHECK(two.route == any);
        CHECK(two.req.param("*") == sv("dir/a.txt"));
        CHECK_FALSE(two.req.param("name"));
    }
}

TEST_CASE("router: the wildcard takes zero, one or many segments", "[router]")
{
    sse::detail::router rt;
    auto& any = rt.at("/static/*");
    auto zero = resolve(rt, "/static");
    CHECK(zero.route == &any);
    CHECK(zero.req.param("*") == sv(""));
    auto empty = resolve(rt, "/static/");
    CHECK(empty.route == &any);
    CHECK(empty.req.param("*") == sv(""));
    auto one = resolve(rt, "/static/app.js");
    CHECK(one.route == &any);
    CHECK(one.req.param("*") == sv("app.js"));
    auto many = resolve(rt, "/static/js/vendor/app%20v2.js");
    CHECK(many.route == &any);
    CHECK(many.req.param("*") == sv("js/vendor/app v2.js"));
    CHECK(resolve(rt, "/staticx").status == 404);

    auto bad = resolve(rt, "/static/js/%ff.js"); // the wildcard's value is checked too
    CHECK(bad.route == nullptr);
    CHECK(bad.status == 400);

    sse::detail::router root;
    auto& all = root.at("/*");
    CHECK(resolve(root, "/").route == &all);
    CHECK(resolve(root, "/a/b").req.param("*") == sv("a/b"));
}

TEST_CASE("router: parameters are percent-decoded once, never normalized", "[router]")
{
    sse::detail::router rt;
    auto& r = rt.at("/rooms/{id}/messages");
    auto slash = resolve(rt, "/rooms/a%2Fb/messages");
    CHECK(slash.route == &r);
    CHECK(slash.req.param("id") == sv("a/b"));
    CHECK(resolve(rt, "/rooms/a%252Fb/messages").req.param("id") == sv("a%2Fb"));
    CHECK(resolve(rt, "/rooms/../messages").req.param("id") == sv(".."));
    CHECK(resolve(rt, "/rooms/./messages").req.param("id") == sv("."));
    CHECK(resolve(rt, "/rooms/%2E%2E/messages").req.param("id") == sv(".."));
    CHECK(resolve(rt, "/rooms/a+b/messages").req.param("id") == sv("a+b"));
    CHECK(resolve(rt, "/rooms/caf%C3%A9/messages").req.param("id") == sv("caf\xC3\xA9"));
    CHECK(resolve(rt, "/rooms/a/b/messages").status == 404); // %2F is a value, a raw '/' a separator
}

TEST_CASE("router: a bad parameter value is 400", "[router]")
{
    sse::detail::router rt;
    rt.at("/rooms/{id}");
    for (const char* target : {"/rooms/%zz", "/rooms/%4", "/rooms/a%", "/rooms/%g0", // malformed escapes
                               "/rooms/%ff", "/rooms/%C3", "/rooms/%C0%AF", "/rooms/%ED%A0%80", // not UTF-8
                               "/rooms/%00", "/rooms/a%00b"}) {                               // NUL
        INFO(target);
        auto l = resolve(rt, target);
        CHECK(l.route == nullptr);
        CHECK(l.status == 400);
        CHECK_FALSE(l.req.param("id"));
    }
}

TEST_CASE("router: a parameter does not match an empty segment", "[router]")
{
    sse::detail::router rt;
    rt.at("/rooms/{id}/x");
    rt.at("/p/{a}");
    CHECK(resolve(rt, "/rooms//x").status == 404);
    CHECK(resolve(rt, "/rooms/x").status == 404);
    CHECK(resolve(rt, "/p/").status == 404);
    CHECK(resolve(rt, "/p").status == 404);
    CHECK(resolve(rt, "/p/a/").status == 404); // a trailing slash is one more (empty) segment
    CHECK(resolve(rt, "/rooms/r/x").route != nullptr);
}

TEST_CASE("router: invalid patterns throw at registration", "[router]")
{
    for (const char* path : {"rooms", "", "*", "{id}", "/a{b}", "/{a}b", "/{}", "/{a}{b}", "/{a-b}", "/{a b}",
                             "/x/*/y", "/*/x", "/a*", "/**", "/a}", "/{a", "/{{a}}", "/{a}/{a}", "/{a}/x/{a}"}) {
        INFO(path);
        sse::detail::router rt;
        CHECK_THROWS_AS(rt.at(path), std::invalid_argument);
    }
    sse::detail::router rt;
    CHECK_NOTHROW(rt.at("/{Room_1}/{b}/*"));
    CHECK_NOTHROW(rt.at("/"));
    CHECK_NOTHROW(rt.at("/a//b"));
}

TEST_CASE("router: patterns of the same shape are ambiguous", "[router]")
{
    sse::detail::router rt;
    rt.at("/rooms/{id}");
    rt.at("/rooms/{id}/{x}");
    rt.at("/files/{a}/*");
    CHECK_THROWS_AS(rt.at("/rooms/{name}"), std::invalid_argument);
    CHECK_THROWS_AS(rt.at("/rooms/{a}/{b}"), std::invalid_argument);
    CHECK_THROWS_AS(rt.at("/files/{b}/*"), std::invalid_argument);
    CHECK_NOTHROW(rt.at("/rooms/{id}/x"));  // a literal where the other has a parameter
    CHECK_NOTHROW(rt.at("/rooms/*"));       // the wildcard where the other has a parameter
    CHECK_NOTHROW(rt.at("/halls/{name}"));  // another literal
    // the failed registrations left nothing behind
    CHECK(resolve(rt, "/rooms/r1").req.param("id") == sv("r1"));
}

TEST_CASE("router: the same pattern string twice is the same route", "[router]")
{
    sse::detail::router rt;
    auto& a = rt.at("/rooms/{id}");
    rt.at("/other/{x}");
    rt.at("/a/*"); // the vector grows: the first route must not move
    auto& b = rt.at("/rooms/{id}");
    CHECK(&a == &b);
    CHECK(&rt.at("/exact") == &rt.at("/exact"));
    CHECK(&rt.at("/a/*") == &rt.at("/a/*"));
    CHECK(resolve(rt, "/rooms/1").route == &a);
}

TEST_CASE("router: an unknown path is 404 and the query is ignored", "[router]")
{
    sse::detail::router rt;
    auto& exact = rt.at("/events");
    auto& room = rt.at("/rooms/{id}");
    auto miss = resolve(rt, "/nope");
    CHECK(miss.route == nullptr);
    CHECK(miss.status == 404);
    CHECK(resolve(rt, "/rooms").status == 404);
    CHECK(resolve(rt, "/rooms/a/b").status == 404);
    CHECK(resolve(rt, "/events?x=%ff").route == &exact);
    auto q = resolve(rt, "/rooms/r%201?id=other&x=/a/b");
    CHECK(q.route == &room);
    CHECK(q.req.param("id") == sv("r 1"));
    CHECK(resolve(rt, "http://example.com/rooms/abs?q=1").req.param("id") == sv("abs"));

    sse::detail::router none;
    CHECK(resolve(none, "/").status == 404);
}

TEST_CASE("router: a route parameter over a real socket", "[router]")
{
    test::server_fixture f;
    f.srv.on_request("/rooms/{id}/messages", [](const sse::request& req) {
        return sse::response(200, std::string(req.param("id").value_or("(none)")));
    });
    f.run();

    {
        client c(f.port());
        c.send("GET /rooms/a%2Fb/messages HTTP/1.1\r\nHost: h\r\n\r\n");
        const std::string head = c.read_head();
        CHECK(client::status(head) == 200);
        CHECK(head.find("Content-Length: 3\r\n") != std::string::npos);
        CHECK(c.read_until("a/b") == "a/b");
    }
    for (const auto& [target, status] : {std::pair<const char*, int>{"/rooms/%ff/messages", 400},
                                         std::pair<const char*, int>{"/rooms/x/other", 404}}) {
        INFO(target);
        client c(f.port());
        c.send("GET " + std::string(target) + " HTTP/1.1\r\nHost: h\r\n\r\n");
        CHECK(client::status(c.read_head()) == status);
        CHECK(c.closed_within(3s));
    }
    CHECK(f.stop_and_join());
}
