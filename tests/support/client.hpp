// A small blocking loopback HTTP/SSE client for tests: every read has a deadline, so a test
// that waits for the server fails with a message instead of hanging.
#ifndef ASIO_SSE_TESTS_CLIENT_HPP
#define ASIO_SSE_TESTS_CLIENT_HPP

#include "sse_parser.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace test {

using namespace std::chrono_literals;

class client {
public:
    /// Connects to 127.0.0.1:`port`, from the loopback address `source` if given (e.g. "127.0.0.2").
    explicit client(unsigned short port, const char* source = nullptr)
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) throw std::runtime_error("socket() failed");
        if (source) {
            sockaddr_in from{};
            from.sin_family = AF_INET;
            if (::inet_pton(AF_INET, source, &from.sin_addr) != 1 ||
                ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
                ::close(fd_);
                throw std::runtime_error("bind() to the source address failed");
            }
        }
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd_);
            throw std::runtime_error("connect() failed");
        }
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    client(client&& o) noexcept : fd_(o.fd_), buf_(std::move(o.buf_)), eof_(o.eof_) { o.fd_ = -1; }
    ~client() { close(); }

    /// Opens a stream: sends a GET for `target` with `extra` header lines, returns the head.
    static client get(unsigned short port, std::string_view target, std::string_view extra = {},
                      const char* source = nullptr)
    {
        client c(port, source);
        c.send("GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" +
               std::string(extra) + "\r\n");
        return c;
    }

    void send(std::string_view bytes)
    {
        while (!bytes.empty()) {
            const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0) throw std::runtime_error("send() failed");
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    /// Everything up to and including `delim`; the rest stays buffered.
    std::string read_until(std::string_view delim, std::chrono::milliseconds timeout = 5s)
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (auto pos = buf_.find(delim); pos != std::string::npos) {
                std::string out = buf_.substr(0, pos + delim.size());
                buf_.erase(0, pos + delim.size());
                return out;
            }
            if (!fill(deadline))
                throw std::runtime_error("read_until: " + std::string(eof_ ? "closed" : "timed out") +
                                         " before \"" + std::string(delim) + "\"; got: " + buf_);
        }
    }

    /// The response head (through the blank line).
    std::string read_head(std::chrono::milliseconds timeout = 5s) { return read_until("\r\n\r\n", timeout); }

    /// The status code of the response head `head`.
    static int status(const std::string& head) { return std::stoi(head.substr(9, 3)); }

    /// Reads until `n` events were dispatched (per the reference parser).
    std::vector<parsed_event> read_events(std::size_t n, std::chrono::milliseconds timeout = 5s)
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            parser_.feed(buf_);
            buf_.clear();
            if (parser_.events.size() >= n) {
                std::vector<parsed_event> out(parser_.events.begin(), parser_.events.begin() + static_cast<long>(n));
                parser_.events.erase(parser_.events.begin(), parser_.events.begin() + static_cast<long>(n));
                return out;
            }
            if (!fill(deadline))
                throw std::runtime_error("read_events: " + std::string(eof_ ? "closed" : "timed out") + " after " +
                                         std::to_string(parser_.events.size()) + " of " + std::to_string(n));
        }
    }

    /// Reads until the server closes; returns what arrived. Throws on timeout.
    std::string read_to_close(std::chrono::milliseconds timeout = 5s)
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (fill(deadline)) {
        }
        if (!eof_) throw std::runtime_error("read_to_close: timed out; got: " + buf_);
        std::string out;
        out.swap(buf_);
        return out;
    }

    /// True if the server closed within `timeout` (data arriving meanwhile is discarded).
    bool closed_within(std::chrono::milliseconds timeout)
    {
        try {
            read_to_close(timeout);
            return true;
        } catch (const std::runtime_error&) {
            return false;
        }
    }

    /// Bytes received and not yet consumed.
    std::string& buffered() noexcept { return buf_; }
    sse_parser& parser() noexcept { return parser_; }

    /// Closes with a TCP reset instead of a FIN.
    void reset()
    {
        linger l{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        close();
    }

    void close()
    {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    int fd() const noexcept { return fd_; }

private:
    // Reads once, waiting until `deadline`; false on timeout or end of stream.
    bool fill(std::chrono::steady_clock::time_point deadline)
    {
        if (eof_) return false;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char tmp[65536];
        const auto n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        buf_.append(tmp, static_cast<std::size_t>(n));
        return true;
    }

    int fd_ = -1;
    std::string buf_;
    bool eof_ = false;
    sse_parser parser_;
};

} // namespace test

#endif
