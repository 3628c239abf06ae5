// async_send with C++20 coroutines: co_await s->async_send(e, asio::use_awaitable).
#include "support/catch.hpp"
#include "support/client.hpp"
#include "support/server_fixture.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/use_awaitable.hpp>

#include <future>

using namespace std::chrono_literals;
using test::client;

#if defined(ASIO_SSE_USE_BOOST_ASIO)
using asio_system_error = boost::system::system_error; // what use_awaitable throws on Boost.Asio
#else
using asio_system_error = std::system_error;
#endif

TEST_CASE("awaitable: co_await async_send completes after the write and reports a closed stream", "[awaitable]")
{
    test::one_stream t({}, 2);
    auto& f = t.f;
    auto& c = t.c;
    auto& s = t.s;

    std::promise<std::string> sent;
    asio::co_spawn(
        f.io,
        [s, &sent]() -> asio::awaitable<void> {
            co_await s->async_send(sse::event("one").id("1"), asio::use_awaitable);
            co_await s->async_send(sse::event("two").id("2"), asio::use_awaitable);
            sent.set_value(s->last_event_id());
        },
        asio::detached);
    auto done = sent.get_future();
    REQUIRE(done.wait_for(5s) == std::future_status::ready);
    CHECK(done.get() == "2");
    auto evs = c.read_events(2);
    CHECK(evs[0].data == "one");
    CHECK(evs[1].data == "two");

    test::signal closed;
    s->on_close([&](std::error_code) { closed.set(); });
    c.close();
    REQUIRE(closed.wait());
    std::promise<std::error_code> failed;
    asio::co_spawn(
        f.io,
        [s, &failed]() -> asio::awaitable<void> {
            try {
                co_await s->async_send(sse::event("late"), asio::use_awaitable);
                failed.set_value({});
            } catch (const asio_system_error& e) {
                failed.set_value(e.code());
            }
        },
        asio::detached);
    auto ec = failed.get_future();
    REQUIRE(ec.wait_for(5s) == std::future_status::ready);
    CHECK(ec.get() == sse::error::stream_closed);
}
