// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_SERVER_STATE_HPP
#define ASIO_SSE_DETAIL_SERVER_STATE_HPP

#include <sse/detail/asio.hpp>
#include <sse/detail/client_limits.hpp>
#include <sse/detail/lane.hpp>
#include <sse/detail/sessions.hpp>
#include <sse/detail/shared_buffer.hpp>
#include <sse/options.hpp>
#include <sse/stats.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

namespace sse::detail {

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

    /// Its connections and streams (see `registered`).
    session_list sessions;

private:
    lane_service& lanes_;
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

/// Registers a session, from `enroll` until `leave` or destruction. Its owner serializes the
/// calls (a stream under its lock).
class registered {
public:
    registered(std::shared_ptr<server_state> state) : state_(std::move(state)) {}
    registered(const registered&) = delete;
    registered& operator=(const registered&) = delete;
    ~registered() { leave(); }
    void enroll(std::weak_ptr<session> s) { entry_ = state_->sessions.add(std::move(s)); }
    /// Ends the registration early (a closed stream the application still holds is not a
    /// session: the server's sweep and stop() no longer wait for it).
    void leave()
    {
        if (entry_) state_->sessions.remove(std::exchange(entry_, nullptr));
    }
    /// The server's sweep may pass the session by until `t` (`time_point::min()`: it visits at
    /// its next round). Nothing once left.
    void next_sweep(std::chrono::steady_clock::time_point t) noexcept
    {
        if (entry_) entry_->due.store(t.time_since_epoch().count(), std::memory_order_relaxed);
    }
    server_state& state() const noexcept { return *state_; }
    const std::shared_ptr<server_state>& state_ptr() const noexcept { return state_; }

private:
    std::shared_ptr<server_state> state_;
    session_list::entry* entry_ = nullptr;
};

} // namespace sse::detail

#endif
