// detail::send_queue and detail::ring, without sockets: the bound, both overflow policies,
// exempt items, batches in flight, and completions in order with the right result.
#include "support/catch.hpp"

#include <sse/detail/ring.hpp>
#include <sse/detail/send_queue.hpp>

#include <asio/buffers_iterator.hpp>

#include <string>
#include <system_error>
#include <vector>

namespace {

using sse::detail::item_kind;
using sse::detail::send_queue;
using sse::overflow_policy;

sse::detail::shared_buffer bytes(std::string s) { return sse::detail::make_shared_buffer(std::move(s)); }

// What the batch in flight would write, as one string.
std::string in_flight(const send_queue& q)
{
    std::string out;
    for (auto b : q.buffers()) out.append(static_cast<const char*>(b.data()), b.size());
    return out;
}

// Takes, writes and settles every batch; returns what was written.
std::string drain(send_queue& q, send_queue::results& out)
{
    std::string all;
    while (q.has_pending()) {
        q.take();
        const std::string batch = in_flight(q);
        all += batch;
        REQUIRE(q.advance(batch.size()));
        q.settle(true, out);
    }
    return all;
}

// A completion that records its result in `log` under `name`.
send_queue::completion record(std::vector<std::pair<std::string, std::error_code>>& log, std::string name)
{
    return [&log, name](std::error_code ec) { log.emplace_back(name, ec); };
}

void run(send_queue::results& r)
{
    for (auto& c : r) c.first(c.second);
    r.clear();
}

} // namespace

TEST_CASE("ring: FIFO at both ends across growth and wrap-around", "[queue]")
{
    sse::detail::ring<int> r;
    CHECK(r.capacity() == 0); // nothing allocated while empty
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 10; ++i) r.push_back(i);
        for (int i = 0; i < 5; ++i) CHECK(r.pop_front() == i);
        for (int i = 10; i < 300; ++i) r.push_back(i);
        r.push_front(4);
        for (int i = 4; i < 300; ++i) REQUIRE(r.pop_front() == i);
        CHECK(r.empty());
        CHECK(r.capacity() == 0); // grew past `keep`: freed when empty
    }
    for (int i = 0; i < 10; ++i) r.push_back(i, 6); // limited to 6 slots, then one at a time
    CHECK(r.capacity() == 10);
    r.clear();
    CHECK(r.capacity() == 10); // within `keep` (64): kept for the next burst
    sse::detail::ring<int> none_kept(0);
    none_kept.push_front(1);
    CHECK(none_kept.pop_front() == 1);
    CHECK(none_kept.capacity() == 0);
}

TEST_CASE("send_queue: many tiny items reach the bound by their charge, not their bytes", "[queue]")
{
    const std::size_t bound = 16 * 1024;
    send_queue q(bound);
    send_queue::results out;
    std::size_t queued = 0;
    while (q.push(bytes("x\n\n"), item_kind::event, overflow_policy::disconnect, nullptr, out).queued) ++queued;
    // 3 bytes each would allow 5,461; each costs 131
    CHECK(queued == bound / send_queue::cost(3));
    CHECK(q.bytes() <= bound);
    CHECK(q.bytes() == queued * send_queue::cost(3));
}

TEST_CASE("send_queue: one item larger than the bound is taken when the queue is empty", "[queue]")
{
    send_queue q(1024);
    send_queue::results out;
    CHECK(q.push(bytes(std::string(4096, 'a')), item_kind::event, overflow_policy::disconnect, nullptr, out).queued);
    CHECK_FALSE(q.push(bytes("b"), item_kind::event, overflow_policy::disconnect, nullptr, out).queued);
    CHECK(drain(q, out) == std::string(4096, 'a'));
    CHECK(q.bytes() == 0);
    CHECK(q.push(bytes("b"), item_kind::event, overflow_policy::disconnect, nullptr, out).queued);

    send_queue zero(0); // a bound of 0: one at a time
    CHECK(zero.push(bytes("a"), item_kind::event, overflow_policy::disconnect, nullptr, out).queued);
    CHECK_FALSE(zero.push(bytes("b"), item_kind::event, overflow_policy::disconnect, nullptr, out).queued);
    send_queue unbounded(SIZE_MAX);
    CHECK(unbounded.push(bytes(std::string(100, 'a')), item_kind::event, overflow_policy::disconnect, nullptr, out).queued);
    CHECK(unbounded.push(bytes("b"), item_kind::event, overflow_policy::disconnect, nullptr, out).queued);
}

TEST_CASE("send_queue: the head and replays are exempt from the bound and keep their order", "[queue]")
{
    send_queue q(send_queue::cost(1) * 2);
    send_queue::results out;
    for (int i = 0; i < 100; ++i)
        REQUIRE(q.push(bytes("r"), item_kind::replay, overflow_policy::disconnect, nullptr, out).queued);
    CHECK(q.bytes() == 0);
    CHECK(q.push(bytes("1"), item_kind::event, overflow_policy::drop_oldest, nullptr, out).queued);
    CHECK(q.push(bytes("2"), item_kind::event, overflow_policy::drop_oldest, nullptr, out).queued);
    CHECK(q.push(bytes("R"), item_kind::replay, overflow_policy::drop_oldest, nullptr, out).queued);
    CHECK(q.push(bytes("3"), item_kind::event, overflow_policy::drop_oldest, nullptr, out).queued); // drops "1"
    q.push_front(bytes("H"));
    CHECK(drain(q, out) == "H" + std::string(100, 'r') + "2R3");
}

TEST_CASE("send_queue: drop_oldest never drops what is in flight", "[queue]")
{
    const std::size_t bound = send_queue::cost(1) * 3;
    send_queue q(bound);
    send_queue::results out;
    std::vector<std::pair<std::string, std::error_code>> log;
    q.push(bytes("a"), item_kind::event, overflow_policy::drop_oldest, record(log, "a"), out);
    q.push(bytes("b"), item_kind::event, overflow_policy::drop_oldest, record(log, "b"), out);
    q.take(); // a and b in flight
    CHECK(in_flight(q) == "ab");
    q.push(bytes("c"), item_kind::event, overflow_policy::drop_oldest, record(log, "c"), out);
    q.push(bytes("d"), item_kind::event, overflow_policy::drop_oldest, record(log, "d"), out); // drops c
    const auto pushed = q.push(bytes("e"), item_kind::event, overflow_policy::drop_oldest, record(log, "e"), out);
    CHECK(pushed.queued);
    CHECK(pushed.dropped_events == 1); // d; a and b stay, in flight: the bound plus one item
    CHECK(q.bytes() == bound);
    run(out);
    REQUIRE(log.size() == 2);
    CHECK(log[0] == std::make_pair(std::string("c"), std::error_code(sse::error::queue_overflow)));
    CHECK(log[1] == std::make_pair(std::string("d"), std::error_code(sse::error::queue_overflow)));
    CHECK(q.advance(2));
    q.settle(true, out);
    run(out);
    CHECK(drain(q, out) == "e");
    run(out);
    REQUIRE(log.size() == 5);
    CHECK(log[2].first == "a");
    CHECK(log[3].first == "b");
    CHECK(log[4].first == "e");
    for (std::size_t i = 2; i < 5; ++i) CHECK_FALSE(log[i].second);
}

TEST_CASE("send_queue: a full queue under drop_oldest keeps the newest items that fit", "[queue]")
{
    const std::size_t bound = 64 * 1024;
    send_queue q(bound);
    send_queue::results out;
    std::size_t dropped = 0;
    for (int i = 0; i < 200000; ++i)
        dropped += q.push(bytes(std::to_string(i)), item_kind::event, overflow_policy::drop_oldest, nullptr, out).dropped_events;
    CHECK(q.bytes() <= bound);
    CHECK(dropped > 199000);
    q.take();
    CHECK(in_flight(q).substr(0, 6) == std::to_string(200000 - bound / send_queue::cost(6)).substr(0, 6));
}

TEST_CASE("send_queue: the disconnect policy refuses and reports, and close() fails every waiter", "[queue]")
{
    send_queue q(send_queue::cost(1));
    send_queue::results out;
    std::vector<std::pair<std::string, std::error_code>> log;
    q.push(bytes("a"), item_kind::event, overflow_policy::disconnect, record(log, "a"), out);
    q.take();
    q.push(bytes("b"), item_kind::event, overflow_policy::disconnect, record(log, "b"), out); // over: refused
    run(out);
    REQUIRE(log.size() == 1);
    CHECK(log[0].second == sse::error::queue_overflow);
    CHECK(q.bytes() == send_queue::cost(1));
    q.close(out); // a, in flight, is failed too; its item stays until the write settles
    run(out);
    REQUIRE(log.size() == 2);
    CHECK(log[1] == std::make_pair(std::string("a"), std::error_code(sse::error::stream_closed)));
    CHECK(q.in_flight());
    q.settle(false, out);
    CHECK(out.empty());
    CHECK(q.bytes() == 0);
}

TEST_CASE("send_queue: a batch holds at most 64 items and writes resume mid-item", "[queue]")
{
    send_queue q(SIZE_MAX);
    send_queue::results out;
    for (int i = 0; i < 100; ++i) q.push(bytes("abc"), item_kind::event, overflow_policy::disconnect, nullptr, out);
    q.push(bytes(""), item_kind::comment, overflow_policy::disconnect, nullptr, out); // empty items are stepped over
    q.take();
    CHECK(in_flight(q).size() == 64 * 3);
    CHECK_FALSE(q.advance(4)); // one item and a byte
    CHECK(q.mid_item());
    CHECK(in_flight(q).size() == 64 * 3 - 4);
    CHECK(q.advance(64 * 3 - 4));
    const auto s = q.settle(true, out);
    CHECK(s.events == 64);
    q.take();
    CHECK(in_flight(q).size() == 36 * 3);
    CHECK(q.advance(36 * 3));
    CHECK(q.settle(true, out).events == 36);
    CHECK_FALSE(q.has_pending());
}
