// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_REDIS_CLIENT_HPP
#define ASIO_SSE_REDIS_CLIENT_HPP

#include <sse/detail/redis_link.hpp>
#include <sse/redis/options.hpp>

#include <memory>
#include <stdexcept>

namespace sse {

class redis_channel;

/** @brief A process's link to Redis, shared by its `sse::redis_channel`s: two connections (one
    for commands, one subscribed to the channels' feeds) on the user's execution context; no
    thread of its own. It connects at once, and whenever a connection drops it connects again
    after a backoff; `stats()` and `redis_options::on_state` tell how it goes.

    Keep it while the server runs; `close()` (or the destructor) ends both connections, after
    which publishes fail with `sse::error::shutting_down`. While it is open it keeps its
    execution context busy (timers): close it for `io_context::run()` to return.
    @par Thread Safety
    Every member function may be called from any thread.
*/
class redis_client {
public:
    using executor_type = detail::redis_link::strand_type;

    /// @throws std::invalid_argument for an empty host, a timeout or backoff that is not
    /// positive (or `backoff_initial > backoff_max`), a zero bound, or a negative database.
    explicit redis_client(const asio::any_io_executor& ex, redis_options options = {})
        : link_(std::make_shared<detail::redis_link>(ex, checked(std::move(options))))
    {
        asio::dispatch(link_->strand(), [l = link_] { l->start(); });
    }

    /// The same, on `ctx`'s executor (e.g. an `asio::io_context`).
    template <class ExecutionContext, class = std::enable_if_t<std::is_convertible_v<ExecutionContext&, asio::execution_context&>>>
    explicit redis_client(ExecutionContext& ctx, redis_options options = {})
        : redis_client(asio::any_io_executor(ctx.get_executor()), std::move(options))
    {
    }

    redis_client(const redis_client&) = delete;
    redis_client& operator=(const redis_client&) = delete;

    ~redis_client() { close(); }

    /// Ends both connections; what waits for Redis fails with `sse::error::shutting_down`.
    void close()
    {
        asio::dispatch(link_->strand(), [l = link_] { l->stop(); });
    }

    /// The link's counters, now.
    redis_stats stats() const { return link_->stats(); }

    /// The strand the link runs on (where `on_state` and publish completions run by default).
    executor_type get_executor() const { return link_->strand(); }

private:
    friend class redis_channel;

    static redis_options checked(redis_options o)
    {
        auto positive = [](std::chrono::milliseconds d, const char* what) {
            if (d.count() <= 0 || d > std::chrono::hours(24 * 365))
                throw std::invalid_argument(std::string("sse::redis_options: ") + what + " must be in (0, 365 days]");
        };
        if (o.host.empty()) throw std::invalid_argument("sse::redis_options: empty host");
        positive(o.connect_timeout, "connect_timeout");
        positive(o.command_timeout, "command_timeout");
        positive(o.ping_interval, "ping_interval");
        positive(o.backoff_initial, "backoff_initial");
        positive(o.backoff_max, "backoff_max");
        positive(o.outbox_wait, "outbox_wait");
        if (o.backoff_initial > o.backoff_max) throw std::invalid_argument("sse::redis_options: backoff_initial > backoff_max");
        if (o.outbox_bytes == 0 || o.max_reply_bytes == 0 || o.max_reply_elements == 0)
            throw std::invalid_argument("sse::redis_options: outbox_bytes, max_reply_bytes and max_reply_elements must not be 0");
        if (o.database < 0) throw std::invalid_argument("sse::redis_options: negative database");
        return o;
    }

    std::shared_ptr<detail::redis_link> link_;
};

} // namespace sse

#endif
