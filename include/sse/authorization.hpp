// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_AUTHORIZATION_HPP
#define ASIO_SSE_AUTHORIZATION_HPP

#include <sse/request.hpp>
#include <sse/response.hpp>

#include <any>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

namespace sse {

namespace detail {
struct authorization_access;

/// A decision on one stream request: allowed (with the user value), denied (with the answer),
/// or abandoned (nobody decided).
struct auth_decision {
    enum class kind { allow, deny, abandon } what;
    std::optional<response> denial;
    std::any user;
};
} // namespace detail

/** @brief The answer a route's `authorize` hook owes one stream request: `allow()` it (with
    a user value) or `deny()` it (with a response). See `route_options::authorize`.

    Copyable; all copies share one decision: the first call wins, later ones do nothing and
    return false. Call it inside the hook or later, from any thread (e.g. once another service
    has answered). If the client is gone, the head timeout has passed or the server has stopped
    meanwhile, the decision is ignored. If every copy is destroyed undecided, the connection
    closes at once (as at the head timeout), so the client reconnects.
    @par Thread Safety
    Safe from any thread, while the server's execution context exists.
*/
class authorization {
public:
    /** @brief Opens the stream. `user` becomes the stream's `user()` before the route's
        handler runs (e.g. the authenticated user, for the handler and for channel filters).
        @return false if a decision was already made. */
    bool allow(std::any user = {}) const
    {
        return decide(decision{decision::kind::allow, std::nullopt, std::move(user)});
    }

    /** @brief Refuses the stream with `r` (e.g. 401 or 403 with a body); the connection then
        closes. A browser's `EventSource` gives up for good on any non-200 answer.
        @return false if a decision was already made. */
    bool deny(response r) const { return decide(decision{decision::kind::deny, std::move(r), {}}); }

    /// Refuses with `status` and its reason phrase as the body.
    bool deny(int status) const
    {
        return deny(detail::error_response(status));
    }

private:
    friend struct detail::authorization_access;
    using decision = detail::auth_decision;
    using sink = std::function<void(decision)>;

    struct state {
        explicit state(sink s) : to(std::move(s)) {}
        state(const state&) = delete;
        state& operator=(const state&) = delete;
        ~state()
        {
            if (!used.exchange(true)) to(decision{decision::kind::abandon, std::nullopt, {}});
        }
        std::atomic<bool> used{false};
        sink to;
    };

    explicit authorization(sink s) : state_(std::make_shared<state>(std::move(s))) {}

    bool decide(decision d) const
    {
        if (state_->used.exchange(true)) return false;
        state_->to(std::move(d));
        return true;
    }

    std::shared_ptr<state> state_;
};

namespace detail {
/// What the server (and only the server) does with an `authorization`.
struct authorization_access {
    static authorization make(std::function<void(auth_decision)> to) { return authorization(std::move(to)); }
};
} // namespace detail

} // namespace sse

#endif
