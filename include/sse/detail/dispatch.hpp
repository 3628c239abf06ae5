// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_DISPATCH_HPP
#define ASIO_SSE_DETAIL_DISPATCH_HPP

#include <sse/authorization.hpp>
#include <sse/detail/cors.hpp>
#include <sse/detail/router.hpp>
#include <sse/detail/server_state.hpp>
#include <sse/detail/socket_stream.hpp>
#include <sse/response.hpp>
#include <sse/stream.hpp>

#include <algorithm>
#include <any>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sse::detail {

/// The CORS grant of `r`'s route (none if the route has no policy).
inline std::vector<std::pair<std::string, std::string>> grant_for(const route& rt, const request& r)
{
    return rt.options.cors ? cors_grant(*rt.options.cors, r) : std::vector<std::pair<std::string, std::string>>();
}

/** @brief What the server does with one request, whatever carries it (an HTTP/1.1 connection
    or an HTTP/2 stream): routing and its refusals, plain answers, authorization, stream limits
    and the opening of the stream. No I/O: the carrier writes the responses it returns and
    makes the stream's transport. */
class dispatch {
public:
    dispatch(server_state& state, const router& routes) noexcept : state_(&state), routes_(&routes) {}

    /** @brief Routes the head of `req` (its body, if `has_body`, follows: `content_length` of
        it, or chunked). Returns the error answer when the request is refused (the server is
        stopping, no route, a method the stream route does not take, a body on a GET stream,
        a body over `max_body_bytes`). */
    std::optional<response> route_head(request& req, bool has_body, std::size_t content_length)
    {
        if (state_->stopping.load(std::memory_order_acquire)) return error(503);
        int status = 0;
        route_ = routes_->find(req, status);
        if (!route_) return error(status);
        preflight_ = req.method() == "OPTIONS" && route_->options.cors;
        wants_stream_ = !preflight_ && route_->on_stream && (!route_->on_request || req.accepts_event_stream());
        if (wants_stream_) {
            const auto& methods = route_->stream_methods;
            if (std::find(methods.begin(), methods.end(), req.method()) == methods.end()) {
                response r(405, "405 Method Not Allowed\n");
                r.header("Allow", joined(methods));
                return r;
            }
            if (has_body && (req.method() == "GET" || req.method() == "HEAD"))
                return response(400, "400 Bad Request: a GET or HEAD stream request takes no body\n");
        }
        if (content_length > state_->options.max_body_bytes) return error(413);
        return std::nullopt;
    }

    /// Whether the routed request opens a stream (else it gets `answer()`).
    bool wants_stream() const noexcept { return wants_stream_; }
    /// Whether the stream route asks an `authorize` hook first.
    bool needs_authorization() const noexcept { return route_->options.authorize != nullptr; }

    /// The server's answer for `status` (a 503 says when to retry).
    response error(int status) const
    {
        response r = error_response(status);
        if (status == 503) r.header("Retry-After", std::to_string(state_->options.retry_after.count()));
        return r;
    }

    /** @brief The error answer `r` as sent: counted, told to the lifecycle hook (with the path
        when the head was parsed) and, for a routed request, with its route's CORS grant, so that
        a page on an allowed origin can read the status. */
    response refused(response r, const request& req, const asio::ip::address& remote, bool head_parsed) const
    {
        if (route_)
            for (auto& h : grant_for(*route_, req)) r.header(std::move(h.first), std::move(h.second));
        bump(state_->stats.requests_rejected);
        state_->tell(lifecycle_event::kind::rejected, remote, head_parsed ? req.path() : std::string_view(), r.status());
        return r;
    }

    /// The plain answer: a CORS preflight, or the route's handler with its grant (500,
    /// counted, if the handler throws).
    response answer(const request& req) const
    {
        if (preflight_) return cors_preflight(*route_->options.cors, req, preflight_methods());
        try {
            response r = route_->on_request(req);
            for (auto& h : grant_for(*route_, req)) r.header(std::move(h.first), std::move(h.second));
            return r;
        } catch (...) {
            bump(state_->stats.handler_errors);
            return error(500);
        }
    }

    /// Asks the route's hook; `to` gets the decision, from any thread. False (counted) if the
    /// hook threw before deciding: the carrier answers 500.
    bool authorize(const request& req, std::function<void(auth_decision)> to) const
    {
        try {
            route_->options.authorize(req, authorization_access::make(std::move(to)));
            return true;
        } catch (...) {
            bump(state_->stats.handler_errors);
            return false;
        }
    }

    /// A decision denies: counted; the answer to send.
    response denied(auth_decision& d) const
    {
        bump(state_->stats.authorization_denied);
        return std::move(*d.denial);
    }

    /// Whether the server's and the route's stream limits let one more stream open.
    bool stream_allowed() const noexcept
    {
        const auto& o = state_->options;
        const auto& ro = route_->options;
        return !(o.max_streams && state_->stats.streams_open.load() >= o.max_streams) &&
               !(ro.max_streams && route_->streams->load() >= ro.max_streams);
    }

    /** @brief Opens the stream `make(std::move(req), std::move(slot))` makes (the transport's
        `sse::stream`), counted in its route: the handler runs (500 if it throws), then the
        stream answers. */
    template <class Make>
    void open(request req, std::any user, connection_slot slot, Make&& make) const
    {
        slot.count_in(route_->streams);
        stream_ptr s = make(std::move(req), std::move(slot));
        s->user() = std::move(user);
        auto grant = grant_for(*route_, s->request());
        try {
            route_->on_stream(s);
        } catch (...) {
            bump(state_->stats.handler_errors);
            try {
                s->reject(error_response(500));
            } catch (const std::logic_error&) {
            }
        }
        stream_access::open(*s, std::move(grant));
    }

private:
    // What a preflight allows: the stream route's methods, and a plain route's usual ones.
    std::string preflight_methods() const
    {
        std::vector<std::string> methods = route_->stream_methods;
        if (route_->on_request)
            for (const char* m : {"GET", "HEAD", "POST"})
                if (std::find(methods.begin(), methods.end(), m) == methods.end()) methods.emplace_back(m);
        return joined(methods);
    }

    server_state* state_;
    const router* routes_;
    const route* route_ = nullptr;
    bool preflight_ = false, wants_stream_ = false;
};

} // namespace sse::detail

#endif
