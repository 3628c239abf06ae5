// detail::session_list: the server's sweep visits only the sessions due.
#include "support/catch.hpp"

#include <sse/detail/sessions.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

namespace {

using sse::detail::session;
using sse::detail::session_list;
using clock_type = session_list::clock;

struct probe final : session {
    void shutdown() override {}
};

bool holds(const std::vector<std::shared_ptr<session>>& v, const std::shared_ptr<probe>& p)
{
    return std::find(v.begin(), v.end(), p) != v.end();
}

void set_due(session_list::entry* e, clock_type::time_point t)
{
    e->due.store(t.time_since_epoch().count(), std::memory_order_relaxed);
}

} // namespace

TEST_CASE("session_list: a sweep gets the sessions due by its time, and live() gets every one", "[sessions]")
{
    session_list list;
    const auto now = clock_type::now();
    auto fresh = std::make_shared<probe>(), quiet = std::make_shared<probe>(), due = std::make_shared<probe>();
    list.add(fresh); // due at the next sweep
    set_due(list.add(quiet), now + std::chrono::seconds(10));
    set_due(list.add(due), now);

    auto swept = list.due(now);
    CHECK(swept.size() == 2);
    CHECK(holds(swept, fresh));
    CHECK(holds(swept, due));
    CHECK_FALSE(holds(swept, quiet));
    CHECK(list.due(now + std::chrono::seconds(10)).size() == 3);
    CHECK(list.live().size() == 3);
}

TEST_CASE("session_list: a removed or destroyed session is gone, and its entry is reused", "[sessions]")
{
    session_list list;
    auto a = std::make_shared<probe>(), b = std::make_shared<probe>();
    auto* ea = list.add(a);
    list.add(b);
    list.remove(ea);
    CHECK(list.live().size() == 1);
    CHECK(list.due(clock_type::now()).size() == 1);

    auto c = std::make_shared<probe>();
    auto* ec = list.add(c);
    CHECK(ec == ea); // the free entry, due at the next sweep again
    CHECK(holds(list.due(clock_type::time_point::min()), c));

    b.reset(); // a session that is gone without leaving is skipped
    auto live = list.live();
    REQUIRE(live.size() == 1);
    CHECK(live[0] == c);
}
