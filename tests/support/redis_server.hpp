// A real redis-server for one test: started on a free loopback port with a temporary dir,
// ready once it says so on its stdout, stopped (or killed) by its pid. If it cannot start,
// the test fails (it never skips).
#ifndef ASIO_SSE_TESTS_REDIS_SERVER_HPP
#define ASIO_SSE_TESTS_REDIS_SERVER_HPP

#include <asio/ip/tcp.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace test {

class redis_server {
public:
    /// `extra`: more redis-server arguments (e.g. {"--requirepass", "pw"}); `aof`: persist every
    /// write (appendfsync always), so that a restart after `kill9()` keeps what was acknowledged.
    explicit redis_server(std::vector<std::string> extra = {}, bool aof = false) : extra_(std::move(extra)), aof_(aof)
    {
        char dir[] = "/tmp/asio-sse-redis-XXXXXX";
        if (!mkdtemp(dir)) throw std::runtime_error("redis_server: mkdtemp failed");
        dir_ = dir;
        for (int attempt = 0; attempt < 5; ++attempt) {
            port_ = free_port();
            if (launch()) return;
        }
        throw std::runtime_error("redis_server: " ASIO_SSE_TEST_REDIS_SERVER " did not start");
    }
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;
    ~redis_server()
    {
        stop();
        std::string rm = "rm -rf '" + dir_ + "'";
        if (std::system(rm.c_str()) != 0) std::fprintf(stderr, "redis_server: could not remove %s\n", dir_.c_str());
    }

    unsigned short port() const noexcept { return port_; }

    /// SIGTERM, then waits for it.
    void stop() { end(SIGTERM); }
    /// SIGKILL (no shutdown, no save), then waits for it.
    void kill9() { end(SIGKILL); }
    /// Starts it again on the same port and dir (after `stop()` or `kill9()`).
    void restart()
    {
        if (!launch()) throw std::runtime_error("redis_server: restart failed");
    }

private:
    static unsigned short free_port()
    {
        asio::io_context io;
        asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
        return a.local_endpoint().port();
    }

    void end(int sig)
    {
        if (pid_ <= 0) return;
        ::kill(pid_, sig);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }

    // Starts redis-server; true once it printed "Ready to accept connections" (within 10 s).
    bool launch()
    {
        std::vector<std::string> args = {ASIO_SSE_TEST_REDIS_SERVER, "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                         "--dir", dir_, "--save", "", "--daemonize", "no", "--loglevel", "notice"};
        if (aof_) {
            for (const char* a : {"--appendonly", "yes", "--appendfsync", "always"}) args.emplace_back(a);
        } else {
            for (const char* a : {"--appendonly", "no"}) args.emplace_back(a);
        }
        args.insert(args.end(), extra_.begin(), extra_.end());
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);

        int out[2];
        if (::pipe(out) != 0) return false;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_addclose(&fa, out[0]);
        const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(out[1]);
        if (rc != 0) {
            ::close(out[0]);
            pid_ = -1;
            return false;
        }
        const bool ready = wait_ready(out[0]);
        ::close(out[0]); // redis ignores SIGPIPE: what it logs later goes nowhere
        if (!ready) end(SIGKILL);
        return ready;
    }

    static bool wait_ready(int fd)
    {
        std::string seen;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd p{fd, POLLIN, 0};
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
            char buf[4096];
            const auto n = ::read(fd, buf, sizeof buf);
            if (n <= 0) return false; // it exited
            seen.append(buf, static_cast<std::size_t>(n));
            if (seen.find("Ready to accept connections") != std::string::npos) return true;
        }
        return false;
    }

    std::vector<std::string> extra_;
    bool aof_;
    std::string dir_;
    unsigned short port_ = 0;
    pid_t pid_ = -1;
};

} // namespace test

#endif
