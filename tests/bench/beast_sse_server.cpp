// The Boost.Beast peer of run.sh's fan-out scenarios (Boost 1.81): node_server.js's stream
// (peer_common.hpp) as a minimal Beast broadcaster, one thread. Each connection reads its request
// with http::async_read, answers with a chunked `http::response<http::empty_body>` head
// (http::async_write_header through a response_serializer, as Beast's docs write chunked
// bodies by hand) and then writes `http::make_chunk(...)`s. Every connection has a write queue
// of shared events; one write is in flight at a time and it gathers everything queued since the
// previous one into a single chunk, a single async_write. A queue above 1 MiB closes the stream
// (`slow_disconnects`), as asio-sse's default overflow policy does. A read stays pending after
// the head, so a client that goes away is noticed.
//
//   beast-sse-server [--port P] [--path /events] [--rate R] [--payload B] [--ticker-ms T]
//                    [--max-seconds S] [--catch-up-ms C]
//
// --rate R: a 1 ms net::steady_timer on the same io_context publishes what the benchmark's rule
// (tick_rule.hpp, --catch-up-ms C, default 5) says is due to every open stream. --ticker-ms T
// instead gives every stream its own timer, one event every T ms from its start. TCP_NODELAY is
// set on accepted sockets, as asio-sse does.
//
// Prints its port on stdout (--port 0: any free one). On SIGINT or SIGTERM (or after
// --max-seconds) it prints its counters to stderr (`published ... slipped ... streams ...
// max_streams ...`, peer_common.hpp, then `slow_disconnects`) and exits.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "peer_common.hpp"
#include "tick_rule.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

constexpr std::size_t max_queue_bytes = 1 << 20;

class session;

// The open streams. Sessions join once their head is written and leave when they are destroyed
// (a closed one ignores what it is sent until then); everything runs on the one io_context thread.
struct hub {
    std::unordered_set<session*> streams;
    bench::peer_counters counters;
    long long slow_disconnects = 0;
};

class session : public std::enable_shared_from_this<session> {
public:
    session(tcp::socket socket, hub& h, const bench::peer_options& o)
        : socket_(std::move(socket)), hub_(h), opts_(o), ticker_(socket_.get_executor())
    {
    }

    ~session()
    {
        if (joined_) {
            hub_.streams.erase(this);
            hub_.counters.closed();
        }
    }

    void run()
    {
        http::async_read(socket_, buffer_, request_, [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
    }

    /// Queues events (one tick's, or one); writes at once unless a write is in flight, which
    /// takes them when it is done.
    void send(const std::vector<std::shared_ptr<const std::string>>& events)
    {
        if (!socket_.is_open()) return;
        for (const auto& e : events) {
            if (queued_bytes_ + e->size() > max_queue_bytes) {
                ++hub_.slow_disconnects;
                return close();
            }
            queued_bytes_ += e->size();
            queue_.push_back(e);
        }
        if (!writing_ && !queue_.empty()) do_write();
    }

private:
    void on_read(error_code ec)
    {
        if (ec) return; // closed before a whole request: nothing to answer
        const auto target = request_.target();
        const auto path = target.substr(0, target.find('?'));
        if (request_.method() != http::verb::get || path != opts_.path) {
            auto res = std::make_shared<http::response<http::empty_body>>(http::status::not_found, request_.version());
            res->keep_alive(false);
            res->content_length(0);
            http::async_write(socket_, *res, [self = shared_from_this(), res](error_code, std::size_t) { self->close(); });
            return;
        }
        head_.emplace(http::status::ok, request_.version());
        head_->set(http::field::content_type, "text/event-stream");
        head_->set(http::field::cache_control, "no-cache");
        head_->chunked(true);
        serializer_.emplace(*head_);
        writing_ = true; // the head first; events queue behind it
        http::async_write_header(socket_, *serializer_, [self = shared_from_this()](error_code ec, std::size_t) { self->on_head(ec); });
    }

    void on_head(error_code ec)
    {
        writing_ = false;
        if (ec) return close();
        head_.reset(); // the chunks are written by hand from here on
        serializer_.reset();
        request_ = {};
        buffer_.consume(buffer_.size());
        buffer_.shrink_to_fit();
        hub_.streams.insert(this);
        joined_ = true;
        hub_.counters.opened();
        do_watch();
        static const std::vector<std::shared_ptr<const std::string>> hello{std::make_shared<const std::string>(bench::hello)};
        send(hello);
        if (opts_.ticker_ms > 0) {
            start_ = std::chrono::steady_clock::now();
            do_tick();
        }
    }

    // A read that only completes when the client closes (or sends something, which we ignore).
    void do_watch()
    {
        socket_.async_read_some(net::buffer(watch_), [self = shared_from_this()](error_code ec, std::size_t) {
            if (ec) return self->close();
            self->do_watch();
        });
    }

    void do_tick()
    {
        ticker_.expires_at(start_ + (ticks_ + 1) * std::chrono::milliseconds(opts_.ticker_ms));
        ticker_.async_wait([self = shared_from_this()](error_code ec) {
            if (ec || !self->socket_.is_open()) return;
            self->send({std::make_shared<const std::string>(bench::event_text(self->ticks_++, self->opts_.payload))});
            self->do_tick();
        });
    }

    // Everything queued goes out as one chunk in one async_write.
    void do_write()
    {
        writing_ = true;
        in_flight_.swap(queue_);
        queue_.clear();
        queued_bytes_ = 0;
        buffers_.clear();
        for (const auto& e : in_flight_) buffers_.emplace_back(e->data(), e->size());
        net::async_write(socket_, http::make_chunk(buffers_), [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
    }

    void on_write(error_code ec)
    {
        writing_ = false;
        in_flight_.clear();
        if (ec) return close();
        if (!queue_.empty()) do_write();
    }

    void close()
    {
        error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
        ticker_.cancel(); // the hub forgets the stream when its last handler is done (~session)
    }

    tcp::socket socket_;
    hub& hub_;
    const bench::peer_options& opts_;
    beast::flat_buffer buffer_;
    http::request<http::empty_body> request_;
    std::optional<http::response<http::empty_body>> head_;
    std::optional<http::response_serializer<http::empty_body>> serializer_;
    std::vector<std::shared_ptr<const std::string>> queue_, in_flight_;
    std::vector<net::const_buffer> buffers_;
    std::size_t queued_bytes_ = 0;
    bool writing_ = false, joined_ = false;
    char watch_[1];
    net::steady_timer ticker_;
    std::chrono::steady_clock::time_point start_;
    long long ticks_ = 0;
};

void do_accept(tcp::acceptor& acceptor, hub& h, const bench::peer_options& o)
{
    acceptor.async_accept([&acceptor, &h, &o](error_code ec, tcp::socket socket) {
        if (!ec) {
            socket.set_option(tcp::no_delay(true), ec);
            std::make_shared<session>(std::move(socket), h, o)->run();
        }
        if (acceptor.is_open()) do_accept(acceptor, h, o);
    });
}

// The broadcast: every 1 ms, the events the rule says are due, to every open stream.
struct publisher {
    net::steady_timer timer;
    hub& h;
    const bench::peer_options& o;
    bench::tick_rule rule;
    long long next_id = 0;

    void run()
    {
        timer.expires_after(std::chrono::milliseconds(1));
        timer.async_wait([this](error_code ec) {
            if (ec) return;
            const auto step = rule.at(std::chrono::steady_clock::now());
            h.counters.slipped = rule.slipped();
            if (step.send > 0) {
                std::vector<std::shared_ptr<const std::string>> events;
                events.reserve(static_cast<std::size_t>(step.send));
                for (long long k = 0; k < step.send; ++k)
                    events.push_back(std::make_shared<const std::string>(bench::event_text(next_id++, o.payload)));
                for (session* s : h.streams) s->send(events); // closing one leaves the set alone
            }
            h.counters.published += step.send;
            run();
        });
    }
};

} // namespace

int main(int argc, char** argv)
{
    const bench::peer_options o = bench::parse_peer_options(argc, argv, "beast-sse-server");
    net::io_context io(1);
    hub h;

    tcp::acceptor acceptor(io);
    const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(o.port));
    error_code ec;
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        std::cerr << "beast-sse-server: cannot listen on 127.0.0.1:" << o.port << ": " << ec.message() << "\n";
        return 1;
    }
    std::cout << acceptor.local_endpoint().port() << std::endl;
    do_accept(acceptor, h, o);

    publisher pub{net::steady_timer(io), h, o, bench::tick_rule(o.rate, std::chrono::milliseconds(o.catch_up_ms))};
    if (o.rate > 0 && o.ticker_ms <= 0) pub.run();

    net::signal_set signals(io, SIGINT, SIGTERM);
    net::steady_timer deadline(io, std::chrono::seconds(o.max_seconds));
    const auto finish = [&] {
        std::fprintf(stderr, "%s slow_disconnects %lld\n", h.counters.line().c_str(), h.slow_disconnects);
        std::fflush(stderr);
        std::_Exit(0); // at once, as the other peers
    };
    signals.async_wait([&](error_code e, int) {
        if (!e) finish();
    });
    deadline.async_wait([&](error_code e) {
        if (!e) finish();
    });
    io.run();
    return 0;
}
