// sse::channel over real loopback sockets: fan-out order, replay, history policy, slow clients.
#include "support/catch.hpp"
#include "support/client.hpp"
#include "support/server_fixture.hpp"

#include <sse/channel.hpp>

#include <atomic>
#include <future>
#include <sys/socket.h>

using namespace std::chrono_literals;
using test::client;

namespace {
// A route that subscribes every stream to `ch` (replaying from Last-Event-ID), and counts.
void subscribe_route(test::server_fixture& f, sse::channel ch, std::atomic<int>& subscribed)
{
    f.srv.on_stream("/events", [ch, &subscribed](sse::stream_ptr s) mutable {
        ch.subscribe(s);
        ++subscribed;
    });
}

// Opens a stream and waits until the server has subscribed it.
client connect(test::server_fixture& f, std::atomic<int>& subscribed, std::string_view extra = {})
{
    const int before = subscribed;
    auto c = client::get(f.port(), "/events", extra);
    REQUIRE(client::status(c.read_head()) == 200);
    // The handler ran before the head was written, so the subscription is already in place.
    CHECK(subscribed > before);
    return c;
}
} // namespace

TEST_CASE("channel: concurrent publishers on a 2-thread io_context keep one order for all", "[channel]")
{
    std::atomic<int> subscribed{0};
    sse::channel ch;
    test::server_fixture f;
    subscribe_route(f, ch, subscribed);
    f.run(2);
    std::vector<client> clients;
    for (int i = 0; i < 4; ++i) clients.push_back(connect(f, subscribed));

    constexpr int per_thread = 250, threads = 4;
    std::vector<std::thread> pubs;
    for (int t = 0; t < threads; ++t)
        pubs.emplace_back([&ch, t] {
            for (int i = 0; i < per_thread; ++i) ch.publish(sse::event("t" + std::to_string(t) + "-" + std::to_string(i)));
        });
    for (auto& p : pubs) p.join();

    std::vector<test::parsed_event> first;
    for (auto& c : clients) {
        auto evs = c.read_events(per_thread * threads, 10s);
        // ids are 1..1000 in order; each publisher's events are in its own order
        std::vector<int> next(threads, 0);
        for (std::size_t i = 0; i < evs.size(); ++i) {
            REQUIRE(evs[i].last_event_id == std::to_string(i + 1));
            const auto dash = evs[i].data.find('-');
            const int t = std::stoi(evs[i].data.substr(1, dash - 1));
            REQUIRE(std::stoi(evs[i].data.substr(dash + 1)) == next[static_cast<std::size_t>(t)]++);
        }
        if (first.empty())
            first = evs;
        else
            CHECK(evs == first); // every subscriber saw the same sequence
    }
    CHECK(ch.stats().published == per_thread * threads);
    CHECK(f.srv.stats().events_sent == 4u * per_thread * threads);
}

TEST_CASE("channel: a reconnect with Last-Event-ID resumes with no gap and no duplicate while publishing",
          "[channel][replay]")
{
    std::atomic<int> subscribed{0};
    sse::channel_options co;
    co.history_events = 100000;
    co.history_bytes = 64 << 20;
    sse::channel ch(co);
    sse::server_options o;
    o.max_queue_bytes = 64 << 20; // the publisher is unthrottled: no client here is "slow"
    test::server_fixture f(o);
    subscribe_route(f, ch, subscribed);
    f.run(2);

    std::atomic<int> published{0};
    test::worker publisher([&](const std::atomic<bool>& stop) {
        while (!stop && published < 100000) { // bounded: at most ~2.5 MB of events
            ch.publish(sse::event("payload " + std::to_string(published + 1)));
            ++published;
            if (published % 64 == 0) std::this_thread::yield();
        }
    });

    std::vector<std::string> seen;
    std::string last;
    for (int round = 0; round < 20; ++round) {
        auto c = connect(f, subscribed, last.empty() ? "" : "Last-Event-ID: " + last + "\r\n");
        auto evs = c.read_events(50, 10s);
        for (auto& e : evs) seen.push_back(e.last_event_id);
        last = seen.back();
        if (round % 2) c.reset(); // half the disconnects are resets, half are FINs
    }
    REQUIRE(seen.size() == 20 * 50);
    // First connection started from whatever was live; from then on every id is the next one.
    const long first = std::stol(seen.front());
    for (std::size_t i = 0; i < seen.size(); ++i) REQUIRE(std::stol(seen[i]) == first + static_cast<long>(i));
    CHECK(ch.stats().replayed > 0);
    CHECK(f.srv.stats().replayed_events == ch.stats().replayed);
}

TEST_CASE("channel: Last-Event-ID from the query string", "[channel][replay]")
{
    std::atomic<int> subscribed{0};
    sse::channel ch;
    test::server_fixture f;
    subscribe_route(f, ch, subscribed);
    f.run();
    for (int i = 1; i <= 5; ++i) ch.publish(sse::event(std::to_string(i)));
    auto c = client::get(f.port(), "/events?lastEventId=3");
    REQUIRE(client::status(c.read_head()) == 200);
    auto evs = c.read_events(2);
    CHECK(evs[0].data == "4");
    CHECK(evs[1].data == "5");
}

TEST_CASE("channel: an id that fell out of history follows the missed policy", "[channel][replay]")
{
    std::atomic<int> subscribed{0};
    sse::channel_options co;
    co.history_events = 5;
    co.missed_event = "missed";
    SECTION("send_history: a notice, then everything kept")
    {
        sse::channel ch(co);
        test::server_fixture f;
        subscribe_route(f, ch, subscribed);
        f.run();
        for (int i = 1; i <= 20; ++i) ch.publish(sse::event(std::to_string(i)));
        auto c = connect(f, subscribed, "Last-Event-ID: 2\r\n");
        auto evs = c.read_events(6);
        CHECK(evs[0].type == "missed");
        CHECK(evs[0].data == "2");
        for (int i = 0; i < 5; ++i) CHECK(evs[static_cast<std::size_t>(i) + 1].data == std::to_string(16 + i));
        ch.publish(sse::event("live"));
        CHECK(c.read_events(1)[0].data == "live");
        CHECK(ch.stats().missed == 1);
        CHECK(ch.stats().replayed == 5);
    }
    SECTION("live_only: a notice, then live events only")
    {
        co.on_missed = sse::missed_policy::live_only;
        sse::channel ch(co);
        test::server_fixture f;
        subscribe_route(f, ch, subscribed);
        f.run();
        for (int i = 1; i <= 20; ++i) ch.publish(sse::event(std::to_string(i)));
        auto c = connect(f, subscribed, "Last-Event-ID: 999\r\n"); // unknown (e.g. before a restart)
        ch.publish(sse::event("live"));
        auto evs = c.read_events(2);
        CHECK(evs[0].type == "missed");
        CHECK(evs[1].data == "live");
    }
    SECTION("an up-to-date client gets no replay and no notice")
    {
        sse::channel ch(co);
        test::server_fixture f;
        subscribe_route(f, ch, subscribed);
        f.run();
        for (int i = 1; i <= 20; ++i) ch.publish(sse::event(std::to_string(i)));
        auto c = connect(f, subscribed, "Last-Event-ID: 20\r\n");
        ch.publish(sse::event("live"));
        CHECK(c.read_events(1)[0].data == "live");
        CHECK(ch.stats().missed == 0);
    }
}

TEST_CASE("channel: publisher ids are kept and resumable", "[channel][replay]")
{
    std::atomic<int> subscribed{0};
    sse::channel_options co;
    co.assign_ids = false;
    sse::channel ch(co);
    test::server_fixture f;
    subscribe_route(f, ch, subscribed);
    f.run();
    for (const char* id : {"a", "b", "c"}) CHECK(ch.publish(sse::event(std::string("x") + id).id(id)) == id);
    auto c = connect(f, subscribed, "Last-Event-ID: a\r\n");
    auto evs = c.read_events(2);
    CHECK(evs[0].last_event_id == "b");
    CHECK(evs[1].last_event_id == "c");
}

TEST_CASE("channel: history is bounded by count, bytes and age", "[channel]")
{
    sse::channel_options co;
    co.history_events = 10;
    co.history_bytes = 100;
    sse::channel ch(co);
    for (int i = 0; i < 50; ++i) ch.publish(sse::event("0123456789"));
    CHECK(ch.stats().history_bytes <= 100);
    CHECK(ch.stats().history_events <= 10);
    sse::channel_options aged;
    aged.history_age = 1ms;
    sse::channel old(aged);
    old.publish(sse::event("a"));
    std::this_thread::sleep_for(5ms); // the bound under test is time itself
    old.publish(sse::event("b"));
    CHECK(old.stats().history_events == 1);
}

TEST_CASE("channel: a filter selects subscribers by their user value", "[channel]")
{
    std::atomic<int> subscribed{0};
    sse::channel ch;
    test::server_fixture f;
    f.srv.on_stream("/events", [ch, &subscribed](sse::stream_ptr s) mutable {
        s->user() = std::string(s->request().query_param("user").value_or(""));
        ch.subscribe(s);
        ++subscribed;
    });
    f.run();
    auto alice = client::get(f.port(), "/events?user=alice");
    auto bob = client::get(f.port(), "/events?user=bob");
    alice.read_head();
    bob.read_head();
    auto to = [](const std::string& who) {
        return [who](const sse::stream& s) { return std::any_cast<std::string>(s.user()) == who; };
    };
    ch.publish(sse::event("for alice"), to("alice"));
    ch.publish(sse::event("for bob"), to("bob"));
    ch.publish(sse::event("for all"));
    auto a = alice.read_events(2);
    auto b = bob.read_events(2);
    CHECK(a[0].data == "for alice");
    CHECK(a[1].data == "for all");
    CHECK(b[0].data == "for bob");
    CHECK(b[1].data == "for all");
}

TEST_CASE("channel: a stream leaves its channels when it closes", "[channel]")
{
    std::atomic<int> subscribed{0};
    sse::channel a, b;
    test::signal closed;
    test::server_fixture f;
    f.srv.on_stream("/events", [&](sse::stream_ptr s) {
        a.subscribe(s);
        b.subscribe(s);
        a.subscribe(s); // twice is once
        s->on_close([&](std::error_code) { closed.set(); });
        ++subscribed;
    });
    f.run();
    {
        auto c = client::get(f.port(), "/events");
        c.read_head();
        CHECK(a.size() == 1);
        CHECK(b.size() == 1);
    }
    REQUIRE(closed.wait());
    CHECK(a.size() == 0);
    CHECK(b.size() == 0);
}

TEST_CASE("channel: a slow client is disconnected at its bound while fast clients get everything",
          "[channel][slow]")
{
    std::atomic<int> subscribed{0};
    sse::server_options o;
    o.max_queue_bytes = 64 * 1024;
    sse::channel ch;
    test::signal slow_closed;
    std::error_code slow_reason;
    test::server_fixture f(o);
    f.srv.on_stream("/events", [&, ch](sse::stream_ptr s) mutable {
        ch.subscribe(s);
        if (s->request().query_param("slow")) {
            s->on_close([&](std::error_code ec) {
                slow_reason = ec;
                slow_closed.set();
            });
        }
        ++subscribed;
    });
    f.run(2);
    client slow(f.port());
    int small = 4096;
    ::setsockopt(slow.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    slow.send("GET /events?slow=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    REQUIRE(client::status(slow.read_head()) == 200); // then it reads nothing more
    auto fast = connect(f, subscribed);

    // 20 MB: far beyond the slow client's socket buffers and its 64 KiB bound. The publisher
    // stays at most `window` events ahead of what the fast client has parsed, so the fast
    // stream's queue holds at most about 2 * window events (a written batch whose completion
    // has not run yet, plus new ones): well within the bound. The publisher's wait ends when
    // the reader fails (its reads time out after 30 s).
    const std::string payload(1000, 'x');
    constexpr int total = 20000, window = 16;
    // The reader records what went wrong instead of asserting: Catch assertions belong to the
    // test's thread, and a throw here would end the process instead of failing the test.
    std::atomic<int> received{0};
    std::atomic<bool> failed{false};
    std::string problem;
    std::thread reader([&] {
        try {
            for (int i = 1; i <= total; ++i) {
                auto e = fast.read_events(1, 30s)[0];
                if (e.last_event_id != std::to_string(i)) {
                    problem = "event " + std::to_string(i) + " arrived with id " + e.last_event_id;
                    break;
                }
                received = i;
            }
        } catch (const std::exception& e) {
            problem = e.what();
        }
        if (!problem.empty()) failed = true;
    });
    for (int i = 0; i < total && !failed; ++i) {
        while (i - received.load() > window && !failed) std::this_thread::yield();
        ch.publish(sse::event(payload));
    }
    reader.join();
    INFO(problem);
    REQUIRE(received == total);
    REQUIRE(slow_closed.wait(10s));
    CHECK(slow_reason == sse::error::queue_overflow);
    CHECK(f.srv.stats().slow_disconnects == 1);
    CHECK(ch.size() == 1);
}

TEST_CASE("channel: drop_oldest keeps a slow client's queue within its bound and counts drops",
          "[channel][slow]")
{
    sse::server_options o;
    o.max_queue_bytes = 32 * 1024;
    o.overflow = sse::overflow_policy::drop_oldest;
    sse::channel ch;
    test::stream_inbox slow_stream;
    test::server_fixture f(o);
    f.srv.on_stream("/events", slow_stream.handler([&, ch](const sse::stream_ptr& s) mutable { ch.subscribe(s); }));
    f.run();
    auto slow = client::get(f.port(), "/events"); // reads nothing until the end
    auto s = slow_stream.next();
    const std::string payload(1000, 'y');
    std::size_t peak = 0;
    for (int i = 0; i < 20000; ++i) { // 20 MB: beyond any socket buffer
        ch.publish(sse::event(payload));
        peak = std::max(peak, s->queued_bytes());
    }
    CHECK(peak <= o.max_queue_bytes + 2 * 1024); // the bound, plus the one event being added
    CHECK(f.srv.stats().events_dropped > 0);
    CHECK(s->is_open());
    // What the client does get is in order: ids only increase.
    ch.publish(sse::event("last"));
    long prev = 0;
    for (;;) {
        auto e = slow.read_events(1, 10s)[0];
        if (e.last_event_id.empty()) continue;
        const long id = std::stol(e.last_event_id);
        REQUIRE(id > prev);
        prev = id;
        if (e.data == "last") break;
    }
}

TEST_CASE("channel: a replay larger than the queue bound does not count as a slow client", "[channel][replay]")
{
    std::atomic<int> subscribed{0};
    sse::server_options o;
    o.max_queue_bytes = 16 * 1024;
    sse::channel_options co;
    co.history_events = 2000;
    co.history_bytes = 4 << 20;
    sse::channel ch(co);
    test::server_fixture f(o);
    subscribe_route(f, ch, subscribed);
    f.run();
    const std::string payload(1000, 'r');
    for (int i = 0; i < 1000; ++i) ch.publish(sse::event(payload)); // ~1 MB of history
    auto c = connect(f, subscribed, "Last-Event-ID: 1\r\n");
    ch.publish(sse::event("live")); // queued behind the replay, within the bound
    auto evs = c.read_events(1000, 10s);
    CHECK(evs.front().last_event_id == "2");
    CHECK(evs[998].last_event_id == "1000");
    CHECK(evs.back().data == "live");
    CHECK(f.srv.stats().slow_disconnects == 0);
    CHECK(f.srv.stats().replayed_events == 999);
}

TEST_CASE("channel: stop() ends a server whose clients came and went during publishing", "[channel][stop]")
{
    std::atomic<int> subscribed{0};
    sse::channel ch;
    sse::server_options o;
    o.overflow = sse::overflow_policy::drop_oldest; // a client not being read now keeps the newest events
    test::server_fixture f(o);
    subscribe_route(f, ch, subscribed);
    f.run(2);
    test::worker publisher([&](const std::atomic<bool>& stop) {
        const auto until = std::chrono::steady_clock::now() + 60s; // until the last client has read
        for (int i = 0; !stop && std::chrono::steady_clock::now() < until; ++i) {
            ch.publish(sse::event("tick"));
            if (i % 32 == 0) std::this_thread::yield();
        }
    });
    for (int round = 0; round < 5; ++round) {
        std::vector<client> clients;
        for (int i = 0; i < 20; ++i) clients.push_back(connect(f, subscribed));
        for (auto& c : clients) c.read_events(10);
        for (std::size_t i = 0; i < clients.size(); ++i)
            if (i % 2) clients[i].reset();
    }
    auto live = connect(f, subscribed);
    live.read_events(10);
    publisher.join();
    CHECK(f.stop_and_join(std::chrono::seconds(10)));
    CHECK(live.closed_within(5s));
}
