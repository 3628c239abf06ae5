// detail::timer_heap: the lanes' timers, earliest first, each leaving in O(log n) when cancelled.
#include "support/catch.hpp"

#include <sse/detail/timer_heap.hpp>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

using sse::detail::timer_heap;
using sse::detail::timer_node;
using std::chrono::milliseconds;

namespace {

const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);

// Queues every node in `h`, each due at a random time within `spread_ms` of t0.
void push_random(timer_heap& h, std::vector<timer_node>& nodes, unsigned seed, unsigned spread_ms)
{
    std::mt19937 rng(seed);
    for (auto& n : nodes) {
        n.due = t0 + milliseconds(rng() % spread_ms);
        h.push(n);
    }
}

} // namespace

TEST_CASE("timer_heap: timers come out earliest first, and only once due", "[timer_heap]")
{
    std::vector<timer_node> nodes(200);
    timer_heap h;
    push_random(h, nodes, 7, 50); // many share a due time
    CHECK(std::all_of(nodes.begin(), nodes.end(), [](auto& n) { return n.queued(); }));
    CHECK(h.size() == nodes.size());
    CHECK(h.pop_due(t0 - milliseconds(1)) == nullptr); // none due yet

    std::vector<timer_node*> out;
    while (auto* n = h.pop_due(t0 + milliseconds(24))) out.push_back(n);
    for (auto* n : out) CHECK(n->due <= t0 + milliseconds(24));
    CHECK(std::is_sorted(out.begin(), out.end(), [](auto* a, auto* b) { return a->due < b->due; }));
    REQUIRE(h.top() != nullptr);
    CHECK(h.top()->due > t0 + milliseconds(24));
    while (auto* n = h.pop_due(t0 + milliseconds(100))) out.push_back(n);
    CHECK(out.size() == nodes.size());
    CHECK(h.empty());
    CHECK(std::none_of(nodes.begin(), nodes.end(), [](auto& n) { return n.queued(); }));
}

TEST_CASE("timer_heap: a removed timer never comes out, and the rest keep their order", "[timer_heap]")
{
    std::vector<timer_node> nodes(300);
    timer_heap h;
    push_random(h, nodes, 11, 1000);
    std::vector<bool> removed(nodes.size());
    for (std::size_t i = 0; i < nodes.size(); i += 3) { // from anywhere in the heap
        h.remove(nodes[i]);
        removed[i] = true;
        CHECK_FALSE(nodes[i].queued());
    }
    h.remove(nodes[0]); // twice: nothing happens
    CHECK(h.size() == nodes.size() - (nodes.size() + 2) / 3);

    std::vector<timer_node*> out;
    while (auto* n = h.pop_due(t0 + std::chrono::hours(1))) out.push_back(n);
    CHECK(out.size() == nodes.size() - (nodes.size() + 2) / 3);
    CHECK(std::is_sorted(out.begin(), out.end(), [](auto* a, auto* b) { return a->due < b->due; }));
    for (auto* n : out) CHECK_FALSE(removed[static_cast<std::size_t>(n - nodes.data())]);

    timer_node again;
    again.due = t0;
    h.push(again); // a node may be queued again once out
    CHECK(h.pop_due(t0) == &again);
}
