// sse::stream over real loopback sockets: timers, sends, completion tokens, close detection.
#include "support/catch.hpp"
#include "support/client.hpp"
#include "support/server_fixture.hpp"

#include <asio/use_future.hpp>

#include <atomic>
#include <fstream>
#include <future>

#include <sys/socket.h>

using namespace std::chrono_literals;
using test::client;

TEST_CASE("stream: every() pushes arrive in order", "[stream]")
{
    test::server_fixture f;
    f.srv.on_stream("/events", [](sse::stream_ptr s) {
        auto n = std::make_shared<int>(0);
        s->every(20ms, [s, n] {
            ++*n;
            s->send(sse::event("This is message number " + std::to_string(*n)).id(std::to_string(*n)).type("myCustomEvent"));
        });
    });
    f.run();
    auto c = client::get(f.port(), "/events");
    REQUIRE(client::status(c.read_head()) == 200);
    auto evs = c.read_events(5);
    for (int i = 0; i < 5; ++i) {
        CHECK(evs[static_cast<std::size_t>(i)].type == "myCustomEvent");
        CHECK(evs[static_cast<std::size_t>(i)].data == "This is message number " + std::to_string(i + 1));
        CHECK(evs[static_cast<std::size_t>(i)].last_event_id == std::to_string(i + 1));
    }
}

TEST_CASE("stream: after() fires once", "[stream]")
{
    test::server_fixture f;
    f.srv.on_stream("/events", [](sse::stream_ptr s) {
        s->after(10ms, [s] { s->send(sse::event("once")); });
        s->after(60ms, [s] { s->send(sse::event("then")); });
    });
    f.run();
    auto c = client::get(f.port(), "/events");
    c.read_head();
    auto evs = c.read_events(2);
    CHECK(evs[0].data == "once");
    CHECK(evs[1].data == "then");
}

TEST_CASE("stream: a client that disconnects stops its timers and runs on_close once and frees the stream",
          "[stream]")
{
    std::atomic<int> ticks{0}, closes{0};
    std::weak_ptr<sse::stream> weak;
    test::signal closed;
    std::error_code reason;
    test::server_fixture f;
    f.srv.on_stream("/events", [&](sse::stream_ptr s) {
        weak = s;
        s->every(5ms, [&ticks, s] { // holding the stream, the usual way to write it
            ++ticks;
            s->send(sse::event("tick"));
        });
        s->after(1h, [s] { s->send(sse::event("never")); });
        s->on_close([&](std::error_code ec) {
            reason = ec;
            ++closes;
            closed.set();
        });
    });
    f.run();
    {
        auto c = client::get(f.port(), "/events");
        c.read_head();
        c.read_events(3);
    } // the client goes away
    REQUIRE(closed.wait());
    CHECK(closes == 1);
    CHECK(reason); // eof or reset: a peer close
    // Nothing still holds the stream: no timer, read or write is pending.
    asio::post(f.io, [] {});
    for (int i = 0; i < 500 && !weak.expired(); ++i) std::this_thread::sleep_for(2ms); // handlers drain
    CHECK(weak.expired());
    const int after = ticks;
    std::promise<void> p;
    asio::steady_timer t(f.io, 50ms);
    t.async_wait([&](std::error_code) { p.set_value(); });
    p.get_future().wait();
    CHECK(ticks == after);
    CHECK(f.srv.stats().streams_open == 0);
    CHECK(f.srv.stats().connections_open == 0);
}

TEST_CASE("stream: an io_context destroyed under an open stream frees it, timers and all", "[stream]")
{
    std::weak_ptr<sse::stream> weak;
    {
        test::server_fixture f;
        f.srv.on_stream("/events", [&](sse::stream_ptr s) {
            weak = s;
            s->every(5ms, [s] { s->send(sse::event("tick")); });
            s->after(1h, [s] {});
        });
        f.run();
        auto c = client::get(f.port(), "/events");
        c.read_head();
        c.read_events(2);
        f.io.stop(); // no graceful stop: the stream is open when the context goes
        for (auto& t : f.pool) t.join();
        f.pool.clear();
        CHECK_FALSE(weak.expired());
    }
    CHECK(weak.expired());
}

TEST_CASE("stream: close() flushes what is queued then ends the response", "[stream]")
{
    std::promise<bool> late_sent; // asserted on the test thread: Catch is not thread-safe
    test::server_fixture f;
    f.srv.on_stream("/events", [&](sse::stream_ptr s) {
        for (int i = 0; i < 3; ++i) s->send(sse::event(std::to_string(i)));
        s->close();
        late_sent.set_value(s->send(sse::event("late"))); // a reported no-op
    });
    f.run();
    auto c = client::get(f.port(), "/events");
    c.read_head();
    CHECK(c.read_to_close() == "data: 0\n\ndata: 1\n\ndata: 2\n\n");
    CHECK_FALSE(late_sent.get_future().get());
}

TEST_CASE("stream: sending on a closed stream is a reported no-op", "[stream]")
{
    test::one_stream t;
    auto& f = t.f;
    auto& s = t.s;
    test::signal closed;
    s->on_close([&](std::error_code) { closed.set(); });
    t.c.close();
    REQUIRE(closed.wait());
    CHECK_FALSE(s->is_open());
    CHECK_FALSE(s->send(sse::event("x")));
    CHECK_FALSE(s->send_comment("x"));
    // use_future with a function: the future holds the error code (no exception crosses threads)
    auto fut = s->async_send(sse::event("x"), asio::use_future([](std::error_code ec) { return ec; }));
    REQUIRE(fut.wait_for(5s) == std::future_status::ready);
    CHECK(fut.get() == sse::error::stream_closed);
    s->close(); // idempotent
    // A timer on a closed stream never starts: nothing fires within 50 intervals.
    std::atomic<bool> fired{false};
    s->every(1ms, [&] { fired = true; });
    std::promise<void> waited;
    asio::steady_timer timer(f.io, 50ms);
    timer.async_wait([&](std::error_code) { waited.set_value(); });
    REQUIRE(waited.get_future().wait_for(5s) == std::future_status::ready);
    CHECK_FALSE(fired);
    CHECK(f.srv.stats().handler_errors == 0);
}

TEST_CASE("stream: async_send completes after the write with callbacks and futures", "[stream]")
{
    test::one_stream t;
    auto& c = t.c;
    auto& s = t.s;

    std::promise<std::error_code> cb;
    s->async_send(sse::event("one").id("1"), [&](std::error_code ec) { cb.set_value(ec); });
    auto done = cb.get_future();
    REQUIRE(done.wait_for(5s) == std::future_status::ready);
    CHECK_FALSE(done.get());
    auto fut = s->async_send(sse::event("two").id("2"), asio::use_future);
    REQUIRE(fut.wait_for(5s) == std::future_status::ready);
    CHECK_NOTHROW(fut.get());
    auto evs = c.read_events(2);
    CHECK(evs[0].data == "one");
    CHECK(evs[1].data == "two");
    CHECK(s->last_event_id() == "2");
}

TEST_CASE("stream: drop_oldest fails only the async_sends it drops, not the one being written", "[stream]")
{
    sse::server_options o;
    o.overflow = sse::overflow_policy::drop_oldest;
    o.max_queue_bytes = 16 * 1024;
    test::one_stream t(o);
    auto& f = t.f;
    auto& c = t.c;
    auto& s = t.s;

    // 32 MiB, more than loopback socket buffers hold (a few MiB): its write stays in flight
    // until the client reads it.
    auto big = s->async_send(sse::event(std::string(32 << 20, 'b')).id("big"), asio::use_future(
                                 [](std::error_code ec) { return ec; }));
    c.read_until("data: bbbb"); // the big write has started
    std::promise<std::error_code> small_done;
    s->async_send(sse::event("dropped").id("small"), [&](std::error_code ec) { small_done.set_value(ec); });
    for (int i = 0; i < 8; ++i) s->send(sse::event(std::string(4096, 'x')).id("filler")); // over the bound
    s->send(sse::event("end").id("end"));
    auto small_ec = small_done.get_future();
    REQUIRE(small_ec.wait_for(5s) == std::future_status::ready);
    CHECK(small_ec.get() == sse::error::queue_overflow);
    CHECK(f.srv.stats().events_dropped > 0);

    std::string last;
    for (;;) { // the rest of the big event, then what survived the drops, ending with "end"
        auto e = c.read_events(1, 30s)[0];
        last = e.last_event_id;
        if (e.data == "end") break;
    }
    CHECK(last == "end");
    REQUIRE(big.wait_for(5s) == std::future_status::ready);
    CHECK(big.get() == std::error_code()); // written, though later events were dropped
}

TEST_CASE("stream: events larger than the socket buffers arrive whole and in order between small ones",
          "[stream]")
{
    sse::server_options o;
    o.max_queue_bytes = 64 << 20;
    test::one_stream t(o);
    auto& f = t.f;
    auto& c = t.c;
    auto& s = t.s;

    // Each big event is more than loopback socket buffers hold: the socket takes part of it at
    // once, the rest is written as the client reads; the small ones queue up behind it.
    std::vector<std::string> sent;
    for (char ch : {'a', 'b', 'c'}) {
        sent.push_back(std::string(6 << 20, ch));
        s->send(sse::event(sent.back()).id(std::string(1, ch)));
        sent.push_back(std::string("small ") + ch);
        s->send(sse::event(sent.back()));
    }
    const auto evs = c.read_events(sent.size(), 30s);
    REQUIRE(evs.size() == sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) {
        INFO("event " << i);
        CHECK(evs[i].data.size() == sent[i].size());
        CHECK((evs[i].data == sent[i]));
    }
    CHECK(evs.back().last_event_id == "c");
    // counted when the write completes on the server, which may be after the client has read it
    CHECK(test::eventually([&] { return f.srv.stats().events_sent == sent.size(); }));
}

TEST_CASE("stream: on_close tells why a drained stream closed", "[stream]")
{
    test::one_stream t;
    std::promise<std::error_code> why;
    t.s->on_close([&](std::error_code ec) { why.set_value(ec); });
    t.s->send(sse::event("last"));
    std::error_code expected;
    SECTION("the server stops")
    {
        t.f.srv.stop();
        expected = sse::error::shutting_down;
    }
    SECTION("the stream's own close()")
    {
        t.s->close();
    }
    auto reason = why.get_future();
    REQUIRE(reason.wait_for(5s) == std::future_status::ready);
    CHECK(reason.get() == expected);
    CHECK(t.c.read_events(1)[0].data == "last"); // drained first
    CHECK(t.c.closed_within(5s));
}

TEST_CASE("stream: heartbeat comments keep a quiet stream alive", "[stream]")
{
    sse::server_options o;
    o.heartbeat = 50ms;
    test::server_fixture f(o);
    f.srv.on_stream("/events", [](sse::stream_ptr) {});
    f.run();
    auto c = client::get(f.port(), "/events");
    c.read_head();
    CHECK(c.read_until(":\n", 2s) == ":\n");
    CHECK(c.read_until(":\n", 2s) == ":\n");
    CHECK(f.srv.stats().heartbeats_sent >= 1);
}

namespace {
// Waits until what was posted to `s`'s strand before this call has run.
void drain_strand(const sse::stream_ptr& s)
{
    std::promise<void> done;
    asio::post(s->get_executor(), [&] { done.set_value(); });
    REQUIRE(done.get_future().wait_for(5s) == std::future_status::ready);
}
} // namespace

TEST_CASE("stream: flush_delay holds sends for the window, then writes them together", "[stream][flush_delay]")
{
    sse::server_options o;
    o.flush_delay = 1s;
    test::one_stream t(o);
    // the head's write has completed (what is sent during a write goes out right after it)
    REQUIRE(test::eventually([&] { return t.f.srv.stats().bytes_sent > 0; }));
    drain_strand(t.s);
    REQUIRE(t.s->send(sse::event("a")));
    drain_strand(t.s); // without a window, the lane's flush of "a" ran before this
    CHECK(t.f.srv.stats().events_sent == 0);
    REQUIRE(t.s->send(sse::event("b")));
    // the window ends by itself: both go out in one write, so one read gets both
    REQUIRE(t.c.read_until("data: a\n\n", 5s) == "data: a\n\n");
    CHECK(t.c.buffered() == "data: b\n\n");
    CHECK(test::eventually([&] { return t.f.srv.stats().events_sent == 2; })); // counted once the write returns
}

TEST_CASE("stream: flush_delay does not hold up close() or the stream's own timer", "[stream][flush_delay]")
{
    sse::server_options o;
    o.flush_delay = std::chrono::seconds(1);
    SECTION("close() writes what is queued at once")
    {
        test::one_stream t(o);
        REQUIRE(t.s->send(sse::event("last")));
        t.s->close();
        CHECK(t.c.read_to_close(900ms) == "data: last\n\n");
    }
    SECTION("what every() sends leaves when its callback returns")
    {
        test::one_stream t(o);
        t.s->every(10ms, [s = t.s] { s->send(sse::event("tick")); });
        CHECK(t.c.read_events(1, 900ms)[0].data == "tick");
    }
}

TEST_CASE("stream: a timer callback that throws closes that stream only", "[stream]")
{
    test::server_fixture f;
    f.srv.on_stream("/bad", [](sse::stream_ptr s) { s->after(1ms, [] { throw std::runtime_error("x"); }); });
    f.srv.on_stream("/good", [](sse::stream_ptr s) { s->after(20ms, [s] { s->send(sse::event("fine")); }); });
    f.run();
    auto bad = client::get(f.port(), "/bad");
    bad.read_head();
    CHECK(bad.read_to_close().empty());
    auto good = client::get(f.port(), "/good");
    good.read_head();
    CHECK(good.read_events(1)[0].data == "fine");
    CHECK(f.srv.stats().handler_errors == 1);
}

TEST_CASE("stream: many clients on a 2-thread io_context each get their whole stream", "[stream]")
{
    test::server_fixture f;
    f.srv.on_stream("/events", [](sse::stream_ptr s) {
        auto n = std::make_shared<int>(0);
        s->every(2ms, [s, n] {
            if (++*n <= 20) s->send(sse::event(std::to_string(*n)).id(std::to_string(*n)));
            if (*n == 20) s->close();
        });
    });
    f.run(2);
    std::vector<client> clients;
    for (int i = 0; i < 200; ++i) clients.push_back(client::get(f.port(), "/events"));
    for (auto& c : clients) {
        REQUIRE(client::status(c.read_head()) == 200);
        auto evs = c.read_events(20);
        for (int i = 0; i < 20; ++i) REQUIRE(evs[static_cast<std::size_t>(i)].data == std::to_string(i + 1));
        CHECK(c.closed_within(5s));
    }
    CHECK(f.srv.stats().streams_total == 200);
    CHECK(f.srv.stats().events_sent == 200 * 20);
}

TEST_CASE("stream: its timers may run, throw and close it while the server still answers it (4 threads)",
          "[stream]")
{
    // The route handler runs on the connection's strand; the stream's timers run on the stream's
    // strand, on another thread. Here a timer throws (which closes the stream) before the handler
    // returns, so the close races the server's answer. Under TSan this checks that the answer's
    // first write and the close never touch the socket at once; the books must balance too:
    // every stream told opened is told closed after it, and streams_open never wraps.
    constexpr int n = 1000;
    std::atomic<int> closes{0}, told_open{0}, lowest{0}, opened{0};
    std::atomic<bool> wrapped{false};
    test::signal all_closed;
    sse::server_options o;
    o.connection_rate_per_client = 0; // 1,000 connections from 127.0.0.1 in a few seconds
    o.on_lifecycle = [&](const sse::lifecycle_event& e) {
        if (e.what == sse::lifecycle_event::kind::stream_opened) {
            ++opened;
            ++told_open;
        } else if (e.what == sse::lifecycle_event::kind::stream_closed) {
            const int now = --told_open;
            int low = lowest;
            while (now < low && !lowest.compare_exchange_weak(low, now)) {
            }
        }
    };
    test::server_fixture f(o);
    std::atomic<unsigned> k{0};
    f.srv.on_stream("/events", [&](sse::stream_ptr s) {
        auto fired = std::make_shared<test::signal>();
        s->after(0ms, [fired] {
            fired->set();
            throw std::runtime_error("early");
        });
        s->on_close([&](std::error_code) {
            if (f.srv.stats().streams_open > static_cast<std::uint64_t>(n)) wrapped = true;
            if (++closes == n) all_closed.set();
        });
        s->send(sse::event("queued by the handler"));
        fired->wait(2s); // the timer ran on the stream's strand, on another thread
        // return 0-199 spins later: the close lands at every point of the answer (a jitter to
        // spread the race, not to order anything)
        std::atomic<unsigned> spun{0}; // atomic: the loop is not optimized away
        for (unsigned i = 0, spin = (k++ * 37) % 200; i < spin; ++i) spun.store(i, std::memory_order_relaxed);
    });
    f.run(4);
    for (int i = 0; i < n; ++i) {
        auto c = client::get(f.port(), "/events");
        const auto bytes = c.read_to_close();
        // closed before the head went out (nothing), or after it
        INFO(bytes);
        CHECK((bytes.empty() || bytes.rfind("HTTP/1.1 200 OK\r\n", 0) == 0));
    }
    REQUIRE(all_closed.wait());
    REQUIRE(f.stop_and_join()); // every handler has run: the books are final
    CHECK(f.srv.stats().handler_errors == n);
    CHECK_FALSE(wrapped);
    CHECK(lowest == 0);    // never told closed before opened
    CHECK(told_open == 0); // every opened stream told closed
    CHECK(f.srv.stats().streams_open == 0);
    CHECK(f.srv.stats().streams_total == static_cast<std::uint64_t>(opened.load()));
}

TEST_CASE("stream: stop() while the route handler still runs closes that stream after its head", "[stream]")
{
    test::signal entered, release;
    test::server_fixture f;
    f.srv.on_stream("/events", [&](sse::stream_ptr) {
        entered.set();
        release.wait(); // the server stops meanwhile
    });
    f.run(2);
    auto c = client::get(f.port(), "/events");
    REQUIRE(entered.wait());
    f.srv.stop();
    release.set();
    CHECK(client::status(c.read_head()) == 200);
    CHECK(c.closed_within(5s));
    CHECK(f.stop_and_join(5s));
}

TEST_CASE("stream: async_send before reject() completes with stream_closed, not success", "[stream]")
{
    // use_future with a function, as above: no exception crosses threads (TSan cannot see the
    // reference counts of one released on the io thread)
    std::future<std::error_code> sent;
    test::signal handled;
    test::server_fixture f;
    f.srv.on_stream("/events", [&](sse::stream_ptr s) {
        sent = s->async_send(sse::event("never on the wire"), asio::use_future([](std::error_code ec) { return ec; }));
        s->reject(sse::response(204));
        handled.set();
    });
    f.run();
    auto c = client::get(f.port(), "/events");
    CHECK(client::status(c.read_head()) == 204);
    REQUIRE(handled.wait());
    REQUIRE(sent.wait_for(5s) == std::future_status::ready);
    CHECK(sent.get() == sse::error::stream_closed); // not success: it was never sent
}

TEST_CASE("stream: stop() sends the final event and closes every stream so run() returns", "[stream]")
{
    test::signal opened;
    std::atomic<int> n{0};
    test::server_fixture f;
    f.srv.on_stream("/events", [&](sse::stream_ptr s) {
        s->send(sse::event("hi"));
        if (++n == 3) opened.set();
    });
    f.run(2);
    const auto port = f.port();
    std::vector<client> clients;
    for (int i = 0; i < 3; ++i) clients.push_back(client::get(f.port(), "/events"));
    REQUIRE(opened.wait());
    for (auto& c : clients) c.read_head();
    f.srv.stop(sse::event("bye").type("shutdown"));
    for (auto& c : clients) {
        auto evs = c.read_events(2);
        CHECK(evs[0].data == "hi");
        CHECK(evs[1].type == "shutdown");
        CHECK(c.closed_within(5s));
    }
    CHECK(f.stop_and_join());
    CHECK_THROWS_AS(client(port), std::runtime_error); // no longer accepting
}

TEST_CASE("stream: a write the peer never accepts ends at the write timeout", "[stream][timeout]")
{
    // More than the kernel can hold for a client that never reads: the server's send buffer
    // grows up to tcp_wmem's maximum. Nothing may be dropped, or what is left could all fit.
    std::size_t wmem_max = 4 << 20, ignored = 0;
    std::ifstream("/proc/sys/net/ipv4/tcp_wmem") >> ignored >> ignored >> wmem_max;
    const std::size_t total = 2 * wmem_max + (4 << 20);
    sse::server_options o;
    o.write_timeout = 300ms;
    o.max_queue_bytes = 2 * total; // so only the stalled write can end it
    bool quiet_first = false;
    SECTION("from the start") {}
    SECTION("after heartbeats: the sweep, which passed the quiet stream by, still watches the write")
    {
        o.heartbeat = 50ms;
        quiet_first = true;
    }
    test::stream_inbox got;
    test::signal closed;
    std::error_code reason;
    test::server_fixture f(o);
    f.srv.on_stream("/events", got.handler([&](const sse::stream_ptr& s) {
        s->on_close([&](std::error_code ec) {
            reason = ec;
            closed.set();
        });
    }));
    f.run();
    client c(f.port());
    int small = 4096;
    ::setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    c.send("GET /events HTTP/1.1\r\nHost: h\r\n\r\n"); // and never read (but the heartbeats)
    auto s = got.next();
    if (quiet_first) {
        c.read_head();
        REQUIRE(c.read_until(":\n", 2s) == ":\n");
        REQUIRE(c.read_until(":\n", 2s) == ":\n");
    }
    const std::string payload(1000, 'w');
    for (std::size_t sent = 0; sent < total && s->send(sse::event(payload)); sent += payload.size()) {
    }
    REQUIRE(closed.wait(10s));
    CHECK(reason == sse::error::write_timeout);
    CHECK(f.srv.stats().write_timeouts == 1);
}
