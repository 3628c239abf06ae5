// tls-memory: what an HTTPS connection costs an `sse::tls_server`, on the public API only.
//
//   tls-memory [--connections N] [--mode stream|handshake|tcp]
//
// The server runs in this process; a forked child opens N connections to it over loopback:
//   stream     a TLS handshake, then GET /events: an idle open stream (the default)
//   handshake  a ClientHello only: the server answers with its flight and waits for the client's
//              Finished, which never comes (a pending handshake)
//   tcp        a TCP connect and nothing else (the server waits for a ClientHello)
// Once all N are there (the server's counters say so; for `handshake`, the child has read the
// server's flight on every connection), the server prints its heap and RSS growth per connection:
//   RESULT mode=stream connections=N heap_per_conn_b=... rss_per_conn_b=...
// heap = what malloc has handed out and not taken back (mallinfo2), the finer figure; RSS also
// counts what malloc keeps cached. The certificate (ECDSA P-256) is made with the openssl CLI
// in a temporary directory.
#include <sse/sse.hpp>
#include <sse/tls.hpp>

#include "fd_limit.hpp"

#include <arpa/inet.h>
#include <malloc.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

long rss_bytes()
{
    long pages = 0, resident = 0;
    std::ifstream("/proc/self/statm") >> pages >> resident;
    return resident * sysconf(_SC_PAGESIZE);
}

long heap_bytes()
{
    const auto m = mallinfo2();
    return static_cast<long>(m.uordblks + m.hblkhd);
}

int connect_to(unsigned short port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        std::perror("tls-memory: connect");
        std::exit(1);
    }
    return fd;
}

// The child: opens n connections of `mode`, says "ready" on `out`, then waits to be killed.
[[noreturn]] void run_clients(unsigned short port, int n, const std::string& mode, int out)
{
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr); // the server's memory is measured, not trust
    std::vector<SSL*> kept;
    std::vector<int> fds;
    for (int i = 0; i < n; ++i) {
        const int fd = connect_to(port);
        fds.push_back(fd);
        if (mode == "tcp") continue;
        SSL* ssl = SSL_new(ctx);
        SSL_set_fd(ssl, fd);
        kept.push_back(ssl);
        if (mode == "handshake") {
            const int flags = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &flags, sizeof flags);
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
            SSL_connect(ssl); // sends the ClientHello; would block reading the answer
            continue;
        }
        if (SSL_connect(ssl) != 1) {
            ERR_print_errors_fp(stderr);
            std::exit(1);
        }
        const std::string_view get = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
        SSL_write(ssl, get.data(), static_cast<int>(get.size()));
        std::string head;
        char buf[1024];
        while (head.find("\r\n\r\n") == std::string::npos) {
            const int got = SSL_read(ssl, buf, sizeof buf);
            if (got <= 0) {
                std::fprintf(stderr, "tls-memory: stream %d got no head\n", i);
                std::exit(1);
            }
            head.append(buf, static_cast<std::size_t>(got));
        }
    }
    if (mode == "handshake") // the server has answered every ClientHello: its flight is here
        for (int fd : fds) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 30000) != 1) {
                std::fprintf(stderr, "tls-memory: no server flight within 30 s\n");
                std::exit(1);
            }
        }
    (void)!::write(out, "r", 1);
    for (;;) ::pause();
}

} // namespace

int main(int argc, char** argv)
{
    int n = 10000;
    std::string mode = "stream";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view k = argv[i];
        if (k == "--connections") n = std::atoi(argv[i + 1]);
        else if (k == "--mode") mode = argv[i + 1];
        else {
            std::cerr << "usage: tls-memory [--connections N] [--mode stream|handshake|tcp]\n";
            return 2;
        }
    }
    if (n <= 0 || (mode != "stream" && mode != "handshake" && mode != "tcp")) {
        std::cerr << "tls-memory: bad --connections or --mode\n";
        return 2;
    }
    bench::raise_fd_limit("tls-memory", static_cast<std::uint64_t>(n) + 256);

    char dir[] = "/tmp/tls-memory-XXXXXX";
    if (!::mkdtemp(dir)) return 1;
    const std::string d = dir;
    const std::string make = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
                             "-subj /CN=localhost -keyout " + d + "/key.pem -out " + d + "/cert.pem 2>/dev/null";
    if (std::system(make.c_str()) != 0) {
        std::cerr << "tls-memory: openssl could not make a certificate\n";
        return 1;
    }

    asio::io_context io;
    sse::server_options o;
    o.max_connections_per_client = 0; // one client address opens them all
    o.connection_rate_per_client = 0;
    o.handshake_timeout = std::chrono::minutes(5);
    o.head_timeout = std::chrono::minutes(5);
    sse::tls_server srv(io, sse::make_tls_context(d + "/cert.pem", d + "/key.pem"), o);
    srv.on_stream("/events", [](sse::stream_ptr) {});
    srv.listen("127.0.0.1", 0);
    srv.start();
    const unsigned short port = srv.local_endpoint().port();
    std::remove((d + "/cert.pem").c_str());
    std::remove((d + "/key.pem").c_str());
    ::rmdir(dir);

    int ready[2];
    if (::pipe(ready) != 0) return 1;
    std::thread loop([&] { io.run(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200)); // the loop's first allocations settle
    malloc_trim(0);
    const long heap0 = heap_bytes(), rss0 = rss_bytes();

    const pid_t child = ::fork();
    if (child == 0) {
        ::close(ready[0]);
        run_clients(port, n, mode, ready[1]);
    }
    ::close(ready[1]);
    char c = 0;
    const bool ok = ::read(ready[0], &c, 1) == 1;
    const auto all_there = [&] {
        const auto st = srv.stats();
        return mode == "stream" ? st.streams_open == static_cast<std::uint64_t>(n)
                                : st.connections_open == static_cast<std::uint64_t>(n);
    };
    for (int i = 0; ok && !all_there() && i < 3000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const bool there = ok && all_there();
    const long heap1 = heap_bytes(), rss1 = rss_bytes();
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    srv.stop();
    io.stop();
    loop.join();
    if (!there) {
        std::cerr << "tls-memory: the " << n << " connections did not all arrive\n";
        return 1;
    }
    std::printf("RESULT mode=%s connections=%d heap_per_conn_b=%ld rss_per_conn_b=%ld\n", mode.c_str(), n,
                (heap1 - heap0) / n, (rss1 - rss0) / n);
    return 0;
}
