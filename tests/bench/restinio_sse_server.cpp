// The RESTinio peer of run.sh's fan-out scenarios (RESTinio 0.6, standalone Asio): node_server.js's
// stream (peer_common.hpp) written the way RESTinio documents long responses: the request
// handler creates a `chunked_output_t` response, flushes its head with `:ok`, and keeps the
// response builder; every later `append_chunk()` + `flush()` sends more of the same response
// (RESTinio merges what is queued for a connection into one write). One thread: the server runs
// on an external io_context with single-thread traits, and the broadcaster is a 1 ms
// asio::steady_timer on the same io_context.
//
//   restinio-sse-server [--port P] [--path /events] [--rate R] [--payload B] [--ticker-ms T]
//                       [--max-seconds S] [--catch-up-ms C]
//
// --rate R: every tick publishes what the benchmark's rule (tick_rule.hpp, --catch-up-ms C,
// default 5) says is due, each event one `std::shared_ptr<const std::string>` appended to every
// stream as a chunk, then one flush per stream and tick. --ticker-ms T instead gives every stream
// its own asio::steady_timer, one event every T ms from its start. A stream ends when RESTinio
// closes its connection (a failed write; a write that takes longer than RESTinio's 5 s limit);
// a connection-state listener tells the server, which drops the response builder. RESTinio's
// "handle request" timeout (10 s by default, which also runs whenever a response in progress has
// nothing to write) is set to a day: an idle stream is not a stuck handler. TCP_NODELAY is set on
// accepted sockets, as asio-sse does.
//
// Prints its port on stdout. On SIGINT or SIGTERM (or after --max-seconds) it prints its counters
// to stderr (`published ... slipped ... streams ... max_streams ...`, peer_common.hpp) and exits.
#include <restinio/all.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "peer_common.hpp"
#include "tick_rule.hpp"

namespace {

// Tells the server (on its io_context) which connections RESTinio closed.
struct close_listener {
    std::function<void(restinio::connection_id_t)> on_closed;

    void state_changed(const restinio::connection_state::notice_t& notice) noexcept
    {
        if (restinio::holds_alternative<restinio::connection_state::closed_t>(notice.cause())) on_closed(notice.connection_id());
    }
};

struct traits : restinio::default_single_thread_traits_t {
    using connection_state_listener_t = close_listener;
};

using response = restinio::response_builder_t<restinio::chunked_output_t>;

// One open event stream: its response, and its timer when it has one of its own.
struct stream {
    stream(response r, asio::io_context& io) : out(std::move(r)), timer(io) {}
    response out;
    asio::steady_timer timer;
    long long ticks = 0;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

class sse_server {
public:
    sse_server(asio::io_context& io, const bench::peer_options& o) : io_(io), opts_(o), tick_(io) {}

    restinio::request_handling_status_t handle(const restinio::request_handle_t& req)
    {
        if (req->header().method() != restinio::http_method_get() || req->header().path() != opts_.path)
            return restinio::request_rejected(); // RESTinio answers 404
        response r = req->create_response<restinio::chunked_output_t>();
        r.append_header(restinio::http_field::content_type, "text/event-stream");
        r.append_header(restinio::http_field::cache_control, "no-cache");
        r.append_chunk(restinio::const_buffer(bench::hello.data(), bench::hello.size()));
        r.flush();
        auto s = std::make_shared<stream>(std::move(r), io_);
        streams_.emplace(req->connection_id(), s);
        counters.opened();
        if (opts_.ticker_ms > 0) start_ticker(s);
        return restinio::request_accepted();
    }

    // From RESTinio's connection-state listener: posted, so that RESTinio's close() is over
    // before the response builder (and its handle on the connection) goes.
    void closed(restinio::connection_id_t id)
    {
        asio::post(io_, [this, id] {
            const auto it = streams_.find(id);
            if (it == streams_.end()) return;
            it->second->timer.cancel();
            streams_.erase(it);
            counters.closed();
        });
    }

    void start_publisher()
    {
        if (opts_.rate <= 0 || opts_.ticker_ms > 0) return;
        rule_ = std::make_unique<bench::tick_rule>(opts_.rate, std::chrono::milliseconds(opts_.catch_up_ms));
        do_tick();
    }

    void stop()
    {
        stopped_ = true;
        tick_.cancel();
    }

    bench::peer_counters counters;

private:
    void do_tick()
    {
        tick_.expires_after(std::chrono::milliseconds(1));
        tick_.async_wait([this](const asio::error_code& ec) { on_tick(ec); });
    }

    void on_tick(const asio::error_code& ec)
    {
        if (ec || stopped_) return;
        const auto step = rule_->at(std::chrono::steady_clock::now());
        counters.slipped = rule_->slipped();
        if (step.send > 0) {
            std::vector<std::shared_ptr<const std::string>> events;
            events.reserve(static_cast<std::size_t>(step.send));
            for (long long k = 0; k < step.send; ++k)
                events.push_back(std::make_shared<const std::string>(bench::event_text(next_id_++, opts_.payload)));
            for (auto& [id, s] : streams_) {
                for (const auto& e : events) s->out.append_chunk(e);
                s->out.flush();
            }
            counters.published += step.send;
        }
        do_tick();
    }

    void start_ticker(const std::shared_ptr<stream>& s)
    {
        s->timer.expires_at(s->start + (s->ticks + 1) * std::chrono::milliseconds(opts_.ticker_ms));
        s->timer.async_wait([this, w = std::weak_ptr<stream>(s)](const asio::error_code& ec) {
            const auto s = w.lock();
            if (ec || !s || stopped_) return;
            s->out.append_chunk(bench::event_text(s->ticks++, opts_.payload));
            s->out.flush();
            start_ticker(s);
        });
    }

    asio::io_context& io_;
    const bench::peer_options& opts_;
    asio::steady_timer tick_;
    std::unique_ptr<bench::tick_rule> rule_;
    long long next_id_ = 0;
    bool stopped_ = false;
    std::unordered_map<restinio::connection_id_t, std::shared_ptr<stream>> streams_;
};

} // namespace

int main(int argc, char** argv)
{
    const bench::peer_options o = bench::parse_peer_options(argc, argv, "restinio-sse-server");
    asio::io_context io(1);
    sse_server app(io, o);

    auto listener = std::make_shared<close_listener>();
    listener->on_closed = [&app](restinio::connection_id_t id) { app.closed(id); };
    restinio::http_server_t<traits> server{
        restinio::external_io_context(io),
        restinio::server_settings_t<traits>{}
            .port(static_cast<std::uint16_t>(o.port))
            .address("127.0.0.1")
            .handle_request_timeout(std::chrono::hours(24))
            .connection_state_listener(listener)
            .socket_options_setter([](restinio::socket_options_t& so) { so.set_option(asio::ip::tcp::no_delay(true)); })
            .request_handler([&app](const restinio::request_handle_t& req) { return app.handle(req); })};

    server.open_async(
        [&app, &o] {
            std::cout << o.port << std::endl;
            app.start_publisher();
        },
        [&io](const std::exception_ptr& ex) {
            try {
                std::rethrow_exception(ex);
            } catch (const std::exception& e) {
                std::cerr << "restinio-sse-server: cannot listen: " << e.what() << "\n";
            }
            io.stop();
        });

    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::steady_timer deadline(io, std::chrono::seconds(o.max_seconds));
    const auto finish = [&] {
        app.stop();
        std::fprintf(stderr, "%s\n", app.counters.line().c_str());
        std::fflush(stderr);
        std::_Exit(0); // at once: closing thousands of streams one by one is not part of the run
    };
    signals.async_wait([&](const asio::error_code& ec, int) {
        if (!ec) finish();
    });
    deadline.async_wait([&](const asio::error_code& ec) {
        if (!ec) finish();
    });
    io.run();
    return 1; // only when the server could not open
}
