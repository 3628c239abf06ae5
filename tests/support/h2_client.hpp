// A small blocking HTTP/2 client for tests (cleartext, prior knowledge), on nghttp2's client
// session: requests, per-stream answers, and the frames an abusive client sends. Every wait
// has a deadline, so a test that waits for the server fails instead of hanging.
#ifndef ASIO_SSE_TESTS_H2_CLIENT_HPP
#define ASIO_SSE_TESTS_H2_CLIENT_HPP

#include <nghttp2/nghttp2.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace test {

class h2_client {
public:
    struct answer {
        int status = 0;
        std::vector<std::pair<std::string, std::string>> headers;
        std::string data;
        bool closed = false;
        std::uint32_t error_code = 0; // of the close (RST_STREAM's, or NO_ERROR)
        std::string header(const std::string& name) const
        {
            for (const auto& h : headers)
                if (h.first == name) return h.second;
            return {};
        }
    };

    /// Connects to 127.0.0.1:`port`; `window` is the client's initial stream window (0: the
    /// default 65,535), and `auto_window` whether it returns what it reads to the server.
    explicit h2_client(unsigned short port, std::uint32_t window = 0, bool auto_window = true)
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            if (fd_ >= 0) ::close(fd_);
            throw std::runtime_error("h2_client: connect() failed");
        }
        nghttp2_session_callbacks* cb = nullptr;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_header_callback(cb, &on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &on_data);
        nghttp2_session_callbacks_set_on_stream_close_callback(cb, &on_close);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &on_frame);
        nghttp2_option* opt = nullptr;
        nghttp2_option_new(&opt);
        nghttp2_option_set_no_auto_window_update(opt, auto_window ? 0 : 1);
        nghttp2_session_client_new2(&session_, cb, this, opt);
        nghttp2_option_del(opt);
        nghttp2_session_callbacks_del(cb);
        std::vector<nghttp2_settings_entry> iv{{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
        if (window) iv.push_back({NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window});
        nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv.data(), iv.size());
        flush();
    }
    h2_client(const h2_client&) = delete;
    h2_client& operator=(const h2_client&) = delete;
    ~h2_client()
    {
        nghttp2_session_del(session_);
        if (fd_ >= 0) ::close(fd_);
    }

    /// Sends a request (`extra`: more header fields); with `body`, a DATA frame ends it,
    /// unless `end` is false (the request then never ends). Returns the stream id.
    std::int32_t request(const std::string& method, const std::string& path,
                         std::vector<std::pair<std::string, std::string>> extra = {}, const std::string* body = nullptr,
                         bool end = true)
    {
        std::vector<std::pair<std::string, std::string>> f{
            {":method", method}, {":scheme", "http"}, {":authority", "127.0.0.1"}, {":path", path}};
        f.insert(f.end(), extra.begin(), extra.end());
        std::vector<nghttp2_nv> nva;
        for (auto& h : f)
            nva.push_back({reinterpret_cast<std::uint8_t*>(h.first.data()), reinterpret_cast<std::uint8_t*>(h.second.data()),
                           h.first.size(), h.second.size(), NGHTTP2_NV_FLAG_NONE});
        std::int32_t id = 0;
        if (!body && end) {
            id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), nullptr, nullptr);
        } else {
            auto& src = bodies_.emplace_back(body ? *body : std::string(), end);
            nghttp2_data_provider p{};
            p.source.ptr = &src;
            p.read_callback = &read_body;
            id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &p, nullptr);
        }
        if (id < 0) throw std::runtime_error("h2_client: submit_request failed");
        streams_[id];
        flush();
        return id;
    }

    /// Resets stream `id` (CANCEL).
    void reset(std::int32_t id)
    {
        nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        flush();
    }
    void ping()
    {
        nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
        flush();
    }
    void settings()
    {
        nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
        flush();
    }
    /// Writes `bytes` as they are (no framing).
    void raw(const std::string& bytes) { write_all(bytes.data(), bytes.size()); }
    /// Opens the connection's receive window to its largest (2^31 - 1 bytes).
    void open_connection_window()
    {
        nghttp2_submit_window_update(session_, NGHTTP2_FLAG_NONE, 0, 0x7fffffff - 65535);
        flush();
    }
    /// Lets the server send `n` more bytes on stream `id` (and on the connection).
    void consume(std::int32_t id, std::size_t n)
    {
        nghttp2_session_consume(session_, id, n);
        flush();
    }

    answer& stream(std::int32_t id) { return streams_[id]; }

    /// Reads and acts on what arrives until `done()` holds (true) or `limit` passes (false).
    bool wait(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(10))
    {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done()) {
            if (eof_) return false;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[16384];
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                eof_ = true;
                continue;
            }
            if (nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(buf), static_cast<std::size_t>(n)) < 0)
                eof_ = true;
            flush();
        }
        return true;
    }

    /// Waits until the server closes the connection.
    bool wait_closed(std::chrono::milliseconds limit = std::chrono::seconds(10))
    {
        return wait([this] { return eof_; }, limit) || eof_;
    }

    bool closed() const noexcept { return eof_; }
    /// The GOAWAY's error code, if one came (-1: none).
    long goaway_code() const noexcept { return goaway_; }

private:
    struct body_source {
        body_source(std::string b, bool e) : bytes(std::move(b)), end(e) {}
        std::string bytes;
        bool end;
        std::size_t pos = 0;
    };

    void flush()
    {
        for (;;) {
            const std::uint8_t* p = nullptr;
            const auto n = nghttp2_session_mem_send(session_, &p);
            if (n <= 0) return;
            write_all(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
        }
    }

    void write_all(const char* p, std::size_t n)
    {
        while (n > 0 && !eof_) {
            const auto k = ::send(fd_, p, n, MSG_NOSIGNAL);
            if (k <= 0) {
                eof_ = true;
                return;
            }
            p += k;
            n -= static_cast<std::size_t>(k);
        }
    }

    static h2_client& self(void* u) { return *static_cast<h2_client*>(u); }

    static int on_header(nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* name, std::size_t namelen,
                         const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* u)
    {
        auto& a = self(u).streams_[f->hd.stream_id];
        const std::string n(reinterpret_cast<const char*>(name), namelen), v(reinterpret_cast<const char*>(value), valuelen);
        if (n == ":status")
            a.status = std::stoi(v);
        else
            a.headers.emplace_back(n, v);
        return 0;
    }
    static int on_data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data, std::size_t len, void* u)
    {
        self(u).streams_[id].data.append(reinterpret_cast<const char*>(data), len);
        return 0;
    }
    static int on_close(nghttp2_session*, std::int32_t id, std::uint32_t code, void* u)
    {
        auto& a = self(u).streams_[id];
        a.closed = true;
        a.error_code = code;
        return 0;
    }
    static int on_frame(nghttp2_session*, const nghttp2_frame* f, void* u)
    {
        if (f->hd.type == NGHTTP2_GOAWAY) self(u).goaway_ = static_cast<long>(f->goaway.error_code);
        return 0;
    }
    static ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length, std::uint32_t* flags,
                             nghttp2_data_source* src, void*)
    {
        auto& b = *static_cast<body_source*>(src->ptr);
        const std::size_t k = std::min(length, b.bytes.size() - b.pos);
        std::copy_n(b.bytes.data() + b.pos, k, buf);
        b.pos += k;
        if (b.pos == b.bytes.size()) {
            if (b.end) *flags |= NGHTTP2_DATA_FLAG_EOF;
            else if (k == 0) return NGHTTP2_ERR_DEFERRED;
        }
        return static_cast<ssize_t>(k);
    }

    int fd_ = -1;
    nghttp2_session* session_ = nullptr;
    std::map<std::int32_t, answer> streams_;
    std::deque<body_source> bodies_; // the session keeps pointers into it
    bool eof_ = false;
    long goaway_ = -1;
};

} // namespace test

#endif
