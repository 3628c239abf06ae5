// detail::lane: one handler per strand flushes every stream scheduled on it.
#include "support/catch.hpp"

#include <sse/detail/lane.hpp>

#include <memory>
#include <stdexcept>
#include <vector>

namespace {

// Counts its flushes; the first `throws` of them throw.
struct counter final : sse::detail::flushable {
    int flushes = 0, throws = 0;
    void flush() override
    {
        ++flushes;
        if (throws > 0) {
            --throws;
            throw std::runtime_error("flush");
        }
    }
};

} // namespace

TEST_CASE("lane: streams scheduled together are flushed by one handler, once each", "[lane]")
{
    asio::io_context io;
    auto lane = std::make_shared<sse::detail::lane>(io.get_executor());
    std::vector<std::shared_ptr<counter>> streams;
    for (int i = 0; i < 5; ++i) lane->schedule(streams.emplace_back(std::make_shared<counter>()));
    auto gone = std::make_shared<counter>();
    lane->schedule(gone);
    gone.reset(); // a stream that is gone has nothing to write
    CHECK(io.run() == 1);
    for (auto& s : streams) CHECK(s->flushes == 1);
}

TEST_CASE("lane: a flush that throws leaves the streams after it scheduled", "[lane]")
{
    asio::io_context io;
    auto lane = std::make_shared<sse::detail::lane>(io.get_executor());
    auto first = std::make_shared<counter>(), bad = std::make_shared<counter>(), after = std::make_shared<counter>();
    bad->throws = 1;
    for (auto& s : {first, bad, after}) lane->schedule(s);
    CHECK_THROWS_AS(io.run(), std::runtime_error); // as Asio does: out of run()
    CHECK(first->flushes == 1);
    CHECK(after->flushes == 0);
    io.restart();
    io.run();
    CHECK(after->flushes == 1);
    CHECK(bad->flushes == 1); // not retried: it was not scheduled again
}

TEST_CASE("lane: a coalescing window flushes its streams together when the earliest window ends", "[lane][flush_delay]")
{
    using namespace std::chrono_literals;
    asio::io_context io;
    auto lane = std::make_shared<sse::detail::lane>(io.get_executor());
    auto late = std::make_shared<counter>(), early = std::make_shared<counter>(), now = std::make_shared<counter>();
    lane->schedule(late, 1h);
    lane->schedule(early, 1ms); // an earlier end re-arms the lane's one timer
    lane->schedule(now, 0ms);   // no window: the next turn
    io.poll();
    CHECK(now->flushes == 1);
    CHECK(late->flushes + early->flushes == 0);
    io.run(); // returns once the 1 ms window has flushed both (the 1 h wait was cancelled)
    CHECK(late->flushes == 1);
    CHECK(early->flushes == 1);
    CHECK(now->flushes == 1);
}

TEST_CASE("lane: a lane that goes while its window is open flushes nothing and holds nothing", "[lane][flush_delay]")
{
    using namespace std::chrono_literals;
    asio::io_context io;
    auto lane = std::make_shared<sse::detail::lane>(io.get_executor());
    auto s = std::make_shared<counter>();
    lane->schedule(s, 1h);
    io.poll(); // the timer is armed
    std::weak_ptr<sse::detail::lane> gone = lane;
    lane.reset();
    CHECK(gone.expired()); // its timer's handler holds it weakly
    io.run();              // the cancelled wait completes at once
    CHECK(s->flushes == 0);
}

namespace {

// Records when it fires; repeats `again` more times, `period` apart.
struct tick final : sse::detail::lane_timer {
    sse::detail::lane* lane = nullptr;
    std::vector<std::chrono::steady_clock::time_point> fired;
    int again = 0;
    std::chrono::steady_clock::duration period{};
    std::shared_ptr<counter> watched; // its flushes, when the last repeat fires
    int flushes_seen = -1;
    std::shared_ptr<void> owner, held; // what it keeps alive while queued
    bool owner_held_at_release = false;
    void fire() override
    {
        fired.push_back(std::chrono::steady_clock::now());
        if (again-- > 0) {
            due += period;
            lane->add_timer(*this);
        } else if (watched) {
            flushes_seen = watched->flushes;
        }
    }
    std::shared_ptr<void> release() noexcept override
    {
        held.reset();
        owner_held_at_release = owner.use_count() > 1;
        return std::move(owner);
    }
};

} // namespace

TEST_CASE("lane: timers fire on the strand in due order, never early, and repeat without drift", "[lane][timers]")
{
    using namespace std::chrono_literals;
    asio::io_context io;
    auto lane = std::make_shared<sse::detail::lane>(io.get_executor());
    tick late, soon, repeating;
    const auto start = std::chrono::steady_clock::now();
    late.due = start + 30ms;
    soon.due = start + 5ms;
    repeating.due = start + 10ms;
    repeating.again = 3;
    repeating.period = 7ms;
    for (tick* t : {&late, &soon, &repeating}) {
        t->lane = lane.get();
        asio::post(lane->strand(), [&, t] { lane->add_timer(*t); });
    }
    io.run(); // returns once no timer is left
    REQUIRE(soon.fired.size() == 1);
    REQUIRE(late.fired.size() == 1);
    REQUIRE(repeating.fired.size() == 4);
    CHECK(soon.fired[0] >= soon.due);
    CHECK(late.fired[0] >= late.due);
    CHECK(soon.fired[0] <= late.fired[0]);
    for (std::size_t i = 0; i < 4; ++i) CHECK(repeating.fired[i] >= start + 10ms + i * 7ms);
    CHECK(repeating.due == start + 31ms); // the last one's: exact, however late each ran
}

TEST_CASE("lane: a cancelled timer does not fire, and a lane with no timer left keeps no work", "[lane][timers]")
{
    using namespace std::chrono_literals;
    asio::io_context io;
    auto lane = std::make_shared<sse::detail::lane>(io.get_executor());
    tick hour, soon;
    hour.due = std::chrono::steady_clock::now() + 1h;
    soon.due = std::chrono::steady_clock::now() + 1ms;
    asio::post(lane->strand(), [&] {
        lane->add_timer(hour);
        lane->add_timer(soon);
        lane->cancel_timer(soon);
    });
    io.poll();
    asio::post(lane->strand(), [&] { lane->cancel_timer(hour); });
    io.run(); // would wait an hour if the lane's timer still waited
    CHECK(hour.fired.empty());
    CHECK(soon.fired.empty());
}

TEST_CASE("lane: a timer that keeps coming due lets the strand's other work run between rounds", "[lane][timers]")
{
    asio::io_context io;
    auto lane = std::make_shared<sse::detail::lane>(io.get_executor());
    tick busy;
    busy.lane = lane.get();
    busy.due = std::chrono::steady_clock::now();
    busy.again = 1000; // period zero: due again at once, every time
    auto other = std::make_shared<counter>();
    busy.watched = other;
    asio::post(lane->strand(), [&] {
        lane->add_timer(busy);
        lane->schedule(other);
    });
    io.run();
    CHECK(busy.fired.size() == 1001);
    CHECK(busy.flushes_seen == 1); // the flush ran before the last of the 1,001 rounds
}

TEST_CASE("lane: a lane that goes lets go of what its queued timers hold", "[lane][timers]")
{
    using namespace std::chrono_literals;
    asio::io_context io;
    auto lane = std::make_shared<sse::detail::lane>(io.get_executor());
    tick t;
    auto owner = std::make_shared<int>(1), held = std::make_shared<int>(2);
    t.owner = owner; // as a stream, whose timer this is
    t.held = held;   // as the timer's callback
    t.due = std::chrono::steady_clock::now() + 1h;
    asio::post(lane->strand(), [&] { lane->add_timer(t); });
    io.poll();
    CHECK(owner.use_count() == 2);
    lane.reset();
    CHECK(owner.use_count() == 1);
    CHECK(held.use_count() == 1);
    CHECK(t.owner_held_at_release); // the owner went after what the timer held
    CHECK_FALSE(t.queued());
}
