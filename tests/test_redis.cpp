// sse::redis_channel against a real redis-server (started per test on a free loopback port):
// two nodes (each a server with its own Redis link) serving real clients over loopback,
// resuming across nodes, Redis killed and restarted, absent, refusing credentials, and a fake
// Redis written here sending bad replies.
#include "support/catch.hpp"
#include "support/redis_server.hpp"
#include "support/server_fixture.hpp"

#include <sse/redis.hpp>

#include <asio/use_future.hpp>

#include <algorithm>
#include <array>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

sse::redis_options on(const test::redis_server& r)
{
    sse::redis_options o;
    o.port = r.port();
    o.backoff_initial = 20ms;
    o.backoff_max = 200ms;
    o.ping_interval = 50ms; // idle subscriber connections PING often
    return o;
}

// A server whose /events route subscribes each stream to a redis_channel "room", on its own
// io_context and Redis link.
struct node {
    explicit node(sse::redis_options o, sse::channel_options c = {}, sse::redis_delivery d = sse::redis_delivery::replayable,
                  std::string name = "room", sse::server_options so = {})
        : f(so), bus(f.io, std::move(o)), room(bus, std::move(name), std::move(c), d)
    {
        f.srv.on_stream("/events", [this](sse::stream_ptr s) { room.subscribe(s); });
        f.run(2);
    }
    ~node() { bus.close(); }

    test::client open(std::string_view last_event_id = {})
    {
        auto c = test::client::get(f.port(), "/events",
                                   last_event_id.empty() ? std::string() : "Last-Event-ID: " + std::string(last_event_id) + "\r\n");
        c.read_head();
        return c;
    }

    /// Once the node follows the log: a client whose stream is in the channel.
    test::client connected()
    {
        REQUIRE(ready());
        const auto before = room.size();
        auto c = open();
        REQUIRE(ready(before + 1));
        return c;
    }

    /// Publishes and waits for Redis's answer; returns the id (throws on error).
    std::string publish(const std::string& data)
    {
        return room.async_publish(sse::event(data), asio::use_future).get();
    }

    /// Waits until the node follows the log and `n` streams are in.
    bool ready(std::size_t n = 0)
    {
        return test::eventually([&] { return bus.stats().connected && room.stats().following && room.size() >= n; });
    }

    test::server_fixture f;
    sse::redis_client bus;
    sse::redis_channel room;
};

// A publish's outcome as a value (an error through use_future would be an exception object
// shared across threads, which ThreadSanitizer cannot follow inside libstdc++).
std::future<std::error_code> outcome(sse::redis_channel& ch, sse::event e)
{
    auto p = std::make_shared<std::promise<std::error_code>>();
    ch.async_publish(std::move(e), [p](std::error_code ec, const std::string&) { p->set_value(ec); });
    return p->get_future();
}

std::vector<std::string> data_of(const std::vector<test::parsed_event>& events)
{
    std::vector<std::string> out;
    for (auto& e : events) out.push_back(e.data);
    return out;
}

} // namespace

TEST_CASE("redis: events published on either node reach both nodes' clients, in one order", "[redis]")
{
    test::redis_server redis;
    node a(on(redis)), b(on(redis));
    auto ca = a.connected();
    auto cb = b.connected();

    std::vector<std::future<std::string>> ids;
    for (int i = 0; i < 40; ++i)
        ids.push_back((i % 2 ? b : a).room.async_publish(sse::event("m" + std::to_string(i)), asio::use_future));
    std::set<std::string> published;
    for (auto& f : ids) published.insert(f.get());

    const auto ea = ca.read_events(40);
    const auto eb = cb.read_events(40);
    CHECK(ea == eb); // the same events, ids and order on both nodes
    std::set<std::string> seen;
    for (auto& e : ea) seen.insert(e.last_event_id);
    CHECK(seen == published);
    const auto texts = data_of(ea);
    std::multiset<std::string> datas(texts.begin(), texts.end());
    for (int i = 0; i < 40; ++i) CHECK(datas.count("m" + std::to_string(i)) == 1);
    CHECK(a.room.stats().delivered == 40);
    CHECK(b.room.stats().published == 20);
}

TEST_CASE("redis: a client resumes on the other node with no gap and no duplicate while publishing goes on", "[redis]")
{
    test::redis_server redis;
    sse::channel_options small;
    small.history_events = 2000;
    small.history_bytes = 64; // node B's own copy holds almost nothing: the rest comes from Redis
    node a(on(redis), small), b(on(redis), small);
    REQUIRE(a.ready());
    REQUIRE(b.ready());
    auto first = a.open();
    REQUIRE(a.ready(1));

    std::atomic<int> sent{0};
    const int total = 600;
    test::worker publisher([&](const std::atomic<bool>& stop) {
        for (int i = 0; i < total && !stop; ++i) {
            (i % 2 ? b : a).room.publish(sse::event(std::to_string(i)));
            ++sent;
            std::this_thread::sleep_for(2ms); // a publish rate (500/s), not a synchronisation
        }
    });
    auto part1 = first.read_events(100, 10s);
    first.close();
    auto second = b.open(part1.back().last_event_id);
    REQUIRE(test::eventually([&] { return sent == total; }, 10s));
    publisher.join();
    INFO("published " << a.room.stats().published << "+" << b.room.stats().published << " failed "
                      << a.room.stats().publish_failed << "+" << b.room.stats().publish_failed << " sent " << sent);
    REQUIRE(test::eventually([&] { return a.room.stats().published + b.room.stats().published == total; }, 10s));
    auto part2 = second.read_events(total - part1.size(), 10s);
    std::vector<std::string> got = data_of(part1);
    for (auto& d : data_of(part2)) got.push_back(d);
    std::vector<std::string> want;
    for (int i = 0; i < total; ++i) want.push_back(std::to_string(i));
    // Publishes from two nodes may interleave in Redis; what matters is each once, in the log's order.
    std::vector<std::string> sorted = got;
    std::sort(sorted.begin(), sorted.end(), [](auto& x, auto& y) { return std::stoi(x) < std::stoi(y); });
    CHECK(sorted == want);
    for (std::size_t i = 1; i < part2.size(); ++i) CHECK(part2[i - 1].last_event_id < part2[i].last_event_id);
    CHECK(b.room.stats().fetches >= 2); // the resume read the log
}

TEST_CASE("redis: a Last-Event-ID the log does not have gets missed_event", "[redis]")
{
    test::redis_server redis;
    sse::channel_options o;
    o.missed_event = "missed";
    o.on_missed = sse::missed_policy::live_only;
    node a(on(redis), o);
    REQUIRE(a.ready());
    a.publish("before");
    for (const char* id : {"ffff:1-0", "12", "garbage id"}) {
        auto c = a.open(id);
        auto e = c.read_events(1);
        CHECK(e[0].type == "missed");
        CHECK(e[0].data == id);
    }
    CHECK(a.room.stats().missed == 3);
}

TEST_CASE("redis: Redis restarted without its data: the node's subscribers are told (missed_event), a new epoch follows", "[redis]")
{
    test::redis_server redis; // no persistence: a restart loses the log
    sse::channel_options o;
    o.missed_event = "missed";
    node a(on(redis), o), b(on(redis), o);
    auto cb = b.connected();
    const auto before = a.publish("old");
    CHECK(cb.read_events(1)[0].data == "old");
    redis.kill9();
    redis.restart();
    REQUIRE(test::eventually([&] { return a.bus.stats().connected && b.bus.stats().connected; }));
    const auto after = a.publish("new");
    CHECK(after.substr(0, after.find(':')) != before.substr(0, before.find(':'))); // another epoch
    const auto e = cb.read_events(2);
    CHECK(e[0].type == "missed");
    CHECK(e[0].data == before); // what the node had
    CHECK(e[1].data == "new");
    CHECK(e[1].last_event_id == after);
    CHECK(b.room.stats().lost == 1);
    // A client resuming from the old epoch is told too, then gets the new log.
    auto late = b.open(before);
    const auto r = late.read_events(2);
    CHECK(r[0].type == "missed");
    CHECK(r[1].data == "new");
}

TEST_CASE("redis: a Last-Event-ID older than the trimmed log gets missed_event, then what the log holds", "[redis]")
{
    test::redis_server redis;
    sse::channel_options o;
    o.missed_event = "missed";
    o.history_events = 10; // the stream keeps about 10 (Redis trims whole nodes: at most ~100 more)
    node a(on(redis), o), b(on(redis), o);
    REQUIRE(a.ready());
    REQUIRE(b.ready());
    const auto first = a.publish("0");
    for (int i = 1; i < 400; ++i) a.publish(std::to_string(i));
    auto c = b.open(first);
    auto e = c.read_events(2);
    CHECK(e[0].type == "missed");
    CHECK(e[0].data == first);
    CHECK(std::stoi(e[1].data) > 1);
    const int from = std::stoi(e[1].data);
    auto rest = c.read_events(static_cast<std::size_t>(399 - from), 10s);
    CHECK(rest.back().data == "399");
    CHECK(b.room.stats().missed == 1);
}

TEST_CASE("redis: Redis killed and restarted, streams stay open, publishes wait and go out, nothing acknowledged is lost", "[redis]")
{
    test::redis_server redis({}, true);
    sse::server_options so;
    so.heartbeat = 100ms;
    node a(on(redis), {}, sse::redis_delivery::replayable, "room", so), b(on(redis), {}, sse::redis_delivery::replayable, "room", so);
    auto ca = a.connected();
    auto cb = b.connected();
    a.publish("0");
    b.publish("1");
    auto ea = ca.read_events(2);
    auto eb = cb.read_events(2);

    redis.kill9();
    // Both connections of each node have seen it go (a command sent before then fails).
    REQUIRE(test::eventually([&] { return a.bus.stats().disconnects >= 2 && b.bus.stats().disconnects >= 2; }));
    // While Redis is away, publishes wait in the outbox.
    std::vector<std::future<std::error_code>> waiting;
    for (int i = 2; i < 12; ++i) waiting.push_back(outcome((i % 2 ? b : a).room, sse::event(std::to_string(i))));
    CHECK(ca.read_until(":\n", 2s).size() > 0); // heartbeats keep flowing
    redis.restart();
    for (auto& w : waiting) CHECK(w.get() == std::error_code());
    for (auto& e : ca.read_events(10, 10s)) ea.push_back(e);
    for (auto& e : cb.read_events(10, 10s)) eb.push_back(e);
    CHECK(ea == eb);
    std::set<std::string> d;
    for (auto& e : ea) d.insert(e.data);
    CHECK(d.size() == 12);
}

TEST_CASE("redis: publishes fail visibly while Redis is away: outbox overflow and expiry are counted", "[redis]")
{
    test::redis_server redis;
    auto o = on(redis);
    o.outbox_bytes = 4096;
    o.outbox_wait = 200ms;
    node a(o);
    REQUIRE(a.ready());
    redis.stop();
    // Both connections have seen it go: a publish now waits in the outbox (not in flight).
    REQUIRE(test::eventually([&] { return a.bus.stats().disconnects >= 2; }));
    auto big = outcome(a.room, sse::event(std::string(8000, 'x')));
    auto late = outcome(a.room, sse::event("waits"));
    CHECK(big.get() == sse::error::queue_overflow);
    CHECK(late.get() == sse::error::redis_unreachable);
    CHECK(a.room.stats().publish_failed == 2);
    CHECK(a.bus.stats().outbox_overflows == 1);
    CHECK(a.bus.stats().outbox_expired == 1);
    CHECK(a.bus.stats().outbox_bytes == 0);
}

TEST_CASE("redis: absent at start, reported and retried with backoff, then connected", "[redis]")
{
    test::redis_server redis;
    redis.stop();
    std::mutex m;
    std::vector<std::pair<bool, std::error_code>> states;
    auto o = on(redis);
    o.on_state = [&](bool up, std::error_code ec) {
        std::lock_guard<std::mutex> l(m);
        states.emplace_back(up, ec);
    };
    node a(o);
    REQUIRE(test::eventually([&] { return a.bus.stats().connect_failures >= 4; }));
    CHECK(a.bus.stats().last_error == make_error_code(asio::error::connection_refused));
    redis.restart();
    REQUIRE(a.ready());
    std::lock_guard<std::mutex> l(m);
    CHECK_FALSE(states.front().first);
    CHECK(states.back().first);
}

TEST_CASE("redis: AUTH with a password, with an ACL user, and a wrong password (clear error, no retry storm)", "[redis]")
{
    test::redis_server redis({"--requirepass", "s3cret", "--user", "alice", "on", ">wonder", "~*", "&*", "+@all"});
    auto good = on(redis);
    good.password = "s3cret";
    node a(good);
    REQUIRE(a.ready());
    auto acl = on(redis);
    acl.user = "alice";
    acl.password = "wonder";
    node b(acl);
    REQUIRE(b.ready());
    auto cb = b.open();
    REQUIRE(b.ready(1));
    a.publish("hi");
    CHECK(cb.read_events(1)[0].data == "hi");
    // Reconnecting (with AUTH again, twice) leaves both links whole: pings, the feed, publishes.
    for (int i = 0; i < 2; ++i) {
        redis.kill9();
        REQUIRE(test::eventually([&] { return !a.bus.stats().connected && !b.bus.stats().connected; }));
        redis.restart();
        REQUIRE(test::eventually([&] { return a.bus.stats().connected && b.bus.stats().connected; }));
    }
    REQUIRE(test::eventually([&] { return b.bus.stats().commands > 10; })); // PINGs answered
    a.publish("again");
    CHECK(cb.read_events(1)[0].data == "again");
    CHECK(a.bus.stats().outbox_overflows == 0);
    CHECK(b.bus.stats().outbox_overflows == 0);

    auto bad = on(redis);
    bad.password = "wrong";
    bad.backoff_max = 300ms;
    const auto start = std::chrono::steady_clock::now();
    node c(bad);
    REQUIRE(test::eventually([&] { return c.bus.stats().connect_failures >= 4; })); // two connections, twice
    CHECK(c.bus.stats().last_error == sse::error::redis_auth_failed);
    // Refused credentials wait backoff_max before each new try.
    CHECK(std::chrono::steady_clock::now() - start >= 300ms);
    CHECK(c.bus.stats().connect_failures <= 8);
}

TEST_CASE("redis: a fake Redis sending malformed or huge replies: the link closes the connection and makes it again", "[redis]")
{
    for (const std::string& reply : {std::string("this is not RESP\r\n"), "$99999999999\r\n" + std::string(300000, 'x'),
                                    std::string("*2147483647\r\n"), std::string(":1\r\n:2\r\n:3\r\n")}) {
        asio::io_context fake;
        asio::ip::tcp::acceptor acc(fake, {asio::ip::make_address("127.0.0.1"), 0});
        std::atomic<int> accepted{0};
        std::function<void()> serve = [&] {
            auto sock = std::make_shared<asio::ip::tcp::socket>(fake);
            acc.async_accept(*sock, [&, sock](std::error_code ec) {
                if (ec) return;
                ++accepted;
                auto buf = std::make_shared<std::array<char, 4096>>();
                sock->async_read_some(asio::buffer(*buf), [sock, buf, &reply](std::error_code e, std::size_t) {
                    if (!e) asio::async_write(*sock, asio::buffer(reply), [sock](std::error_code, std::size_t) {});
                });
                serve();
            });
        };
        serve();
        std::thread t([&] { fake.run_for(20s); });
        sse::redis_options o;
        o.port = acc.local_endpoint().port();
        o.backoff_initial = 10ms;
        o.backoff_max = 20ms;
        o.max_reply_bytes = 64 * 1024;
        {
            node a(o);
            // A publish makes the command connection talk; each bad reply ends that connection.
            a.room.publish(sse::event("x"));
            REQUIRE(test::eventually([&] { return a.bus.stats().protocol_errors + a.bus.stats().command_errors >= 1 &&
                                                  accepted >= 3; }, 10s));
            CHECK(a.bus.stats().protocol_errors >= 1);
        }
        fake.stop();
        t.join();
    }
}

TEST_CASE("redis: channel names with CR, LF, spaces, braces and stars are their own channels", "[redis]")
{
    test::redis_server redis;
    const std::string weird = "a b\r\n{x}*";
    node a(on(redis), {}, sse::redis_delivery::replayable, weird), b(on(redis), {}, sse::redis_delivery::replayable, weird),
        star(on(redis), {}, sse::redis_delivery::replayable, "*");
    REQUIRE(a.ready());
    REQUIRE(b.ready());
    REQUIRE(star.ready());
    auto cb = b.open();
    auto cs = star.open();
    REQUIRE(b.ready(1));
    REQUIRE(star.ready(1));
    a.publish("to the weird one");
    star.publish("to the star");
    CHECK(cb.read_events(1)[0].data == "to the weird one");
    CHECK(cs.read_events(1)[0].data == "to the star");
    CHECK(b.room.stats().delivered == 1);
    CHECK(star.room.stats().delivered == 1);
}

TEST_CASE("redis: live_only channels carry events between nodes without ids", "[redis]")
{
    test::redis_server redis;
    node a(on(redis), {}, sse::redis_delivery::live_only), b(on(redis), {}, sse::redis_delivery::live_only);
    REQUIRE(test::eventually([&] { return a.bus.stats().connected && b.bus.stats().connected; }));
    auto cb = b.open();
    REQUIRE(test::eventually([&] { return b.room.size() == 1; }));
    // The feed's subscription may lag the link's coming up: publish until one arrives.
    std::string id;
    REQUIRE(test::eventually([&] {
        id = a.publish("live");
        return b.room.stats().delivered > 0;
    }));
    CHECK(id.empty());
    const auto e = cb.read_events(1);
    CHECK(e[0].data == "live");
    CHECK(e[0].last_event_id.empty());
}

TEST_CASE("redis: a filtered publish reaches only this node's chosen subscribers", "[redis]")
{
    test::redis_server redis;
    node a(on(redis)), b(on(redis));
    auto ca = a.connected();
    auto cb = b.connected();
    a.room.publish(sse::event("local").id("7"), [](const sse::stream&) { return true; });
    a.publish("everywhere");
    const auto ea = ca.read_events(2);
    CHECK(ea[0].data == "local");
    CHECK(ea[0].last_event_id.empty());
    CHECK(ea[1].data == "everywhere");
    CHECK(cb.read_events(1)[0].data == "everywhere");
}

TEST_CASE("redis: close() lets run() return, with a publish and a client's replay waiting for Redis", "[redis]")
{
    test::redis_server redis;
    asio::io_context io; // no work guard: run() returns once nothing is left
    sse::server srv(io);
    sse::redis_client bus(io, on(redis));
    sse::redis_channel room(bus, "room");
    srv.on_stream("/events", [room](sse::stream_ptr s) mutable { room.subscribe(s); });
    srv.listen("127.0.0.1", 0);
    srv.start();
    auto ran = std::async(std::launch::async, [&] { io.run(); });
    REQUIRE(test::eventually([&] { return room.stats().following; }));
    redis.stop();
    REQUIRE(test::eventually([&] { return bus.stats().disconnects >= 2; }));
    auto pending = outcome(room, sse::event("waits"));
    auto c = test::client::get(srv.local_endpoint().port(), "/events", "Last-Event-ID: 00ff:1-0\r\n");
    c.read_head();
    REQUIRE(test::eventually([&] { return room.stats().fetches >= 2; })); // its replay waits in the outbox
    bus.close();
    srv.stop();
    CHECK(pending.get() == sse::error::shutting_down);
    const bool returned = ran.wait_for(5s) == std::future_status::ready;
    if (!returned) io.stop(); // so that the test ends
    CHECK(returned);
    CHECK(room.size() == 0);
}
