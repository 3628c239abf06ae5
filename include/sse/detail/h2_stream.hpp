// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_H2_STREAM_HPP
#define ASIO_SSE_DETAIL_H2_STREAM_HPP

#include <sse/detail/asio.hpp>
#include <sse/detail/h2_session.hpp>
#include <sse/stream.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sse::detail {

class h2_stream;

/// What an HTTP/2 stream asks of its connection (on the connection's strand, which is the
/// stream's). See `h2_connection`.
class h2_link {
public:
    virtual ~h2_link() = default;
    /// Sends the response head of stream `id` (the stream stays open).
    virtual void open(std::int32_t id, int status, const std::vector<std::pair<std::string, std::string>>& fields) = 0;
    /// Sends the next part of stream `id`'s body, read from `part` (see `h2_session::send`);
    /// false if the stream has closed meanwhile (its close is reported later).
    virtual bool send(std::int32_t id, h2_session::source& part) = 0;
    /// Ends stream `id` with RST_STREAM `code`.
    virtual void reset(std::int32_t id, std::uint32_t code) = 0;
    /// `s` handed a whole batch of `bytes` over: it is written once the connection's write completes.
    virtual void handed(std::shared_ptr<h2_stream> s, std::size_t bytes) = 0;
};

/** @brief An `sse::stream` on one HTTP/2 stream of a connection, on the connection's strand.

    Its write queue is the same as over HTTP/1.1 (bound, overflow policy, write timeout): each
    batch it takes is one part of the body handed to nghttp2 (DATA frames, as the client's
    flow-control window allows), written once the connection's socket has taken its last
    frame; between batches nghttp2 holds nothing for it. The head goes as HEADERS; `close()`
    ends the HTTP/2 stream (END_STREAM), not the connection. */
class h2_stream final : public stream, private h2_session::source {
public:
    h2_stream(lane& lane, sse::request req, std::shared_ptr<server_state> state, connection_slot slot,
              std::shared_ptr<h2_link> link, std::int32_t id)
        : stream(lane, std::move(req), std::move(state), std::move(slot)), link_(std::move(link)), id_(id)
    {
    }

    /// The connection, while the HTTP/2 stream is open and the connection alive (it owns the
    /// stream's entry: a weak reference, so that neither keeps the other).
    std::shared_ptr<h2_link> link() const { return linked_ ? link_.lock() : nullptr; }

    /// On the strand: the HTTP/2 stream has closed (the client reset it, or the connection
    /// ended): the stream ends for `ec`, and no longer touches the connection.
    void peer_closed(std::error_code ec)
    {
        if (!linked_) return;
        linked_ = false;
        link_.reset();
        const bool writing = batch_.has_value() || handed_;
        batch_.reset();
        handed_ = false; // a write of the connection that completes later no longer counts
        if (!writing && !watching_) {
            gone_eof_ = ec == make_error_code(asio::error::eof); // the next write or watch learns it
            return;
        }
        asio::post(get_executor(), [self = shared_from_this(), this, ec, writing] {
            if (writing)
                on_write(ec, 0);
            else
                on_read(ec);
        });
    }

    /// On the strand: the batch handed over has been written to the socket.
    void sent(std::size_t bytes)
    {
        if (!handed_) return;
        handed_ = false;
        on_write({}, bytes);
    }

    /// What nghttp2 reads the body from.
    h2_session::source& body() noexcept { return *this; }

private:
    // The head goes now, as HEADERS (on the strand: open() runs there for HTTP/2 streams); the
    // body is what the queue writes first.
    std::string answer_bytes(const response* rejection, const std::vector<std::pair<std::string, std::string>>& extra,
                             bool head_only) override
    {
        std::string body;
        if (rejection) {
            auto fields = rejection->headers();
            const int status = rejection->status();
            if (status >= 200 && status != 204 && status != 304) {
                fields.emplace_back("content-length", std::to_string(rejection->body().size()));
                if (!head_only) body = rejection->body();
            }
            if (auto l = link()) l->open(id_, status, fields);
        } else {
            auto fields = stream_head_fields();
            fields.insert(fields.end(), extra.begin(), extra.end());
            if (auto l = link()) l->open(id_, 200, fields);
            if (!head_only) body = stream_preamble(options());
        }
        submitted_ = true;
        return body;
    }

    std::size_t try_write(const write_buffers&, std::error_code& ec) override
    {
        ec = make_error_code(asio::error::would_block); // frames go out with the connection's writes
        return 0;
    }

    void start_write(const write_buffers& buffers) override
    {
        auto l = link();
        if (!l) return fail_soon(true);
        batch_.emplace(buffers);
        copied_ = 0;
        total_ = 0;
        for (auto b : buffers) total_ += b.size();
        if (total_ == 0) return hand_over(); // nothing for nghttp2 to read: written with the next write
        if (!l->send(id_, body())) {
            batch_.reset(); // not handed over: this write fails now, and the close only ends the watch
            fail_soon(true);
        }
    }

    void start_read() override
    {
        watching_ = true;
        if (!link()) fail_soon(false);
    }

    void close_transport() noexcept override
    {
        auto l = link();
        if (!l || ended_) return;
        ended_ = true;
        if (!submitted_)
            l->reset(id_, NGHTTP2_INTERNAL_ERROR); // never answered
        else if (batch_ || handed_)
            l->reset(id_, NGHTTP2_CANCEL); // cut short: a batch not (all) written, e.g. a stalled write
        else if (!l->send(id_, body())) // an empty last part: END_STREAM after what was written
            l->reset(id_, NGHTTP2_INTERNAL_ERROR);
    }

    bool ends_stream() const override { return ended_; }

    // The batch in flight, as one part; or, once ended, the empty last part.
    std::size_t read(std::uint8_t* out, std::size_t n, bool& eof) override
    {
        if (!batch_) {
            eof = true;
            return 0;
        }
        std::size_t skip = copied_, done = 0;
        for (auto b : *batch_) {
            if (done == n) break;
            if (skip >= b.size()) {
                skip -= b.size();
                continue;
            }
            const std::size_t k = std::min(b.size() - skip, n - done);
            std::memcpy(out + done, static_cast<const char*>(b.data()) + skip, k);
            done += k;
            skip = 0;
        }
        copied_ += done;
        eof = copied_ == total_;
        if (eof) hand_over();
        return done;
    }

    void hand_over()
    {
        batch_.reset();
        handed_ = true;
        if (auto l = link()) l->handed(std::static_pointer_cast<h2_stream>(shared_from_this()), total_);
    }

    // The HTTP/2 stream closed before a write or a watch began: it completes with that, soon.
    void fail_soon(bool write)
    {
        std::error_code ec = make_error_code(asio::error::connection_reset);
        if (gone_eof_) ec = make_error_code(asio::error::eof);
        asio::post(get_executor(), [self = shared_from_this(), this, write, ec] {
            if (write)
                on_write(ec, 0);
            else
                on_read(ec);
        });
    }

    std::weak_ptr<h2_link> link_; // until the HTTP/2 stream closes
    std::int32_t id_;
    std::optional<write_buffers> batch_; // handed to nghttp2, being read
    std::size_t copied_ = 0, total_ = 0;
    bool linked_ = true, submitted_ = false, ended_ = false, watching_ = false, handed_ = false, gone_eof_ = false;
};

} // namespace sse::detail

#endif
