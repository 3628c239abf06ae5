// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_SERVER_STATE_HPP
#define ASIO_SSE_DETAIL_SERVER_STATE_HPP

#include <sse/detail/asio.hpp>
#include <sse/detail/client_limits.hpp>
#include <sse/detail/lane.hpp>
#include <sse/detail/shared_buffer.hpp>
#include <sse/options.hpp>
#include <sse/stats.hpp>

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace sse::detail {

/// Anything a stopping server must end: a connection still reading its head, or a stream.
class session {
public:
    virtual ~session() = default;
    /// Ends the session soon (flushing what a stream has queued, within the shutdown timeout).
    /// Safe from any thread.
    virtual void shutdown() = 0;
    /// Periodic housekeeping driven by the server (heartbeats, deadlines). Safe from any thread.
    virtual void sweep(std::chrono::steady_clock::time_point) {}
};

/// What a server shares with its connections and streams; outlives all of them.
struct server_state {
    server_state(server_options o, const asio::any_io_executor& ex)
        : options(o),
          clients(o.max_connections_per_client, o.connection_rate_per_client, o.connection_burst_per_client),
          lanes_(lane_service::of(ex).with_lanes(ex))
    {
    }

    const server_options options;

    /// The next of the strands streams share (see `lane_service`); safe from any thread. (A
    /// connection reading its head has a strand of its own.)
    lane& next_lane() { return lanes_.next(); }

    /// Tells the lifecycle hook, if any; never throws.
    void tell(lifecycle_event::kind what, const asio::ip::address& remote, std::string_view path = {}, int status = 0,
              std::error_code reason = {}) noexcept
    {
        if (!options.on_lifecycle) return;
        try {
            options.on_lifecycle(lifecycle_event{what, remote, path, status, reason});
        } catch (...) {
            bump(stats.handler_errors);
        }
    }
    counters stats;
    client_limits clients;
    std::atomic<bool> stopping{false};
    /// Sent to every stream by `stop(final)`; written before `stopping` is set.
    shared_buffer final_event;

    using registration = std::list<std::weak_ptr<session>>::iterator;

    registration add(std::weak_ptr<session> s)
    {
        std::lock_guard<std::mutex> lock(mu_);
        return sessions_.insert(sessions_.end(), std::move(s));
    }

    void remove(registration r)
    {
        std::lock_guard<std::mutex> lock(mu_);
        sessions_.erase(r);
    }

    /// The sessions alive now.
    std::vector<std::shared_ptr<session>> live()
    {
        std::vector<std::shared_ptr<session>> out;
        std::lock_guard<std::mutex> lock(mu_);
        out.reserve(sessions_.size());
        for (auto& w : sessions_)
            if (auto s = w.lock()) out.push_back(std::move(s));
        return out;
    }

private:
    lane_service& lanes_;
    std::mutex mu_;
    std::list<std::weak_ptr<session>> sessions_;
};

/// One accepted TCP connection counted in `connections_open` (and, with `client`, admitted by
/// `server_state::clients`), from accept until its socket closes (the stream that takes the
/// socket over takes the slot too, and counts itself in its route's open streams with it).
/// Its holder keeps the server state alive (`registered`).
class connection_slot {
public:
    connection_slot() = default;
    connection_slot(server_state& state, std::optional<client_limits::key> client) : state_(&state), client_(client)
    {
        bump(state_->stats.connections_open);
    }
    connection_slot(connection_slot&& other) noexcept
        : state_(std::exchange(other.state_, nullptr)), client_(std::exchange(other.client_, std::nullopt)),
          route_streams_(std::move(other.route_streams_))
    {
    }
    connection_slot& operator=(connection_slot&& other) noexcept
    {
        release();
        state_ = std::exchange(other.state_, nullptr);
        client_ = std::exchange(other.client_, std::nullopt);
        route_streams_ = std::move(other.route_streams_);
        return *this;
    }
    ~connection_slot() { release(); }

    /// Counts the connection in `streams` (a route's open streams) too, until release.
    void count_in(std::shared_ptr<std::atomic<std::size_t>> streams) noexcept
    {
        streams->fetch_add(1, std::memory_order_relaxed);
        route_streams_ = std::move(streams);
    }

    void release() noexcept
    {
        if (state_) {
            state_->stats.connections_open.fetch_sub(1, std::memory_order_relaxed);
            if (client_) state_->clients.release(*client_);
        }
        if (route_streams_) route_streams_->fetch_sub(1, std::memory_order_relaxed);
        state_ = nullptr;
        client_.reset();
        route_streams_.reset();
    }

private:
    server_state* state_ = nullptr;
    std::optional<client_limits::key> client_;
    std::shared_ptr<std::atomic<std::size_t>> route_streams_;
};

/// Registers a session for its lifetime (remove on destruction).
class registered {
public:
    registered(std::shared_ptr<server_state> state) : state_(std::move(state)) {}
    registered(const registered&) = delete;
    registered& operator=(const registered&) = delete;
    ~registered()
    {
        if (active_) state_->remove(reg_);
    }
    void enroll(std::weak_ptr<session> s)
    {
        reg_ = state_->add(std::move(s));
        active_ = true;
    }
    /// Ends the registration early (a closed stream the application still holds is not a
    /// session: the server's sweep and stop() no longer wait for it).
    void leave()
    {
        if (active_) state_->remove(reg_);
        active_ = false;
    }
    server_state& state() const noexcept { return *state_; }
    const std::shared_ptr<server_state>& state_ptr() const noexcept { return state_; }

private:
    std::shared_ptr<server_state> state_;
    server_state::registration reg_{};
    bool active_ = false;
};

} // namespace sse::detail

#endif
