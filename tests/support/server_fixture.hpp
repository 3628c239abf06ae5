// Runs a server (sse::server, or sse::tls_server) on 127.0.0.1:0 with an io_context on
// `threads` threads for one test.
#ifndef ASIO_SSE_TESTS_SERVER_FIXTURE_HPP
#define ASIO_SSE_TESTS_SERVER_FIXTURE_HPP

#include "client.hpp"

#include <sse/sse.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace test {

template <class Server>
struct basic_server_fixture {
    /// `context`: what the server's transport needs (a TLS context), nothing for plain TCP.
    template <class... Context>
    explicit basic_server_fixture(sse::server_options o = {}, Context&&... context)
        : srv(io, std::forward<Context>(context)..., o)
    {
    }

    /// Listens on a free loopback port and runs the io_context on `threads` threads.
    void run(int threads = 1)
    {
        srv.listen("127.0.0.1", 0);
        srv.start();
        for (int i = 0; i < threads; ++i) pool.emplace_back([this] { io.run(); });
    }

    unsigned short port() const { return srv.local_endpoint().port(); }

    /// Stops the server and waits (at most 10 s) for run() to return on every thread: a test
    /// that leaves anything pending on the io_context fails here instead of hanging.
    bool stop_and_join(std::chrono::milliseconds limit = std::chrono::seconds(10))
    {
        srv.stop();
        work.reset();
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!io.stopped() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5)); // polling a flag, not synchronising
        const bool clean = io.stopped();
        io.stop();
        for (auto& t : pool) t.join();
        pool.clear();
        return clean;
    }

    ~basic_server_fixture()
    {
        if (!pool.empty()) stop_and_join();
    }

    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    Server srv;
    std::vector<std::thread> pool;
};

using server_fixture = basic_server_fixture<sse::server>;

/// The streams a route hands out, for the test thread to take one by one with a bounded wait.
class stream_inbox {
public:
    /// A stream handler that runs `first` (if given) on each stream, then puts it here.
    std::function<void(sse::stream_ptr)> handler(std::function<void(const sse::stream_ptr&)> first = nullptr)
    {
        return [this, first = std::move(first)](sse::stream_ptr s) {
            if (first) first(s);
            std::lock_guard<std::mutex> l(m_);
            got_.push_back(std::move(s));
            cv_.notify_all();
        };
    }

    /// The next stream, within `timeout`; throws if none came.
    sse::stream_ptr next(std::chrono::milliseconds timeout = std::chrono::seconds(5))
    {
        std::unique_lock<std::mutex> l(m_);
        if (!cv_.wait_for(l, timeout, [&] { return !got_.empty(); }))
            throw std::runtime_error("stream_inbox: no stream within the timeout");
        auto s = std::move(got_.front());
        got_.erase(got_.begin());
        return s;
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    std::vector<sse::stream_ptr> got_;
};

/// One open stream for a test: a server whose route `/events` hands its stream to the test,
/// running on `threads` threads, and the client that opened it (its head read).
struct one_stream {
    explicit one_stream(sse::server_options o = {}, int threads = 1) : f(o), c(serve(threads))
    {
        c.read_head();
        s = inbox.next();
    }

private:
    client serve(int threads)
    {
        f.srv.on_stream("/events", inbox.handler());
        f.run(threads);
        return client::get(f.port(), "/events");
    }

public:
    stream_inbox inbox; // declared before `f`: the route refers to it until `f` has stopped the server
    server_fixture f;
    client c;
    sse::stream_ptr s;
};

/// Polls `done` until it holds or `limit` passes (for counters no callback reports).
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(5))
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5)); // polling a counter, not synchronising
    }
    return true;
}

/// A one-shot flag a server-side callback sets and a test waits for, with a deadline.
class signal {
public:
    void set()
    {
        std::lock_guard<std::mutex> l(m_);
        set_ = true;
        cv_.notify_all();
    }
    bool wait(std::chrono::milliseconds timeout = std::chrono::seconds(5))
    {
        std::unique_lock<std::mutex> l(m_);
        return cv_.wait_for(l, timeout, [&] { return set_; });
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    bool set_ = false;
};

/// A count that one thread raises and another waits for, with a deadline.
class counter {
public:
    void add(long n = 1)
    {
        std::lock_guard<std::mutex> l(m_);
        n_ += n;
        cv_.notify_all();
    }
    long value()
    {
        std::lock_guard<std::mutex> l(m_);
        return n_;
    }
    /// Whether the count reached `n` within `timeout`.
    bool wait_for(long n, std::chrono::milliseconds timeout = std::chrono::seconds(5))
    {
        std::unique_lock<std::mutex> l(m_);
        return cv_.wait_for(l, timeout, [&] { return n_ >= n; });
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    long n_ = 0;
};

/// A thread running `body(stop)` that is told to stop and joined when the test leaves its scope,
/// also when a REQUIRE throws (a joinable std::thread would end the run with std::terminate).
class worker {
public:
    template <class F>
    explicit worker(F body) : thread_([this, body = std::move(body)]() mutable { body(stop_); })
    {
    }
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;
    ~worker() { join(); }

    void join()
    {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

} // namespace test

#endif
