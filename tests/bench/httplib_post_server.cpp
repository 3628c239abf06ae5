// The cpp-httplib peer of run.sh's post scenario: the same POST stream as sse-bench-server's
// --post-path route, written the way cpp-httplib documents streaming: a handler that sets a
// chunked content provider, which writes one event per call and sleeps in between.
//
//   httplib-post-server --port P [--path /chat] [--tokens N] [--token-ms M] [--pool T]
//                       [--tcp-nodelay 1]
//
// A POST to --path with a body such as {"tokens":500} gets a `text/event-stream` answer
// (chunked): `data: token 1` at once, then one `data: token <k>` every M ms (default 20), then
// `data: [DONE]`, and the response ends. A body without a "tokens" number gets --tokens
// (default 50). Each stream holds one thread of the server's task queue for its whole life:
// --pool T gives the queue T threads (`svr.new_task_queue`); without it the queue is
// cpp-httplib's default (CPPHTTPLIB_THREAD_POOL_COUNT: max(8, cores - 1) threads), and requests
// beyond that wait for a thread. Tokens are due at fixed times from the stream's start
// (sleep_until), so a late wakeup does not make the stream drift, as sse::stream::every does not.
// --tcp-nodelay 1 (the default) sets TCP_NODELAY on accepted sockets, as asio-sse does;
// 0 keeps cpp-httplib's default (Nagle on).
//
// Prints the bound port on stdout (0 = any free one), like the other bench servers. On SIGINT
// or SIGTERM it prints its counters (streams, completed, tokens written) to stderr and exits at
// once: Server::stop() would wait for every queued connection's stream to run to its end.
#include <httplib.h>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace {

struct settings {
    int port = 0;
    std::string path = "/chat";
    long long tokens = 50;
    int token_ms = 20;
    int pool = 0; // 0: cpp-httplib's default task queue
    bool tcp_nodelay = true;
};

[[noreturn]] void usage()
{
    std::cerr << "usage: httplib-post-server --port P [--path /chat] [--tokens N] [--token-ms M] [--pool T] "
                 "[--tcp-nodelay 0|1]\n";
    std::exit(2);
}

settings parse(int argc, char** argv)
{
    settings s;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) usage();
        const std::string_view k = argv[i];
        const std::string v = argv[i + 1];
        try {
            if (k == "--port") s.port = std::stoi(v);
            else if (k == "--path") s.path = v;
            else if (k == "--tokens") s.tokens = std::stoll(v);
            else if (k == "--token-ms") s.token_ms = std::stoi(v);
            else if (k == "--pool") s.pool = std::stoi(v);
            else if (k == "--tcp-nodelay") s.tcp_nodelay = std::stoi(v) != 0;
            else usage();
        } catch (const std::logic_error&) {
            usage();
        }
    }
    if (s.port < 0 || s.port > 65535 || s.tokens < 1 || s.token_ms < 1 || s.pool < 0) usage();
    return s;
}

// The number after `"tokens"` and a colon in a JSON-ish body such as {"tokens":500}; `fallback`
// when there is none (the same scan as sse-bench-server's).
long long tokens_in(std::string_view body, long long fallback)
{
    const auto key = body.find("\"tokens\"");
    if (key == std::string_view::npos) return fallback;
    auto i = body.find_first_not_of(" \t\r\n", key + 8);
    if (i == std::string_view::npos || body[i] != ':') return fallback;
    i = body.find_first_not_of(" \t\r\n", i + 1);
    if (i == std::string_view::npos) return fallback;
    long long n = 0;
    const auto [end, ec] = std::from_chars(body.data() + i, body.data() + body.size(), n);
    if (ec != std::errc() || end == body.data() + i || n < 1) return fallback;
    return std::min(n, 10'000'000LL);
}

std::atomic<long long> g_streams{0}, g_completed{0}, g_tokens{0};

// One stream's progress, kept by its content provider between calls.
struct progress {
    long long total = 0, sent = 0;
    std::chrono::steady_clock::time_point start;
};

} // namespace

int main(int argc, char** argv)
{
    const settings cfg = parse(argc, argv);

    // SIGINT/SIGTERM are taken by one thread with sigwait(); every thread started later
    // (cpp-httplib's pool) inherits the mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    std::thread([stop_signals] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        std::fprintf(stderr, "streams %lld completed %lld tokens_written %lld\n", g_streams.load(), g_completed.load(),
                     g_tokens.load());
        std::_Exit(0);
    }).detach();

    httplib::Server svr;
    if (cfg.pool > 0) {
        const auto threads = static_cast<size_t>(cfg.pool);
        svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    }
    svr.set_tcp_nodelay(cfg.tcp_nodelay);
    const auto period = std::chrono::milliseconds(cfg.token_ms);
    svr.Post(cfg.path, [&cfg, period](const httplib::Request& req, httplib::Response& res) {
        auto p = std::make_shared<progress>();
        p->total = tokens_in(req.body, cfg.tokens);
        p->start = std::chrono::steady_clock::now();
        ++g_streams;
        res.set_header("Cache-Control", "no-cache");
        res.set_chunked_content_provider("text/event-stream", [p, period](size_t, httplib::DataSink& sink) {
            if (p->sent < p->total) {
                if (p->sent > 0) std::this_thread::sleep_until(p->start + p->sent * period); // "inference"
                const std::string e = "data: token " + std::to_string(++p->sent) + "\n\n";
                if (!sink.write(e.data(), e.size())) return false; // the client went away
                ++g_tokens;
                return true;
            }
            static const std::string done = "data: [DONE]\n\n";
            if (!sink.write(done.data(), done.size())) return false;
            sink.done();
            ++g_completed;
            return true;
        });
    });

    const int port = cfg.port == 0 ? svr.bind_to_any_port("127.0.0.1") : (svr.bind_to_port("127.0.0.1", cfg.port) ? cfg.port : -1);
    if (port < 0) {
        std::cerr << "httplib-post-server: cannot listen on 127.0.0.1:" << cfg.port << "\n";
        return 1;
    }
    std::cout << port << std::endl;
    svr.listen_after_bind();
    return 0;
}
