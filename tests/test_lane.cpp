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
