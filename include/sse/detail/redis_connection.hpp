// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_REDIS_CONNECTION_HPP
#define ASIO_SSE_DETAIL_REDIS_CONNECTION_HPP

#include <sse/detail/asio.hpp>
#include <sse/detail/redis_reply.hpp>
#include <sse/error.hpp>
#include <sse/redis/options.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

namespace sse::detail {

/// The counters behind `sse::redis_stats`, written on the strand, read from any thread.
struct redis_counters {
    std::atomic<std::uint64_t> connects{0}, connect_failures{0}, disconnects{0}, protocol_errors{0}, commands{0},
        command_errors{0}, outbox_bytes{0}, outbox_overflows{0}, outbox_expired{0};

    void failed(std::error_code ec)
    {
        std::lock_guard<std::mutex> lock(mu_);
        last_error_ = ec;
    }

    redis_stats snapshot() const
    {
        redis_stats s;
        s.connects = connects;
        s.connect_failures = connect_failures;
        s.disconnects = disconnects;
        s.protocol_errors = protocol_errors;
        s.commands = commands;
        s.command_errors = command_errors;
        s.outbox_bytes = outbox_bytes;
        s.outbox_overflows = outbox_overflows;
        s.outbox_expired = outbox_expired;
        std::lock_guard<std::mutex> lock(mu_);
        s.last_error = last_error_;
        return s;
    }

private:
    mutable std::mutex mu_;
    std::error_code last_error_;
};

/** @brief One connection to Redis, driven on a strand: connect (with a timeout), `AUTH`,
    `SELECT`, a `PING` (Redis still loading its data answers it with an error: then the
    connection is made again after the backoff), then pipelined commands answered in order, each within the command timeout; when it
    drops, it is made again after a backoff. Commands sent while it is down wait in its outbox
    (bounded in bytes and in time). A subscriber connection also hands pub/sub messages to
    `hooks::push` and PINGs when idle. Every member runs on the strand. */
class redis_connection : public std::enable_shared_from_this<redis_connection> {
public:
    using strand_type = asio::strand<asio::any_io_executor>;
    using clock = std::chrono::steady_clock;
    /// A command's end, on the strand: its reply (which may be a Redis error), or an error
    /// (then the reply is null).
    using reply_handler = std::function<void(std::error_code, const redis_reply*)>;

    struct hooks {
        std::function<void()> up;                      ///< ready for commands
        std::function<void(std::error_code)> down;     ///< went down, or did not come up
        std::function<void(const redis_reply&)> push;  ///< a pub/sub message (subscriber only)
    };

    redis_connection(strand_type strand, const redis_options& options, redis_counters& stats, bool subscriber, hooks h)
        : strand_(std::move(strand)), options_(options), stats_(stats), subscriber_(subscriber), hooks_(std::move(h)),
          socket_(strand_), resolver_(strand_), timer_(strand_), reply_timer_(strand_), outbox_timer_(strand_),
          backoff_(options.backoff_initial)
    {
    }

    void start() { connect(); }

    /// Closes for good; what is pending fails with `sse::error::shutting_down`.
    void stop()
    {
        if (state_ == state::stopped) return;
        state_ = state::stopped;
        ++gen_;
        close_socket();
        timer_.cancel();
        reply_timer_.cancel();
        outbox_timer_.cancel();
        fail_all(inflight_, error::shutting_down);
        fail_all(waiting_, error::shutting_down);
    }

    bool up() const noexcept { return state_ == state::up; }

    /// Closes the connection for `why` (e.g. Redis refused what it must do) and makes it again
    /// after the backoff.
    void reset(std::error_code why)
    {
        if (state_ == state::up || state_ == state::handshake) fail(why);
    }

    /** @brief Sends `command` (in wire format); `done` follows on the strand, never inside this
        call. While the connection is down the command waits in the outbox if `waits`, else
        fails with `redis_unreachable`. It fails with `queue_overflow` if the outbox is full. */
    void send(std::string command, reply_handler done, bool waits = true)
    {
        if (state_ == state::stopped) return later(std::move(done), error::shutting_down);
        if (bytes_ + command.size() > options_.outbox_bytes) {
            ++stats_.outbox_overflows;
            return later(std::move(done), error::queue_overflow);
        }
        if (state_ != state::up && !waits) return later(std::move(done), error::redis_unreachable);
        item c(std::move(command), std::move(done));
        add_bytes(static_cast<std::ptrdiff_t>(c.size));
        if (state_ == state::up) {
            transmit(std::move(c));
        } else {
            waiting_.push_back(std::move(c));
            arm_outbox_timer();
        }
    }

private:
    enum class state { connecting, handshake, up, backoff, stopped };

    struct item {
        item(std::string b, reply_handler d) : bytes(std::move(b)), size(bytes.size()), done(std::move(d)) {}
        std::string bytes; // until written
        std::size_t size;  // what it counts in the outbox until answered
        reply_handler done;
        clock::time_point at = clock::now(); // queued (waiting) or sent (in flight)
    };

    template <class F>
    auto guarded(F f)
    {
        return [self = shared_from_this(), gen = gen_, f = std::move(f)](auto&&... args) mutable {
            if (gen == self->gen_) f(std::forward<decltype(args)>(args)...);
        };
    }

    void later(reply_handler done, error e)
    {
        if (done) asio::post(strand_, [done = std::move(done), e] { done(make_error_code(e), nullptr); });
    }

    void add_bytes(std::ptrdiff_t n) noexcept
    {
        bytes_ = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(bytes_) + n);
        stats_.outbox_bytes.fetch_add(static_cast<std::uint64_t>(n)); // wraps back for n < 0
    }

    void fail_all(std::deque<item>& q, error e)
    {
        auto items = std::move(q);
        q.clear();
        for (auto& c : items) {
            add_bytes(-static_cast<std::ptrdiff_t>(c.size));
            later(std::move(c.done), e);
        }
    }

    void connect()
    {
        state_ = state::connecting;
        ++gen_;
        reader_ = std::make_unique<redis_reader>(options_.max_reply_bytes, options_.max_reply_elements);
        timer_.expires_after(options_.connect_timeout);
        timer_.async_wait(guarded([this](std::error_code ec) {
            if (!ec) fail(error::redis_timeout);
        }));
        resolver_.async_resolve(options_.host, std::to_string(options_.port),
                                guarded([this](std::error_code ec, asio::ip::tcp::resolver::results_type r) {
                                    if (ec) return fail(ec);
                                    asio::async_connect(socket_, r, guarded([this](std::error_code ec2, const auto&) {
                                                            on_connect(ec2);
                                                        }));
                                }));
    }

    void on_connect(std::error_code ec)
    {
        if (ec) return fail(ec);
        asio_error_code ignored;
        socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
        state_ = state::handshake;
        do_read();
        // AUTH and SELECT go first, then a PING: while Redis loads its data (after a restart) it
        // answers -LOADING, and the connection waits (is made again after the backoff) rather
        // than fail commands. Replies come in order: the PING's says the connection is up.
        auto step = [this](std::vector<std::string_view> args, error on_error, bool last) {
            item c(redis_command(args), [this, on_error, last](std::error_code ec2, const redis_reply* r) {
                if (ec2) return; // the connection failed already
                if (r->type == redis_reply::kind::error) return fail(on_error);
                if (last) become_up();
            });
            add_bytes(static_cast<std::ptrdiff_t>(c.size)); // paid back by its reply (or fail_all)
            transmit(std::move(c));
        };
        if (!options_.password.empty()) {
            if (options_.user.empty())
                step({"AUTH", options_.password}, error::redis_auth_failed, false);
            else
                step({"AUTH", options_.user, options_.password}, error::redis_auth_failed, false);
        }
        if (options_.database != 0 && !subscriber_) step({"SELECT", std::to_string(options_.database)}, error::redis_refused, false);
        step({"PING"}, error::redis_refused, true);
    }

    void become_up()
    {
        timer_.cancel();
        state_ = state::up;
        backoff_ = options_.backoff_initial;
        ++stats_.connects;
        auto waiting = std::move(waiting_);
        waiting_.clear();
        for (auto& c : waiting) transmit(std::move(c));
        arm_reply_timer();
        if (hooks_.up) hooks_.up();
    }

    // Something failed (the connection, a timeout, the handshake, a bad reply): close, fail
    // what is in flight, and connect again after the backoff.
    void fail(std::error_code ec)
    {
        if (state_ == state::stopped) return;
        const bool was_up = state_ == state::up;
        ++gen_;
        close_socket();
        timer_.cancel();
        reply_timer_.cancel();
        writing_ = false;
        out_.clear();
        fail_all(inflight_, ec == make_error_code(error::redis_timeout) ? error::redis_timeout : error::redis_unreachable);
        if (subscriber_) fail_all(waiting_, error::redis_unreachable); // it subscribes again when up
        stats_.failed(ec);
        ++(was_up ? stats_.disconnects : stats_.connect_failures);
        const auto wait = ec == make_error_code(error::redis_auth_failed) ? options_.backoff_max : backoff_;
        backoff_ = std::min(backoff_ * 2, options_.backoff_max);
        state_ = state::backoff;
        timer_.expires_after(wait);
        timer_.async_wait(guarded([this](std::error_code e) {
            if (!e) connect();
        }));
        arm_outbox_timer();
        if (hooks_.down) hooks_.down(ec);
    }

    void close_socket()
    {
        asio_error_code ignored;
        resolver_.cancel();
        socket_.close(ignored);
    }

    void transmit(item c)
    {
        c.at = clock::now();
        write(std::move(c.bytes));
        c.bytes = std::string(); // in flight, only its size is kept
        inflight_.push_back(std::move(c));
        if (inflight_.size() == 1) arm_reply_timer();
    }

    void write(std::string bytes)
    {
        if (out_.empty())
            out_ = std::move(bytes);
        else
            out_ += bytes;
        if (!writing_) do_write();
    }

    void do_write()
    {
        writing_ = true;
        wbuf_.swap(out_);
        out_.clear();
        asio::async_write(socket_, asio::buffer(wbuf_), guarded([this](std::error_code ec, std::size_t) {
                              writing_ = false;
                              if (ec) return fail(ec);
                              if (!out_.empty()) do_write();
                          }));
    }

    void do_read()
    {
        socket_.async_read_some(asio::buffer(rbuf_), guarded([this](std::error_code ec, std::size_t n) {
                                    if (ec) return fail(ec);
                                    reader_->feed(rbuf_.data(), n);
                                    std::unique_ptr<redis_reply> r;
                                    const auto gen = gen_;
                                    for (;;) {
                                        const auto st = reader_->next(r);
                                        if (st == redis_reader::status::need_more) break;
                                        if (st == redis_reader::status::failed) {
                                            ++stats_.protocol_errors;
                                            return fail(error::redis_protocol);
                                        }
                                        dispatch(*r);
                                        if (gen != gen_) return; // it failed, or stopped
                                    }
                                    do_read();
                                }));
    }

    static bool is_push(const redis_reply& r)
    {
        const auto* kind = r.at(0);
        return r.elements.size() == 3 && kind && kind->is_string() && kind->str == "message";
    }

    void dispatch(const redis_reply& r)
    {
        if (subscriber_ && is_push(r)) {
            if (hooks_.push) hooks_.push(r);
            return;
        }
        if (inflight_.empty()) {
            ++stats_.protocol_errors;
            return fail(error::redis_protocol); // a reply nobody asked for
        }
        auto c = std::move(inflight_.front());
        inflight_.pop_front();
        add_bytes(-static_cast<std::ptrdiff_t>(c.size));
        ++stats_.commands;
        if (r.type == redis_reply::kind::error) ++stats_.command_errors;
        arm_reply_timer();
        if (c.done) c.done({}, &r);
    }

    // The oldest command in flight must be answered within the command timeout; an idle
    // subscriber connection PINGs now and then (a dead peer shows as a timeout).
    void arm_reply_timer()
    {
        if (!inflight_.empty()) {
            reply_timer_.expires_at(inflight_.front().at + options_.command_timeout);
        } else if (subscriber_ && state_ == state::up) {
            reply_timer_.expires_after(options_.ping_interval);
        } else {
            reply_timer_.cancel();
            return;
        }
        reply_timer_.async_wait(guarded([this](std::error_code ec) {
            if (ec) return;
            if (!inflight_.empty()) return fail(error::redis_timeout);
            send(redis_command({"PING"}), nullptr, false);
            if (inflight_.empty()) arm_reply_timer(); // refused (outbox full): try again later
        }));
    }

    // Commands waiting for a connection give up after `outbox_wait`.
    void arm_outbox_timer()
    {
        if (waiting_.empty()) return;
        outbox_timer_.expires_at(waiting_.front().at + options_.outbox_wait);
        outbox_timer_.async_wait([self = shared_from_this(), this](std::error_code ec) {
            if (ec || state_ == state::stopped) return;
            const auto now = clock::now();
            while (!waiting_.empty() && now >= waiting_.front().at + options_.outbox_wait) {
                auto c = std::move(waiting_.front());
                waiting_.pop_front();
                add_bytes(-static_cast<std::ptrdiff_t>(c.size));
                ++stats_.outbox_expired;
                later(std::move(c.done), error::redis_unreachable);
            }
            arm_outbox_timer();
        });
    }

    strand_type strand_;
    const redis_options& options_;
    redis_counters& stats_;
    const bool subscriber_;
    hooks hooks_;
    asio::ip::tcp::socket socket_;
    asio::ip::tcp::resolver resolver_;
    asio::steady_timer timer_, reply_timer_, outbox_timer_; // connect/backoff; replies/ping; outbox
    state state_ = state::connecting;
    std::uint64_t gen_ = 0; // a new one per connection: handlers of an old one do nothing
    std::chrono::milliseconds backoff_;
    std::unique_ptr<redis_reader> reader_;
    std::deque<item> inflight_, waiting_;
    std::size_t bytes_ = 0; // of inflight_ and waiting_
    std::string out_, wbuf_;
    bool writing_ = false;
    std::array<char, 16384> rbuf_{};
};

} // namespace sse::detail

#endif
