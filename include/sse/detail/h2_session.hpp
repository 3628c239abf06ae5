// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_H2_SESSION_HPP
#define ASIO_SSE_DETAIL_H2_SESSION_HPP

// HTTP/2's framing, sans I/O (included by <sse/http2.hpp> only): one nghttp2 server session,
// fed the bytes a connection reads, asked for the bytes it writes, with the abuse limits that
// nghttp2 1.52 does not keep itself.

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sse::detail {

#if NGHTTP2_VERSION_NUM >= 0x013c00 // 1.60: the nghttp2_ssize API (the ssize_t one is deprecated)
using h2_ssize = nghttp2_ssize;
using h2_provider = nghttp2_data_provider2;
#else
using h2_ssize = ssize_t;
using h2_provider = nghttp2_data_provider;
#endif

/// The limits one HTTP/2 connection keeps (see `sse::http2_options`).
struct h2_limits {
    std::uint32_t max_concurrent_streams = 100;
    std::size_t max_header_bytes = 8192; ///< a request's decoded header list (names, values, 32 each)
    std::size_t max_headers = 64;
    std::size_t max_body_bytes = 1 << 20;
    std::uint32_t resets_per_second = 100;         ///< streams a client may reset (burst: twice that)
    std::uint32_t control_frames_per_second = 200; ///< SETTINGS, PING, PRIORITY, empty DATA (burst: twice)
};

/// A per-second budget with a burst of twice the rate (a token bucket).
class rate_budget {
public:
    explicit rate_budget(std::uint32_t per_second) noexcept : rate_(per_second), tokens_(2.0 * per_second) {}
    /// Spends one; false once the budget is exhausted.
    bool spend(std::chrono::steady_clock::time_point now) noexcept
    {
        if (last_ != std::chrono::steady_clock::time_point()) {
            const double s = std::chrono::duration<double>(now - last_).count();
            tokens_ = std::min(2.0 * rate_, tokens_ + s * rate_);
        }
        last_ = now;
        if (tokens_ < 1.0) return false;
        tokens_ -= 1.0;
        return true;
    }

private:
    double rate_, tokens_;
    std::chrono::steady_clock::time_point last_{};
};

/** @brief One HTTP/2 server session (nghttp2), without I/O.

    `feed()` takes what the connection read; afterwards `take_requests()` gives the streams
    whose request is complete (head and body) and `take_closed()` the streams that ended.
    `collect()` gives what to write. Answers: `respond()` with a `source` that nghttp2 pulls
    the body from as the client's flow-control window allows (a source that has nothing yet
    defers; `resume()` wakes it), `reset()` a stream, `goaway()` the connection.

    A request's head becomes an HTTP/1.1 head (`method target HTTP/1.1`, `Host` from
    `:authority` unless a `host` field came, then its fields, split `cookie` fields joined into
    one), so that the server's own parser checks it; one larger than `max_header_bytes` (or
    with more than `max_headers` fields) is answered 431 whatever its content, and its fields
    are not kept. A body over `max_body_bytes` (announced by `content-length`, or as it
    arrives), or one that would take the bodies the connection holds at once over four times
    that, is discarded and answered 413. A client that resets streams or sends control frames
    beyond its budget ends the connection (`abused()`); so does one that does not read what
    nghttp2 queues for it (nghttp2's own limit on queued acknowledgements), and one whose
    header block goes on far beyond the limit or in more than 64 CONTINUATION frames (nghttp2
    1.52 would read it to its end). No exception leaves a callback: one fails the session. */
class h2_session {
public:
    /// What a response's body (or a part of it, see `send()`) is read from, by nghttp2, as the
    /// flow-control window allows.
    class source {
    public:
        virtual ~source() = default;
        /// Copies up to `n` bytes to `out` and returns how many; sets `eof` once the body (or
        /// the part) is complete; returns 0 without `eof` if nothing is ready (the stream then
        /// waits for `resume()`).
        virtual std::size_t read(std::uint8_t* out, std::size_t n, bool& eof) = 0;
        /// Whether its end is the stream's end (END_STREAM); else only the part's.
        virtual bool ends_stream() const { return true; }
    };

    /// A request on one stream, as it arrives.
    struct incoming {
        std::string head; ///< as an HTTP/1.1 head, once the header block is whole (none after a 431)
        std::string body;
        std::size_t header_bytes = 0, fields = 0;
        int refusal = 0; ///< 431 or 413: answered so whatever the rest
        bool complete = false; ///< the client ended the stream (END_STREAM)
        bool queued = false;   ///< given by take_requests()
        bool has_host = false;
        std::chrono::steady_clock::time_point began;
        std::string method, path, authority; // pseudo-headers, until the head is built
        std::string cookies; // the `cookie` fields, joined with "; " (RFC 9113, 8.2.3)
        std::size_t counted = 0; // of body, in the connection's total
        /// Whether its fields are still kept (all but a 431's: a 413 is refused on its route).
        bool keeps_fields() const noexcept { return refusal != 431; }
    };

    /// Why a connection ends (beyond protocol errors, which nghttp2 answers with GOAWAY).
    enum class abuse { none, rapid_reset, control_flood, unread_output, header_flood };

    explicit h2_session(const h2_limits& limits) : limits_(limits), resets_(limits.resets_per_second),
                                                   control_(limits.control_frames_per_second)
    {
        nghttp2_session_callbacks* cb = nullptr;
        nghttp2_option* opt = nullptr;
        if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0) {
            nghttp2_session_callbacks_del(cb);
            throw std::bad_alloc();
        }
        nghttp2_session_callbacks_set_on_begin_frame_callback(cb, &on_begin_frame);
        nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cb, &on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &on_data_chunk);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &on_frame_recv);
        nghttp2_session_callbacks_set_on_stream_close_callback(cb, &on_stream_close);
        nghttp2_session_callbacks_set_on_frame_send_callback(cb, &on_frame_send);
        nghttp2_option_set_no_http_messaging(opt, 0);
        nghttp2_option_set_max_outbound_ack(opt, 1000);
        nghttp2_option_set_max_settings(opt, 32);
        nghttp2_option_set_max_deflate_dynamic_table_size(opt, 0); // responses: literal headers, no table to keep
        nghttp2_option_set_no_closed_streams(opt, 1); // (kept only for RFC 7540 priorities)
#if NGHTTP2_VERSION_NUM >= 0x013900 // 1.57: nghttp2's own rapid-reset guard, beside ours
        nghttp2_option_set_stream_reset_rate_limit(opt, 2 * limits.resets_per_second, limits.resets_per_second);
#endif
#if NGHTTP2_VERSION_NUM >= 0x013d00 // 1.61: its CONTINUATION limit, beside our header-bytes cut-off
        nghttp2_option_set_max_continuations(opt, 16);
#endif
        const int rv = nghttp2_session_server_new2(&session_, cb, this, opt);
        nghttp2_session_callbacks_del(cb);
        nghttp2_option_del(opt);
        if (rv != 0) throw std::bad_alloc();
        const nghttp2_settings_entry settings[] = {
            {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams},
            {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(limits.max_header_bytes)},
            {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
            {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1}, // (1.49+) no priority tree to keep per stream
        };
        nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    }
    h2_session(const h2_session&) = delete;
    h2_session& operator=(const h2_session&) = delete;
    ~h2_session() { nghttp2_session_del(session_); }

    /** @brief Takes `n` bytes the client sent. Returns 0, or a negative nghttp2 error once the
        connection must end (`abused()`, or an error nghttp2 cannot answer, e.g. a bad
        preface; a GOAWAY is queued either way). Most protocol errors return 0: nghttp2
        answers them with GOAWAY itself (`protocol_failed()` once it is out). Final: after an
        error, nothing more is read. */
    int feed(const char* data, std::size_t n)
    {
        if (failed_) return NGHTTP2_ERR_CALLBACK_FAILURE;
#if NGHTTP2_VERSION_NUM >= 0x013c00
        const h2_ssize rv = nghttp2_session_mem_recv2(session_, reinterpret_cast<const std::uint8_t*>(data), n);
#else
        const h2_ssize rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(data), n);
#endif
        if (rv == NGHTTP2_ERR_FLOODED && abuse_ == abuse::none) abuse_ = abuse::unread_output;
        if (abuse_ == abuse::none && rv >= 0) return 0;
        failed_ = true; // final: later bytes are not read
        nghttp2_session_terminate_session(session_, abuse_ != abuse::none ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
        return rv < 0 ? static_cast<int>(rv) : NGHTTP2_ERR_CALLBACK_FAILURE;
    }

    /// Appends what is ready to write to `out`, up to about `cap` bytes. False on a fatal error.
    bool collect(std::string& out, std::size_t cap)
    {
        while (out.size() < cap) {
            const std::uint8_t* p = nullptr;
#if NGHTTP2_VERSION_NUM >= 0x013c00
            const h2_ssize n = nghttp2_session_mem_send2(session_, &p);
#else
            const h2_ssize n = nghttp2_session_mem_send(session_, &p);
#endif
            if (n < 0) return false;
            if (n == 0) break;
            out.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
        }
        return true;
    }

    /// Whether the session still reads or writes (false once it has ended, e.g. after GOAWAY).
    bool alive() const noexcept { return nghttp2_session_want_read(session_) || nghttp2_session_want_write(session_); }

    /// The streams whose request is complete (or refused), in order, each once: those still open.
    std::vector<std::int32_t> take_requests()
    {
        auto ready = std::exchange(ready_, {});
        ready.erase(std::remove_if(ready.begin(), ready.end(), [this](std::int32_t id) { return !request(id); }), ready.end());
        return ready;
    }
    /// The streams that ended (with the HTTP/2 error code), in order.
    std::vector<std::pair<std::int32_t, std::uint32_t>> take_closed() { return std::exchange(closed_, {}); }
    /// The request of stream `id`, while it is open (null otherwise).
    incoming* request(std::int32_t id)
    {
        auto it = incoming_.find(id);
        return it == incoming_.end() ? nullptr : &it->second;
    }
    /// The streams whose request began before `before` and is not complete yet.
    std::vector<std::int32_t> stale(std::chrono::steady_clock::time_point before) const
    {
        std::vector<std::int32_t> out;
        for (const auto& [id, in] : incoming_)
            if (!in.queued && in.began < before) out.push_back(id);
        return out;
    }
    /// Forgets the request of stream `id` (it has been answered); the stream stays open.
    void answered(std::int32_t id)
    {
        if (auto it = incoming_.find(id); it != incoming_.end()) forget(it);
    }

    /// Whether a request is on its way (begun, not answered).
    bool receiving() const noexcept { return !incoming_.empty(); }

    /** @brief Answers stream `id` with `status` and `fields` (names any case: they are sent in
        lower case; connection-specific ones are dropped), and the body `body` pulls, if any
        (none: the HEADERS end the stream). `body` must live until the stream closes. With
        `then_reset`, a RST_STREAM (NO_ERROR: "stop sending") follows the end of the answer,
        for a request the client has not finished. */
    bool respond(std::int32_t id, int status, const std::vector<std::pair<std::string, std::string>>& fields, source* body,
                 bool then_reset = false)
    {
        if (then_reset) reset_after_.push_back(id);
        const block h(status, fields);
        const h2_provider provider = provider_of(body);
#if NGHTTP2_VERSION_NUM >= 0x013c00
        return nghttp2_submit_response2(session_, id, h.nva.data(), h.nva.size(), body ? &provider : nullptr) == 0;
#else
        return nghttp2_submit_response(session_, id, h.nva.data(), h.nva.size(), body ? &provider : nullptr) == 0;
#endif
    }

    /** @brief Sends the response head of stream `id` without ending the stream: its body follows
        in parts, each `send()`. */
    bool open(std::int32_t id, int status, const std::vector<std::pair<std::string, std::string>>& fields)
    {
        const block h(status, fields);
        return nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, id, nullptr, h.nva.data(), h.nva.size(), nullptr) == 0;
    }

    /** @brief Sends the next part of stream `id`'s body (after `open()`, once the part before has
        been read): `part` lives until it has been read to its end, which ends the stream if
        `part.ends_stream()`. */
    bool send(std::int32_t id, source& part)
    {
        // END_STREAM allowed: the part's source says whether its end is the stream's
        const h2_provider provider = provider_of(&part);
#if NGHTTP2_VERSION_NUM >= 0x013c00
        return nghttp2_submit_data2(session_, NGHTTP2_FLAG_END_STREAM, id, &provider) == 0;
#else
        return nghttp2_submit_data(session_, NGHTTP2_FLAG_END_STREAM, id, &provider) == 0;
#endif
    }

    /// A deferred body has something to read (or has ended).
    void resume(std::int32_t id) { nghttp2_session_resume_data(session_, id); }
    /// Ends stream `id` with RST_STREAM `code`.
    void reset(std::int32_t id, std::uint32_t code) { nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, code); }
    /// Tells the client that no new stream will be served (those open finish).
    void goaway()
    {
        nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                              NGHTTP2_NO_ERROR, nullptr, 0);
    }

    /// Whether the session ended the connection for a protocol error (its GOAWAY is out).
    bool protocol_failed() const noexcept { return protocol_failed_; }
    /// Why the client was cut off, if it was.
    abuse abused() const noexcept { return abuse_; }
    /// RST_STREAM frames the client sent.
    std::uint64_t resets_received() const noexcept { return resets_total_; }

private:
    static h2_session& self(void* p) { return *static_cast<h2_session*>(p); }

    // Runs a callback's body: an exception (bad_alloc) must not cross nghttp2's C frames.
    template <class F>
    static auto guarded(F&& f) noexcept -> decltype(f())
    {
        try {
            return f();
        } catch (...) {
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
    }

    void forget(std::map<std::int32_t, incoming>::iterator it)
    {
        body_bytes_ -= it->second.counted;
        incoming_.erase(it);
    }

    static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user)
    {
        auto& s = self(user);
        if (hd->type == NGHTTP2_HEADERS) s.continuations_ = 0;
        if (hd->type == NGHTTP2_CONTINUATION && ++s.continuations_ > 64) return s.cut_off(abuse::header_flood);
        return 0;
    }

    // A response's header block: `:status`, then `fields` in lower case without the
    // connection-specific ones (nghttp2 copies it when submitted). Made in place: its entries
    // point into its strings.
    struct block {
        block(int status, const std::vector<std::pair<std::string, std::string>>& fields) : code(std::to_string(status))
        {
            names.reserve(fields.size());
            nva.reserve(fields.size() + 1);
            nva.push_back(nv(":status", code));
            for (const auto& f : fields) {
                std::string name = lower(f.first);
                if (connection_specific(name)) continue;
                names.push_back(std::move(name));
                nva.push_back(nv(names.back(), f.second));
            }
        }
        block(const block&) = delete;
        block& operator=(const block&) = delete;
        std::string code;
        std::vector<std::string> names; // reserved: push_back never moves them
        std::vector<nghttp2_nv> nva;
    };

    static h2_provider provider_of(source* body)
    {
        h2_provider p{};
        p.source.ptr = body;
        p.read_callback = &read_body;
        return p;
    }

    static nghttp2_nv nv(std::string_view name, std::string_view value)
    {
        return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                NGHTTP2_NV_FLAG_NONE};
    }

    static std::string lower(std::string_view s)
    {
        std::string out(s);
        for (auto& c : out)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        return out;
    }

    static bool connection_specific(std::string_view name)
    {
        for (const char* n : {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"})
            if (name == n) return true;
        return false;
    }

    static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user)
    {
        return guarded([&] {
            if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
            self(user).incoming_[frame->hd.stream_id].began = std::chrono::steady_clock::now();
            return 0;
        });
    }

    static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
                         const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* user)
    {
        return guarded([&] { return self(user).header(frame, name, namelen, value, valuelen); });
    }

    int header(const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen, const std::uint8_t* value,
               std::size_t valuelen)
    {
        auto& s = *this;
        if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0; // trailers: ignored
        incoming* in = s.request(frame->hd.stream_id);
        if (!in) return 0;
        in->header_bytes += namelen + valuelen + 32;
        ++in->fields;
        if (in->header_bytes > 4 * s.limits_.max_header_bytes + 65536) return s.cut_off(abuse::header_flood); // CONTINUATION flood
        if (in->header_bytes > s.limits_.max_header_bytes || in->fields > s.limits_.max_headers) {
            in->refusal = 431;
            in->head.clear();
            in->head.shrink_to_fit();
            return 0;
        }
        if (!in->keeps_fields()) return 0;
        const std::string_view n(reinterpret_cast<const char*>(name), namelen);
        const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
        if (n == ":method")
            in->method = v;
        else if (n == ":path")
            in->path = v;
        else if (n == ":authority")
            in->authority = v;
        else if (n == "cookie")
            in->cookies.append(in->cookies.empty() ? "" : "; ").append(v);
        else if (!n.empty() && n.front() != ':') {
            in->has_host = in->has_host || n == "host";
            if (n == "content-length" && too_long(v, s.limits_.max_body_bytes)) in->refusal = 413;
            in->head.append(n).append(": ").append(v).append("\r\n");
        }
        return 0;
    }

    // Whether the decimal `v` is over `limit` (or not a number: nghttp2 refuses that itself).
    static bool too_long(std::string_view v, std::size_t limit)
    {
        std::size_t n = 0;
        for (char c : v) {
            if (c < '0' || c > '9') return false;
            if (n > (limit - static_cast<std::size_t>(c - '0')) / 10) return true;
            n = n * 10 + static_cast<std::size_t>(c - '0');
        }
        return n > limit;
    }

    static int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data, std::size_t len,
                             void* user)
    {
        return guarded([&] {
            auto& s = self(user);
            incoming* in = s.request(id);
            if (!in || in->refusal) return 0;
            if (in->body.size() + len > s.limits_.max_body_bytes ||
                s.body_bytes_ + len > 4 * std::min(s.limits_.max_body_bytes, SIZE_MAX / 8)) {
                in->refusal = 413;
                s.body_bytes_ -= in->counted;
                in->counted = 0;
                std::string().swap(in->body);
                return 0;
            }
            in->body.append(reinterpret_cast<const char*>(data), len);
            in->counted += len;
            s.body_bytes_ += len;
            return 0;
        });
    }

    static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user)
    {
        return guarded([&] { return self(user).frame_received(frame); });
    }

    int frame_received(const nghttp2_frame* frame)
    {
        auto& s = *this;
        const auto now = std::chrono::steady_clock::now();
        switch (frame->hd.type) {
        case NGHTTP2_RST_STREAM:
            ++s.resets_total_;
            if (!s.resets_.spend(now)) return s.cut_off(abuse::rapid_reset);
            return 0;
        case NGHTTP2_SETTINGS:
        case NGHTTP2_PING:
            if (frame->hd.flags & NGHTTP2_FLAG_ACK) return 0;
            [[fallthrough]];
        case NGHTTP2_PRIORITY:
            if (!s.control_.spend(now)) return s.cut_off(abuse::control_flood);
            return 0;
        case NGHTTP2_DATA:
            if (frame->hd.length == 0 && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && !s.control_.spend(now))
                return s.cut_off(abuse::control_flood);
            break;
        case NGHTTP2_HEADERS: break;
        default: return 0;
        }
        incoming* in = s.request(frame->hd.stream_id);
        if (!in) return 0;
        // the request's header block is whole: its head, for the answer, and for a refusal's
        // route (a body over the limit, or late, is refused with the route's CORS grant)
        if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST && in->keeps_fields()) {
            std::string head = in->method;
            head.append(" ").append(in->path).append(" HTTP/1.1\r\n");
            if (!in->authority.empty() && !in->has_host) head.append("host: ").append(in->authority).append("\r\n");
            if (!in->cookies.empty()) in->head.append("cookie: ").append(in->cookies).append("\r\n");
            in->head = head.append(in->head).append("\r\n");
        }
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) in->complete = true;
        if ((in->complete || in->refusal) && !in->queued) { // a refusal is answered without the rest
            in->queued = true;
            s.ready_.push_back(frame->hd.stream_id);
        }
        return 0;
    }

    int cut_off(abuse why)
    {
        abuse_ = why;
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }

    static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t code, void* user)
    {
        return guarded([&] {
            auto& s = self(user);
            s.answered(id);
            s.closed_.emplace_back(id, code);
            s.reset_after_.erase(std::remove(s.reset_after_.begin(), s.reset_after_.end(), id), s.reset_after_.end());
            return 0;
        });
    }

    static int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user)
    {
        return guarded([&] { return self(user).frame_sent(session, frame); });
    }

    int frame_sent(nghttp2_session* session, const nghttp2_frame* frame)
    {
        auto& s = *this;
        if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR && s.abuse_ == abuse::none)
            s.protocol_failed_ = true;
        if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
            (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
            auto& r = s.reset_after_;
            if (auto it = std::find(r.begin(), r.end(), frame->hd.stream_id); it != r.end()) {
                r.erase(it);
                nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
            }
        }
        return 0;
    }

    static h2_ssize read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                              std::uint32_t* flags, nghttp2_data_source* src, void*)
    {
        return guarded([&]() -> h2_ssize {
            bool eof = false;
            auto* body = static_cast<source*>(src->ptr);
            const std::size_t n = body->read(buf, length, eof);
            if (eof) *flags |= body->ends_stream() ? NGHTTP2_DATA_FLAG_EOF : NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
            if (n == 0 && !eof) return NGHTTP2_ERR_DEFERRED;
            return static_cast<h2_ssize>(n);
        });
    }

    h2_limits limits_;
    nghttp2_session* session_ = nullptr;
    std::map<std::int32_t, incoming> incoming_;
    std::vector<std::int32_t> ready_;
    std::vector<std::pair<std::int32_t, std::uint32_t>> closed_;
    std::vector<std::int32_t> reset_after_; // answered before the client finished its request
    rate_budget resets_, control_;
    abuse abuse_ = abuse::none;
    bool protocol_failed_ = false, failed_ = false;
    std::uint64_t resets_total_ = 0;
    std::size_t body_bytes_ = 0;  // of the bodies in incoming_
    unsigned continuations_ = 0;  // CONTINUATION frames of the header block being read
};

} // namespace sse::detail

#endif
