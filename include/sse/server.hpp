// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_SERVER_HPP
#define ASIO_SSE_SERVER_HPP

#include <sse/detail/asio.hpp>
#include <sse/detail/checked_options.hpp>
#include <sse/detail/connection.hpp>
#include <sse/detail/router.hpp>
#include <sse/detail/server_state.hpp>
#include <sse/detail/transport.hpp>
#include <sse/event.hpp>
#include <sse/options.hpp>
#include <sse/stats.hpp>
#include <sse/stream.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sse {

namespace detail {
struct server_access; // what another protocol's component (HTTP/2) sets on a server
} // namespace detail

/** @brief An SSE server over the transport `Socket`: owns an acceptor, routes each request by
    path (exact, or a pattern like `/rooms/{id}`), and hands stream requests to the route's
    handler as an `sse::stream`.

    The server never starts threads: run its `io_context` on one thread or many. Add routes,
    `listen()`, then `start()`; `stop()` ends it gracefully.
    @code
    asio::io_context io;
    sse::server srv(io);
    srv.on_stream("/events", [](sse::stream_ptr s) {
        s->every(std::chrono::seconds(1), [s] { s->send(sse::event("tick")); });
    });
    srv.listen("127.0.0.1", 3000);
    srv.start();
    io.run();
    @endcode
    @par Thread Safety
    Add routes and listen before `start()`, from one thread. `start()`, `stop()`, `stats()` and
    `local_endpoint()` may be called from any thread. The server must be destroyed before
    its execution context.
*/
template <class Socket>
class basic_server {
    using transport = detail::transport<Socket>;

public:
    using socket_type = Socket;
    using executor_type = asio::any_io_executor;
    using endpoint_type = asio::ip::tcp::endpoint;
    /// Called for each accepted stream, before it answers; may `reject()` it.
    using stream_handler = std::function<void(stream_ptr)>;
    /// Called for each request on a plain route; returns the response.
    using request_handler = std::function<response(const request&)>;

    /// The transport's settings: nothing for plain TCP; for TLS a
    /// `std::shared_ptr<asio::ssl::context>` (see `sse/tls.hpp`).
    using context_type = typename transport::context;

    /** @brief A server whose connections run on `ex`; `ctx` is what the transport needs to
        make sockets. @throws std::invalid_argument if `ctx` is unusable (a null TLS context),
        or an option is out of range (see `server_options`). */
    basic_server(executor_type ex, context_type ctx, server_options options = {})
        : impl_(std::make_shared<impl>(std::move(ex), checked(std::move(ctx)), options))
    {
    }

    /// A server whose connections run on `io`, with the transport's `ctx`.
    basic_server(asio::io_context& io, context_type ctx, server_options options = {})
        : basic_server(io.get_executor(), std::move(ctx), options)
    {
    }

    /// A plain-TCP server whose connections run on `ex`.
    template <class S = Socket, class = std::enable_if_t<std::is_same_v<S, asio::ip::tcp::socket>>>
    explicit basic_server(executor_type ex, server_options options = {})
        : basic_server(std::move(ex), typename transport::context{}, options)
    {
    }

    /// A plain-TCP server whose connections run on `io`.
    template <class S = Socket, class = std::enable_if_t<std::is_same_v<S, asio::ip::tcp::socket>>>
    explicit basic_server(asio::io_context& io, server_options options = {})
        : basic_server(io.get_executor(), typename transport::context{}, options)
    {
    }

    basic_server(const basic_server&) = delete;
    basic_server& operator=(const basic_server&) = delete;

    /// Stops the server (see `stop()`).
    ~basic_server() { stop(); }

    executor_type get_executor() const noexcept { return impl_->ex; }

    /** @brief Serves `path` (query ignored) as an event stream: `handler` gets each new stream.
        `path` is exact (`/events`) or a pattern: a `{name}` segment matches one non-empty
        segment and a last `*` the rest of the path, read with `request::param("name")` /
        `param("*")`, percent-decoded once; a value with a malformed escape, invalid UTF-8 or NUL
        gets 400. An exact path beats any pattern; among patterns, at the first segment where
        they differ, a literal beats `{name}`, which beats `*` (`/rooms/lobby/{x}` over
        `/rooms/{id}/{x}`). GET and HEAD only (others get 405); a request with a body gets 400.
        If `path` also has a plain route, requests whose `Accept` lists `text/event-stream` come
        here and the others go to the plain route. `handler` runs on one of the server's threads,
        not on the stream's strand (every stream member function is safe from any thread).
        @throws std::invalid_argument if `path` does not start with `/`, is a malformed pattern,
        or is ambiguous (same shape as another, e.g. `/rooms/{id}` and `/rooms/{name}`).
        @throws std::logic_error after `start()`. */
    void on_stream(std::string path, stream_handler handler, route_options options = {})
    {
        if (options.methods.empty()) throw std::invalid_argument("sse::server: a stream route needs a method");
        for (const auto& m : options.methods)
            if (m.empty() || !response::valid_header(m, "")) throw std::invalid_argument("sse::server: bad method \"" + m + "\"");
        std::vector<std::string> methods = options.methods;
        auto& r = mutable_route(std::move(path), std::move(options));
        r.on_stream = std::move(handler);
        r.stream_methods = std::move(methods);
    }

    /** @brief Serves `path` (exact or a pattern, matched as for `on_stream()`: `/rooms/{id}`,
        a trailing `*`, 400 for a bad parameter) with one response per request, any method; the
        connection stays open for the next request when the client allows it. `options`
        (CORS) apply to the whole path, stream route included.
        @throws std::invalid_argument as for `on_stream()` (a malformed or ambiguous pattern).
        @throws std::logic_error after `start()`. */
    void on_request(std::string path, request_handler handler, route_options options = {})
    {
        mutable_route(std::move(path), std::move(options)).on_request = std::move(handler);
    }

    /// Opens the acceptor on `ep` (port 0 picks a free port); `ec` says why it failed.
    void listen(const endpoint_type& ep, std::error_code& ec)
    {
        auto& a = impl_->acceptor;
        detail::asio_error_code e;
        a.open(ep.protocol(), e);
        if (!e) a.set_option(asio::socket_base::reuse_address(true), e);
        if (!e) a.bind(ep, e);
        if (!e) a.listen(asio::socket_base::max_listen_connections, e);
        if (e && a.is_open()) {
            detail::asio_error_code ignored;
            a.close(ignored);
        }
        ec = e;
    }

    /// Opens the acceptor on `ep`. @throws std::system_error (e.g. the port is in use).
    void listen(const endpoint_type& ep)
    {
        std::error_code ec;
        listen(ep, ec);
        if (ec) throw std::system_error(ec, "sse::server::listen");
    }

    /// Opens the acceptor on `address` (e.g. "127.0.0.1", "::") and `port`. @throws std::system_error.
    void listen(std::string_view address, unsigned short port)
    {
        detail::asio_error_code ec; // Asio's own throw would be boost::system::system_error on Boost.Asio
        const auto a = asio::ip::make_address(std::string(address), ec);
        if (ec) throw std::system_error(ec, "make_address");
        listen(endpoint_type(a, port));
    }

    /// The address and port listened on (the chosen port, after listening on port 0).
    endpoint_type local_endpoint() const
    {
        detail::asio_error_code ec;
        return impl_->acceptor.local_endpoint(ec);
    }

    /** @brief Starts accepting connections. @throws std::logic_error if not listening. */
    void start()
    {
        if (!impl_->acceptor.is_open()) throw std::logic_error("sse::server::start: call listen() first");
        impl_->started = true;
        asio::post(impl_->acceptor_strand, [i = impl_] {
            i->do_accept();
            i->do_sweep();
        });
    }

    /** @brief Stops gracefully: stops accepting, lets every stream flush what is queued (within
        `server_options::shutdown_timeout`), then closes every connection. Once they are gone,
        nothing of the server's is left on the executor, so `io_context::run()` can return.
        Idempotent; safe from any thread. */
    void stop() { stop_with({}); }

    /// As `stop()`, sending `final_event` to every open stream first.
    void stop(const event& final_event) { stop_with(detail::serialized(final_event)); }

    /// The server's counters, now.
    sse::stats stats() const noexcept { return impl_->state->stats.snapshot(); }

    /** @brief Replaces the transport's context for connections accepted from now on (e.g. a
        renewed TLS certificate, without a restart); open connections keep theirs.
        Safe from any thread. @throws std::invalid_argument if `ctx` is unusable. */
    template <class S = Socket, class = std::enable_if_t<!detail::transport<S>::plaintext>>
    void set_context(context_type ctx)
    {
        asio::dispatch(impl_->acceptor_strand, [i = impl_, c = checked(std::move(ctx))]() mutable {
            if (i->handoff.take) transport::offer_h2(c); // HTTP/2 enabled: offered on the new context too
            i->ctx = std::move(c);
        });
    }

private:
    friend struct detail::server_access;

    struct impl : std::enable_shared_from_this<impl> {
        impl(executor_type e, typename transport::context c, const server_options& o)
            : ex(std::move(e)), acceptor_strand(asio::make_strand(ex)), acceptor(acceptor_strand),
              backoff(acceptor_strand), sweeper(acceptor_strand), state(std::make_shared<detail::server_state>(detail::checked(o), ex)),
              routes(std::make_shared<detail::router>()), ctx(std::move(c))
        {
        }

        void do_accept()
        {
            acceptor.async_accept(ex, [self = this->shared_from_this()](std::error_code ec, asio::ip::tcp::socket s) {
                self->on_accept(ec, std::move(s));
            });
        }

        // Every session's housekeeping (heartbeats, stalled writes, close deadlines) on one timer:
        // each round visits the sessions due (see session_list). Once the server is stopping, it
        // visits every one, more often (stop() cuts its wait short), and ends when all are gone.
        void do_sweep()
        {
            const bool stopping = state->stopping.load(std::memory_order_acquire);
            sweeper.expires_after(stopping ? std::min(sweep_period(state->options), std::chrono::milliseconds(10))
                                           : sweep_period(state->options));
            sweeper.async_wait([self = this->shared_from_this()](std::error_code ec) {
                const bool stopping = self->state->stopping.load(std::memory_order_acquire);
                if (ec && !stopping) return;
                const auto now = std::chrono::steady_clock::now();
                auto live = stopping ? self->state->sessions.live() : self->state->sessions.due(now);
                if (live.empty() && stopping) return;
                for (auto& s : live) s->sweep(now);
                live.clear();
                self->do_sweep();
            });
        }

        static std::chrono::milliseconds sweep_period(const server_options& o)
        {
            auto p = std::min(o.write_timeout, o.shutdown_timeout) / 4;
            if (o.heartbeat.count() > 0) p = std::min(p, o.heartbeat / 4);
            return std::clamp<std::chrono::milliseconds>(p, std::chrono::milliseconds(5), std::chrono::seconds(1));
        }

        void on_accept(std::error_code ec, asio::ip::tcp::socket s)
        {
            if (ec == make_error_code(asio::error::operation_aborted) || !acceptor.is_open()) return;
            if (ec) {
                // e.g. out of file descriptors: back off instead of spinning
                backoff.expires_after(std::chrono::milliseconds(50));
                backoff.async_wait([self = this->shared_from_this()](std::error_code e) {
                    if (!e) self->do_accept();
                });
                return;
            }
            admit(std::move(s));
            accept_backlog();
            do_accept();
        }

        // Takes what else waits in the backlog now (at most a batch), so a server busy writing
        // still admits a burst of connections promptly instead of one per turn of its loop.
        void accept_backlog()
        {
            detail::asio_error_code ec;
            acceptor.non_blocking(true, ec);
            for (int i = 0; i < 64 && !ec; ++i) {
                asio::ip::tcp::socket s(ex);
                acceptor.accept(s, ec); // would_block ends the batch
                if (!ec) admit(std::move(s));
            }
        }

        void admit(asio::ip::tcp::socket s)
        {
            auto& st = *state;
            detail::bump(st.stats.connections_total);
            detail::asio_error_code ec;
            const auto remote = s.remote_endpoint(ec);
            if (ec || st.stopping.load(std::memory_order_acquire)) return;
            const auto& o = st.options;
            if (o.max_connections && st.stats.connections_open.load() >= o.max_connections) {
                detail::bump(st.stats.requests_rejected);
                refuse(s, 503);
                st.tell(lifecycle_event::kind::refused, remote.address(), {}, 503);
                return;
            }
            std::optional<detail::client_limits::key> client;
            if (st.clients.enabled()) {
                client = detail::client_limits::client_of(remote.address());
                const auto verdict = st.clients.admit(*client);
                if (verdict != detail::client_limits::verdict::admitted) {
                    detail::bump(verdict == detail::client_limits::verdict::too_many ? st.stats.client_limit_refusals
                                                                                     : st.stats.client_rate_refusals);
                    refuse(s, 429);
                    st.tell(lifecycle_event::kind::refused, remote.address(), {}, 429);
                    return;
                }
            }
            st.tell(lifecycle_event::kind::accepted, remote.address());
            s.set_option(asio::ip::tcp::no_delay(true), ec);
            auto c = std::make_shared<detail::connection<Socket>>(transport::wrap(std::move(s), ctx), asio::make_strand(ex),
                                                                  state, routes, detail::connection_slot(*state, client),
                                                                  remote.address(), &handoff);
            c->start();
        }

        // Over a limit: a best-effort `status` answer (plaintext only), never blocking, then close.
        void refuse(asio::ip::tcp::socket& s, int status)
        {
            detail::asio_error_code ec;
            if (transport::plaintext) {
                const std::string msg = response(status)
                                            .header("Retry-After", std::to_string(state->options.retry_after.count()))
                                            .serialize(false, false);
                s.non_blocking(true, ec);
                s.write_some(asio::buffer(msg), ec);
            }
            s.close(ec);
        }

        executor_type ex;
        asio::strand<asio::any_io_executor> acceptor_strand;
        asio::ip::tcp::acceptor acceptor;
        asio::steady_timer backoff, sweeper;
        std::shared_ptr<detail::server_state> state;
        std::shared_ptr<detail::router> routes;
        typename transport::context ctx;
        detail::protocol_handoff<Socket> handoff; // HTTP/2, if enabled (before start())
        bool started = false;
        std::atomic<bool> stop_requested{false};
    };

    static context_type checked(context_type ctx)
    {
        if (!transport::usable(ctx)) throw std::invalid_argument("sse::basic_server: unusable transport context");
        transport::adopt(ctx);
        return ctx;
    }

    // The route for `path`; `options` (if any are set) replace the route's.
    detail::route& mutable_route(std::string path, route_options options)
    {
        if (impl_->started) throw std::logic_error("sse::server: add routes before start()");
        if (options.cors) {
            for (const auto& o : options.cors->origins)
                if (!response::valid_header("Origin", o)) throw std::invalid_argument("sse::server: bad CORS origin");
            for (const auto* names : {&options.cors->headers, &options.cors->expose})
                for (const auto& h : *names)
                    if (!response::valid_header(h, "")) throw std::invalid_argument("sse::server: bad CORS header name");
        }
        auto& r = impl_->routes->at(std::move(path));
        if (options.cors || options.max_streams || options.authorize) r.options = std::move(options);
        return r;
    }

    void stop_with(detail::shared_buffer final_event)
    {
        auto& st = *impl_->state;
        if (impl_->stop_requested.exchange(true)) return;
        st.final_event = std::move(final_event);
        st.stopping.store(true, std::memory_order_release);
        asio::dispatch(impl_->acceptor_strand, [i = impl_] {
            detail::asio_error_code ignored;
            i->acceptor.close(ignored);
            i->backoff.cancel();
            i->sweeper.expires_after(std::chrono::milliseconds(10)); // cuts a pending sweep wait short
        });
        for (auto& s : st.sessions.live()) s->shutdown();
    }

    std::shared_ptr<impl> impl_;
};

/// The plain-TCP server.
using server = basic_server<asio::ip::tcp::socket>;

} // namespace sse

#endif
