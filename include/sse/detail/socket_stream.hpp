// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_SOCKET_STREAM_HPP
#define ASIO_SSE_DETAIL_SOCKET_STREAM_HPP

#include <sse/detail/asio.hpp>
#include <sse/detail/discard.hpp>
#include <sse/detail/exact_allocator.hpp>
#include <sse/detail/transport.hpp>
#include <sse/stream.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace sse::detail {

/// Where a TLS stream's watch read puts what a client sends (nothing meaningful); plain TCP
/// streams wait for readability instead and need no buffer.
template <bool Plaintext>
struct watch_buffer {
    char read_buf_[16];
};
template <>
struct watch_buffer<true> {};

/** @brief The stream on a concrete transport (`asio::ip::tcp::socket`, or an SSL stream over one).

    It counts its socket's pending operations, and lets the socket go once the stream has ended
    and the last of them has completed: a closed stream holds no Asio object. */
template <class Socket>
class socket_stream final : public stream, private watch_buffer<transport<Socket>::plaintext> {
public:
    socket_stream(Socket socket, lane& lane, sse::request req, std::shared_ptr<server_state> state,
                  connection_slot slot)
        : stream(lane, std::move(req), std::move(state), std::move(slot)), socket_(std::move(socket))
    {
        asio_error_code ignored; // if this fails, every write waits for the reactor: slower, still right
        if constexpr (transport<Socket>::plaintext) socket_->non_blocking(true, ignored);
        transport<Socket>::send_only(*socket_); // its request is read: from now on it only sends
    }

private:
    std::size_t try_write(const write_buffers& buffers, std::error_code& ec) override
    {
        if constexpr (transport<Socket>::plaintext) {
            if (socket_->non_blocking()) {
                asio_error_code e;
                const std::size_t n = socket_->write_some(buffers, e);
                ec = e;
                return n;
            }
        }
        ec = make_error_code(asio::error::would_block); // an SSL stream cannot take part of a record back
        return 0;
    }

    void start_write(const write_buffers& buffers) override
    {
        ++transport_ops_;
        socket_->async_write_some(buffers, asio::bind_executor(get_executor(), [self = shared_from_this(),
                                                                                this](std::error_code ec, std::size_t n) {
            --transport_ops_;
            on_write(ec, n);
            let_go_if_idle();
        }));
    }

    void start_read() override
    {
        ++transport_ops_;
        if constexpr (transport<Socket>::plaintext) {
            // The watch is pending for the stream's whole life and usually completes once, at the
            // end: a wait (no buffer) with an unbound handler that dispatches to the strand, in a
            // block of its own size, keeps it small (a strand bound into it would be copied there).
            socket_->async_wait(asio::socket_base::wait_read,
                                with_exact_allocation([self = shared_from_this(), this](std::error_code ec) {
                                    asio::dispatch(get_executor(), [self, this, ec] {
                                        --transport_ops_;
                                        if (!finished()) on_read(ec ? ec : drain());
                                        let_go_if_idle();
                                    });
                                }));
        } else {
            // A TLS read may write (e.g. alerts): its steps must run on the strand like the writes.
            socket_->async_read_some(asio::buffer(this->read_buf_),
                                     asio::bind_allocator(exact_allocator<void>(),
                                                          asio::bind_executor(get_executor(), [self = shared_from_this(),
                                                                                               this](std::error_code ec,
                                                                                                     std::size_t) {
                                                              --transport_ops_;
                                                              on_read(ec);
                                                              let_go_if_idle();
                                                          })));
        }
    }

    // Plain TCP, on the strand: discards what the client sent (`discard_input`). Returns how
    // the stream ended (eof, an error), or nothing.
    std::error_code drain()
    {
        bool got = false;
        const asio_error_code ec = discard_input(socket_->native_handle(), got);
        if (ec == asio::error::would_block) return {};
        return ec;
    }

    void close_transport() noexcept override
    {
        if (!socket_) return;
        asio_error_code ignored;
        socket_->lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        socket_->lowest_layer().close(ignored);
        let_go_if_idle();
    }

    // On the strand: once ended and with nothing pending on it, the socket goes.
    void let_go_if_idle() noexcept
    {
        if (transport_ops_ == 0 && finished()) socket_.reset();
    }

    std::optional<Socket> socket_; // its pending operations (a write, the watch): transport_ops_
};

/// What the server (and only the server) does to a stream.
struct stream_access {
    template <class Socket>
    static std::shared_ptr<stream> make(Socket socket, lane& lane, sse::request req,
                                        std::shared_ptr<server_state> state, connection_slot slot)
    {
        return std::make_shared<socket_stream<Socket>>(std::move(socket), lane, std::move(req),
                                                       std::move(state), std::move(slot));
    }
    static void open(stream& s, std::vector<std::pair<std::string, std::string>> extra) { s.open(std::move(extra)); }
};

} // namespace sse::detail

#endif
