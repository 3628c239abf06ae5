// The benchmark's publishing rule, shared by sse-bench-server and its C++ peers (cpp-httplib,
// RESTinio, Boost.Beast; node_server.js has the same rule in JavaScript). No Asio, no I/O: the
// caller ticks (a 1 ms timer of its own kind) and asks what the tick at `now` is to do.
//
// Events fall due at `rate` per second from `start`. Each tick publishes the events that fell due
// since the previous tick, at most max(1, ceil(rate x catch_up / 1 s)) of them; the older ones
// slip (are never published) and are counted. So a late tick catches up at most `catch_up`:
//   catch_up = 1 ms: a late tick is not caught up, ceil(R / 1000) events per 1 ms tick at most
//                    (Node's classic setInterval(1 ms) rule);
//   catch_up = 5 ms: asio-sse's default (sse-bench-server --catch-up-ms).
// Whenever R x C / 1000 is whole (every rate and rule run.sh uses) the cap is exactly that.
#ifndef ASIO_SSE_BENCH_TICK_RULE_HPP
#define ASIO_SSE_BENCH_TICK_RULE_HPP

#include <algorithm>
#include <chrono>

namespace bench {

class tick_rule {
public:
    using clock = std::chrono::steady_clock;

    /// What one tick does: publish `send` events now; `slipped` more fell due but are skipped.
    struct step {
        long long send = 0;
        long long slipped = 0;
    };

    tick_rule(long long rate, std::chrono::milliseconds catch_up, clock::time_point start = clock::now()) noexcept
        : rate_(std::max(0LL, rate)), start_(start),
          most_(std::max(1LL, (rate_ * std::max(0LL, static_cast<long long>(catch_up.count())) + 999) / 1000))
    {
    }

    /// The tick at `now` (not before the previous one's): how many events to publish, how many slip.
    step at(clock::time_point now) noexcept
    {
        const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(now - start_).count();
        const long long due = std::max(0LL, static_cast<long long>(elapsed)) * rate_ / 1000000;
        step s;
        if (due - done_ > most_) {
            s.slipped = due - done_ - most_;
            done_ = due - most_;
            slipped_ += s.slipped;
        }
        if (due > done_) {
            s.send = due - done_;
            done_ = due;
            published_ += s.send;
        }
        return s;
    }

    /// Events published (returned in `send`) so far.
    long long published() const noexcept { return published_; }
    /// Events that slipped so far.
    long long slipped() const noexcept { return slipped_; }
    /// The most one tick publishes: max(1, ceil(rate x catch_up / 1 s)).
    long long most_per_tick() const noexcept { return most_; }

private:
    long long rate_;
    clock::time_point start_;
    long long most_;
    long long done_ = 0; // events published or slipped: the index of the next one due
    long long published_ = 0, slipped_ = 0;
};

} // namespace bench

#endif
