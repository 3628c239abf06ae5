// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_REDIS_OPTIONS_HPP
#define ASIO_SSE_REDIS_OPTIONS_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>

namespace sse {

/** @brief How a `sse::redis_client` reaches Redis, with the defaults. */
struct redis_options {
    std::string host = "127.0.0.1"; ///< a name or an address
    std::uint16_t port = 6379;
    /// `AUTH`: a password alone (`requirepass`), or an ACL user and its password.
    std::string user, password;
    int database = 0;              ///< `SELECT` (the log's keys live there; pub/sub spans all)
    std::string key_prefix = "sse:"; ///< the start of every key and pub/sub channel name used

    std::chrono::milliseconds connect_timeout{2000}; ///< resolve + connect + AUTH/SELECT
    std::chrono::milliseconds command_timeout{2000}; ///< for each reply (then the connection is closed)
    std::chrono::milliseconds ping_interval{5000};   ///< a PING on the subscriber connection when idle
    /// Reconnection waits: from `backoff_initial`, doubled after each failure up to `backoff_max`
    /// (refused credentials wait `backoff_max` straight away: no retry storm).
    std::chrono::milliseconds backoff_initial{100}, backoff_max{5000};

    /// The outbox: commands (publishes, fetches) not yet answered, at most these bytes. A publish
    /// that does not fit fails at once with `sse::error::queue_overflow`; one that waits longer
    /// than `outbox_wait` for Redis to come back fails with `sse::error::redis_unreachable`.
    std::size_t outbox_bytes = 4 * 1024 * 1024;
    std::chrono::milliseconds outbox_wait{10000};

    /// A reply may not be larger than this, nor an array longer than `max_reply_elements`:
    /// beyond, the connection is closed (`sse::error::redis_protocol`) and made again.
    std::size_t max_reply_bytes = 64 * 1024 * 1024;
    std::size_t max_reply_elements = 1024 * 1024;

    /// Told each time the link to Redis comes up (`up`, no error) or goes down or fails to come
    /// up (`why`). Runs on the client's strand: keep it short; an exception it throws is swallowed.
    std::function<void(bool up, std::error_code why)> on_state;
};

/** @brief A `sse::redis_client`'s counters (see `redis_client::stats()`). */
struct redis_stats {
    bool connected = false;          ///< both connections are up
    std::uint64_t connects = 0;      ///< connections made (and past AUTH/SELECT)
    std::uint64_t connect_failures = 0, disconnects = 0;
    std::uint64_t protocol_errors = 0;           ///< replies that were malformed or over the bounds
    std::uint64_t commands = 0, command_errors = 0; ///< commands answered; of them, failed
    std::uint64_t outbox_bytes = 0;              ///< bytes of commands not yet answered, now
    std::uint64_t outbox_overflows = 0, outbox_expired = 0; ///< commands refused / given up waiting
    std::error_code last_error;                 ///< the last connection failure, if any
};

} // namespace sse

#endif
