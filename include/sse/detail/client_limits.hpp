// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_CLIENT_LIMITS_HPP
#define ASIO_SSE_DETAIL_CLIENT_LIMITS_HPP

#include <sse/detail/asio.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <unordered_map>

namespace sse::detail {

/** @brief Per-client admission (sans-I/O): at most `max_open` concurrent connections and a
    token bucket of `burst` new connections refilled at `rate` per second, per client address.

    A client is an IPv4 address, or an IPv6 /64 (one host usually owns a whole /64).
    Memory stays bounded: a client's entry goes once it has no connection and a full bucket
    (swept lazily, amortized O(1) per admission). A limit of 0 is no limit; with both off
    nothing is tracked. Thread-safe: admissions and releases come from any thread.
*/
class client_limits {
public:
    using clock = std::chrono::steady_clock;
    using key = std::array<unsigned char, 16>;
    enum class verdict { admitted, too_many, too_fast };

    client_limits(std::size_t max_open, double rate, std::size_t burst) noexcept
        : max_open_(max_open), rate_(rate > 0 ? rate : 0), burst_(rate > 0 ? static_cast<double>(std::max<std::size_t>(burst, 1)) : 0)
    {
    }

    /// True if any limit applies (else `admit` always admits and nothing is tracked).
    bool enabled() const noexcept { return max_open_ != 0 || rate_ != 0; }

    /// The client of `a`: the IPv4 address (IPv4-mapped IPv6 too), or the IPv6 /64.
    static key client_of(const asio::ip::address& a) noexcept
    {
        if (a.is_v4()) return asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4()).to_bytes();
        key k = a.to_v6().to_bytes();
        if (!a.to_v6().is_v4_mapped()) std::fill(k.begin() + 8, k.end(), static_cast<unsigned char>(0));
        return k;
    }

    /// Counts a new connection from `k` if the limits allow it; if admitted, `release(k)` must follow.
    verdict admit(const key& k, clock::time_point now = clock::now())
    {
        if (!enabled()) return verdict::admitted;
        std::lock_guard<std::mutex> lock(mu_);
        if (clients_.size() >= sweep_at_) sweep(now);
        entry& e = clients_.try_emplace(k, entry{0, burst_, now}).first->second;
        if (max_open_ != 0 && e.open >= max_open_) return verdict::too_many;
        if (rate_ != 0) {
            refill(e, now);
            if (e.tokens < 1) return verdict::too_fast;
            e.tokens -= 1;
        }
        ++e.open;
        return verdict::admitted;
    }

    /// Ends a connection `admit` counted.
    void release(const key& k, clock::time_point now = clock::now())
    {
        if (!enabled()) return;
        std::lock_guard<std::mutex> lock(mu_);
        auto it = clients_.find(k);
        if (it == clients_.end()) return;
        if (--it->second.open == 0 && idle(it->second, now)) clients_.erase(it);
    }

    /// Clients tracked now (for tests and diagnostics).
    std::size_t tracked() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return clients_.size();
    }

private:
    struct entry {
        std::size_t open;
        double tokens;
        clock::time_point refilled;
    };
    struct key_hash {
        std::size_t operator()(const key& k) const noexcept
        {
            std::size_t h = 1469598103934665603ull;
            for (unsigned char c : k) h = (h ^ c) * 1099511628211ull;
            return h;
        }
    };

    void refill(entry& e, clock::time_point now) const noexcept
    {
        const std::chrono::duration<double> dt = now - e.refilled;
        e.tokens = std::min(burst_, e.tokens + dt.count() * rate_);
        e.refilled = now;
    }

    bool idle(entry& e, clock::time_point now) const noexcept
    {
        if (e.open != 0) return false;
        if (rate_ == 0) return true;
        refill(e, now);
        return e.tokens >= burst_;
    }

    // Under mu_: drops idle clients; the next sweep waits until the map has doubled.
    void sweep(clock::time_point now)
    {
        for (auto it = clients_.begin(); it != clients_.end();)
            it = idle(it->second, now) ? clients_.erase(it) : std::next(it);
        sweep_at_ = std::max<std::size_t>(64, 2 * clients_.size());
    }

    const std::size_t max_open_;
    const double rate_, burst_;
    mutable std::mutex mu_;
    std::unordered_map<key, entry, key_hash> clients_;
    std::size_t sweep_at_ = 64;
};

} // namespace sse::detail

#endif
