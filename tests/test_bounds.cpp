// What a stream may cost and hold: memory under stalled readers, channel membership churn,
// closed streams the application keeps (also past the io_context), and every option at its
// extremes. Over real sockets on loopback.
#include "support/catch.hpp"
#include "support/server_fixture.hpp"

#include <sse/sse.hpp>

#include <sys/socket.h>

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ASIO_SSE_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ASIO_SSE_TEST_SANITIZED 1
#endif
#endif
#ifdef ASIO_SSE_TEST_SANITIZED
// from the sanitizer runtime (g++ ships no header for it)
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#else
#include <malloc.h>
#endif

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using test::client;

namespace {

// Bytes the process has allocated and not freed now (the allocator's count: unlike RSS, it
// does not depend on what malloc keeps cached, nor on a sanitizer's quarantine).
std::size_t heap_in_use()
{
#ifdef ASIO_SSE_TEST_SANITIZED
    return __sanitizer_get_current_allocated_bytes();
#else
    const auto m = mallinfo2();
    return m.uordblks + m.hblkhd;
#endif
}

// A client that never reads, with a small receive buffer, so the kernel holds little for it.
client stalled_client(unsigned short port)
{
    client c(port);
    int small = 4096;
    ::setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    c.send("GET /events HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n");
    return c;
}

} // namespace

TEST_CASE("bounds: stalled readers hold at most their queue bound, whatever the event size", "[bounds][slow]")
{
    const auto policy = GENERATE(sse::overflow_policy::disconnect, sse::overflow_policy::drop_oldest);
    const std::size_t payload = GENERATE(std::size_t(7), std::size_t(18), std::size_t(1024));
    INFO("policy " << (policy == sse::overflow_policy::disconnect ? "disconnect" : "drop_oldest") << ", payload "
                   << payload << " B");
#ifdef ASIO_SSE_TEST_SANITIZED
    constexpr int stalled = 10; // the cost is publishes x streams; sanitizers run it 5-10x slower
#else
    constexpr int stalled = 40;
#endif
    sse::server_options o;
    o.max_queue_bytes = 64 * 1024;
    o.overflow = policy;
    sse::channel_options co;
    co.history_events = 16; // the history's memory is the channel's, not the streams'
    sse::channel ch(co);
    test::stream_inbox inbox;
    test::server_fixture f(o);
    f.srv.on_stream("/events", inbox.handler([ch](const sse::stream_ptr& s) mutable { ch.subscribe(s); }));
    f.run();

    auto healthy = client::get(f.port(), "/events");
    healthy.read_head();
    auto healthy_stream = inbox.next();
    std::vector<client> slow;
    std::vector<sse::stream_ptr> slow_streams;
    for (int i = 0; i < stalled; ++i) {
        slow.push_back(stalled_client(f.port()));
        slow_streams.push_back(inbox.next());
    }
    REQUIRE(ch.size() == stalled + 1);

    // The healthy client reads everything on its own thread; the publisher waits for it to keep up.
    test::counter received;
    std::atomic<long> last_id{0};
    std::atomic<bool> in_order{true};
    test::worker reader([&](const std::atomic<bool>& stop) {
        while (!stop) {
            try {
                for (auto& e : healthy.read_events(1, 200ms)) {
                    const long id = std::stol(e.last_event_id);
                    if (id != last_id + 1) in_order = false;
                    last_id = id;
                    received.add();
                }
            } catch (const std::runtime_error&) { // timed out between events: look at stop again
            }
        }
    });

    const std::size_t baseline = heap_in_use();
    std::size_t peak = baseline;
    const std::string data(payload - 1, 'p'); // "data: " + data + "\n\n" with the channel's id
    auto full = [&] {
        if (policy == sse::overflow_policy::disconnect) return f.srv.stats().slow_disconnects == stalled;
        for (auto& s : slow_streams)
            if (s->queued_bytes() + payload + 256 < o.max_queue_bytes) return false;
        return true;
    };
    // batches the healthy client's queue holds a few times over: it never meets the policy
    const long batch = std::min<long>(64, long(o.max_queue_bytes / sse::detail::send_queue::cost(payload + 16)) / 4);
    long published = 0, extra = -1;
    while (published < 2'000'000) {
        for (long i = 0; i < batch; ++i, ++published) ch.publish(sse::event(data));
        peak = std::max(peak, heap_in_use());
        REQUIRE(received.wait_for(published));
        if (extra < 0 && full()) extra = published; // then as much again, to drop through the bound
        if (extra >= 0 && published >= 2 * extra) break;
    }
    REQUIRE(extra >= 0);
    ch.publish(sse::event("last"));
    REQUIRE(received.wait_for(published + 1));
    CHECK(received.value() == published + 1);
    reader.join();
    CHECK(in_order);
    CHECK(healthy_stream->is_open());
    const double per_stream = double(peak - baseline) / stalled;
    INFO("peak heap per stalled stream: " << per_stream << " B, bound " << o.max_queue_bytes << " B");
    CHECK(per_stream <= 1.25 * double(o.max_queue_bytes));
    if (policy == sse::overflow_policy::disconnect) {
        CHECK(f.srv.stats().slow_disconnects == stalled);
        CHECK(ch.size() == 1);
    } else {
        CHECK(f.srv.stats().events_dropped > 0);
        for (auto& s : slow_streams) CHECK(s->queued_bytes() <= o.max_queue_bytes + sse::detail::send_queue::cost(payload + 16));
    }
}

TEST_CASE("bounds: joining and leaving a channel a million times leaves memory flat", "[bounds][channel]")
{
    test::one_stream t;
    sse::channel ch, other;
    other.subscribe(t.s);
    const std::size_t before = heap_in_use();
    for (int i = 0; i < 1'000'000; ++i) {
        ch.subscribe(t.s);
        ch.unsubscribe(t.s);
    }
    const std::size_t after = heap_in_use();
    CHECK(after <= before + 4096);
    CHECK(ch.size() == 0);
    // still a subscriber of the other channel, and of this one once more
    ch.subscribe(t.s);
    ch.subscribe(t.s); // a second time: no effect
    CHECK(ch.size() == 1);
    ch.publish(sse::event("here"));
    other.publish(sse::event("there"));
    const auto evs = t.c.read_events(2);
    CHECK(evs[0].data == "here");
    CHECK(evs[1].data == "there");
    t.c.close();
    CHECK(test::eventually([&] { return ch.size() == 0 && other.size() == 0; }));
}

TEST_CASE("bounds: stop() lets run() return while the application holds closed streams", "[bounds][lifecycle]")
{
    std::vector<sse::stream_ptr> kept;
    sse::channel ch;
    {
        test::stream_inbox inbox;
        test::server_fixture f;
        f.srv.on_stream("/events", inbox.handler([ch](const sse::stream_ptr& s) mutable {
            ch.subscribe(s);
            s->every(1ms, [s] { s->send(sse::event("tick")); });
        }));
        f.run(2);
        std::vector<client> clients;
        for (int i = 0; i < 20; ++i) {
            clients.push_back(client::get(f.port(), "/events"));
            clients.back().read_head();
            kept.push_back(inbox.next());
        }
        for (int i = 0; i < 10; ++i) clients[std::size_t(i)].close(); // half closed by the client, half by stop()
        CHECK(test::eventually([&] { return f.srv.stats().streams_open == 10; }));
        CHECK(f.stop_and_join()); // run() returned on both threads, though `kept` holds all 20
        for (auto& s : kept) CHECK_FALSE(s->is_open());
        CHECK(ch.size() == 0);
    } // the server, then the io_context, are destroyed: the streams and the channel outlive them
    kept.clear(); // destroyed after their io_context: nothing of theirs may touch it (ASan)
}

TEST_CASE("bounds: every option at 0 and at its largest value is refused or works", "[bounds][options]")
{
    using ms = std::chrono::milliseconds;
    struct option_case {
        const char* name;
        std::function<void(sse::server_options&)> zero, largest;
        bool zero_refused, largest_refused;
    };
    const std::vector<option_case> cases = {
        {"max_head_bytes", [](auto& o) { o.max_head_bytes = 0; }, [](auto& o) { o.max_head_bytes = SIZE_MAX; }, true, false},
        {"max_headers", [](auto& o) { o.max_headers = 0; }, [](auto& o) { o.max_headers = SIZE_MAX; }, false, false},
        {"max_body_bytes", [](auto& o) { o.max_body_bytes = 0; }, [](auto& o) { o.max_body_bytes = SIZE_MAX; }, false, false},
        {"head_timeout", [](auto& o) { o.head_timeout = ms(0); }, [](auto& o) { o.head_timeout = ms::max(); }, true, true},
        {"handshake_timeout", [](auto& o) { o.handshake_timeout = ms(0); }, [](auto& o) { o.handshake_timeout = ms::max(); }, true, true},
        {"heartbeat", [](auto& o) { o.heartbeat = ms(0); }, [](auto& o) { o.heartbeat = ms::max(); }, false, true},
        {"retry", [](auto& o) { o.retry = ms(0); }, [](auto& o) { o.retry = ms::max(); }, false, true},
        {"max_queue_bytes", [](auto& o) { o.max_queue_bytes = 0; }, [](auto& o) { o.max_queue_bytes = SIZE_MAX; }, false, false},
        {"write_timeout", [](auto& o) { o.write_timeout = ms(0); }, [](auto& o) { o.write_timeout = ms::max(); }, true, true},
        {"flush_delay", [](auto& o) { o.flush_delay = ms(0); }, [](auto& o) { o.flush_delay = std::chrono::microseconds::max(); }, false, true},
        {"max_streams", [](auto& o) { o.max_streams = 0; }, [](auto& o) { o.max_streams = SIZE_MAX; }, false, false},
        {"max_connections", [](auto& o) { o.max_connections = 0; }, [](auto& o) { o.max_connections = SIZE_MAX; }, false, false},
        {"retry_after", [](auto& o) { o.retry_after = std::chrono::seconds(0); }, [](auto& o) { o.retry_after = std::chrono::seconds::max(); }, false, true},
        {"max_connections_per_client", [](auto& o) { o.max_connections_per_client = 0; }, [](auto& o) { o.max_connections_per_client = SIZE_MAX; }, false, false},
        {"connection_rate_per_client", [](auto& o) { o.connection_rate_per_client = 0; }, [](auto& o) { o.connection_rate_per_client = 1e308; }, false, false},
        {"connection_burst_per_client", [](auto& o) { o.connection_burst_per_client = 0; }, [](auto& o) { o.connection_burst_per_client = SIZE_MAX; }, false, false},
        {"shutdown_timeout", [](auto& o) { o.shutdown_timeout = ms(0); }, [](auto& o) { o.shutdown_timeout = ms::max(); }, false, true},
    };
    for (const auto& oc : cases) {
        for (const bool largest : {false, true}) {
            INFO(oc.name << (largest ? " at its largest value" : " at 0"));
            sse::server_options o;
            (largest ? oc.largest : oc.zero)(o);
            asio::io_context io;
            if (largest ? oc.largest_refused : oc.zero_refused) {
                CHECK_THROWS_AS(sse::server(io, o), std::invalid_argument);
                continue;
            }
            // Accepted: a stream and a 20 KB POST are each answered (or refused with a status) at once.
            test::server_fixture f(o);
            f.srv.on_stream("/events", [](sse::stream_ptr s) { s->send(sse::event("hello")); });
            f.srv.on_request("/post", [](const sse::request& r) { return sse::response(200, std::to_string(r.body().size())); });
            f.run();
            auto c = client::get(f.port(), "/events");
            const std::string head = c.read_head(3s);
            if (client::status(head) == 200) CHECK(c.read_events(1, 3s)[0].data == "hello");
            client p(f.port());
            p.send("POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 20000\r\nConnection: close\r\n\r\n" +
                   std::string(20000, 'b'));
            const std::string answer = p.read_to_close(3s);
            REQUIRE(answer.size() >= 12);
            const int status = std::stoi(answer.substr(9, 3));
            if (std::string(oc.name) == "max_body_bytes" && largest) CHECK(answer.find("\r\n\r\n20000") != std::string::npos);
            CHECK((status == 200 || status == 413 || status == 429 || status == 431));
            CHECK(f.stop_and_join());
        }
    }
    sse::channel_options co;
    co.history_age = ms::max();
    CHECK_THROWS_AS(sse::channel(co), std::invalid_argument);
    co.history_age = ms(-1);
    CHECK_THROWS_AS(sse::channel(co), std::invalid_argument);
}
