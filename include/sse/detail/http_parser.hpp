// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_HTTP_PARSER_HPP
#define ASIO_SSE_DETAIL_HTTP_PARSER_HPP

#include <sse/request.hpp>
#include <sse/response.hpp>

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace sse::detail {

/** @brief Bounded, incremental HTTP/1.x request-head parser (sans I/O).

    `scan()` is fed the bytes received so far and finds the blank line that ends the head
    without rescanning what it has seen; `parse()` then validates the head strictly and fills
    a `request`. Anything that is not a well-formed HTTP/1.0 or 1.1 request head is an error
    status, never an exception:
    - 400 malformed, including every head that could frame its body two ways (request
      smuggling): `Content-Length` twice (even with equal values), `Transfer-Encoding` twice,
      both together, or `Transfer-Encoding` on an HTTP/1.0 request;
    - 431 too large (bytes or header count);
    - 501 a transfer coding other than exactly `chunked` (`gzip`, `identity`, any list);
    - 505 other HTTP versions.

    The body is framed by `content_length()`, or, when `chunked()`, by a `chunked_decoder`
    (`<sse/detail/chunked.hpp>`) fed the bytes after the head.
*/
class request_parser {
public:
    enum class state { need_more, complete, failed };

    explicit request_parser(std::size_t max_head_bytes = 8192, std::size_t max_headers = 100) noexcept
        : max_head_(max_head_bytes), max_headers_(max_headers)
    {
    }

    /// Looks for the end of the head in `buf`, which holds every byte received for this request.
    state scan(std::string_view buf) noexcept
    {
        for (std::size_t i = scanned_; i < buf.size(); ++i) {
            if (buf[i] != '\n') continue;
            std::size_t end = 0;
            if (i + 1 < buf.size() && buf[i + 1] == '\n')
                end = i + 2;
            else if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n')
                end = i + 3;
            if (end == 0) continue;
            if (end > max_head_) return fail(431);
            head_size_ = end;
            return state::complete;
        }
        if (buf.size() >= max_head_) return fail(431);
        scanned_ = buf.size() >= 2 ? buf.size() - 2 : 0;
        return state::need_more;
    }

    /// Bytes of the head found by the last `scan()` that returned `complete`.
    std::size_t head_size() const noexcept { return head_size_; }

    /// The status of the last failure (400, 431, 501, 505).
    int status() const noexcept { return status_; }

    /// The body length announced by the parsed head (`Content-Length`, else 0).
    std::size_t content_length() const noexcept { return content_length_; }

    /// True when the last `parse()` accepted a head announcing a `Transfer-Encoding: chunked`
    /// body; false after `reset()` and after a `parse()` that failed.
    bool chunked() const noexcept { return chunked_; }

    /// Validates `head` (as found by `scan()`) into `out`; returns 0, or an error status.
    int parse(std::string_view head, request& out)
    {
        out = request();
        out.head_.assign(head.data(), head.size());
        const std::string_view h = out.head_;
        content_length_ = 0;
        chunked_ = false;
        bool have_length = false, have_te = false, te_chunked = false, have_host = false;

        std::size_t pos = 0;
        auto next_line = [&](std::string_view& line) {
            const auto lf = h.find('\n', pos);
            line = h.substr(pos, lf - pos);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            const std::size_t start = pos;
            pos = lf + 1;
            return start;
        };

        std::string_view line;
        const std::size_t line_pos = next_line(line);
        if (line.find('\r') != std::string_view::npos) return fail_status(400);
        // request-line = method SP request-target SP HTTP-version
        const auto sp1 = line.find(' ');
        if (sp1 == std::string_view::npos || sp1 == 0) return fail_status(400);
        const auto sp2 = line.find(' ', sp1 + 1);
        if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return fail_status(400);
        const std::string_view method = line.substr(0, sp1);
        const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        const std::string_view version = line.substr(sp2 + 1);
        for (char c : method)
            if (!is_tchar(c)) return fail_status(400);
        for (char c : target)
            if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F) return fail_status(400);
        if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !is_digit(version[5]) ||
            version[6] != '.' || !is_digit(version[7]))
            return fail_status(400);
        if (version[5] != '1' || version[7] > '1') return fail_status(505);
        out.version_minor_ = version[7] - '0';
        out.method_ = span_of(line_pos, 0, method.size());
        out.target_ = span_of(line_pos, sp1 + 1, target.size());

        // origin-form "/p?q", absolute-form "http://host/p?q", or "*"
        std::size_t path_off = 0;
        if (target.front() != '/') {
            if (target == "*") {
                if (method != "OPTIONS") return fail_status(400);
            } else {
                const auto scheme = target.find("://");
                if (scheme == std::string_view::npos) return fail_status(400);
                const auto slash = target.find('/', scheme + 3);
                if (slash == std::string_view::npos) return fail_status(400);
                path_off = slash;
            }
        }
        const std::string_view path_and_query = target.substr(path_off);
        const auto qmark = path_and_query.find('?');
        const std::size_t target_pos = line_pos + sp1 + 1 + path_off;
        out.path_ = span_of(target_pos, 0, std::min(qmark, path_and_query.size()));
        if (qmark != std::string_view::npos)
            out.query_ = span_of(target_pos, qmark + 1, path_and_query.size() - qmark - 1);

        // header fields, up to the blank line
        while (pos < h.size()) {
            const std::size_t start = next_line(line);
            if (line.empty()) break;
            if (out.headers_.size() == max_headers_) return fail_status(431);
            const auto colon = line.find(':');
            if (colon == std::string_view::npos || colon == 0) return fail_status(400);
            const std::string_view name = line.substr(0, colon);
            std::size_t vb = colon + 1, ve = line.size();
            while (vb < ve && (line[vb] == ' ' || line[vb] == '\t')) ++vb;
            while (ve > vb && (line[ve - 1] == ' ' || line[ve - 1] == '\t')) --ve;
            const std::string_view value = line.substr(vb, ve - vb);
            // a token name (this also rejects obs-fold and "name :"), a value without controls
            if (!response::valid_header(name, value)) return fail_status(400);
            out.headers_.emplace_back(span_of(start, 0, name.size()), span_of(start, vb, value.size()));

            if (iequals(name, "content-length")) {
                // a second one is refused even with the same value: one framing, stated once
                if (have_length) return fail_status(400);
                std::size_t n = 0;
                if (value.empty() || value.size() > 12) return fail_status(400);
                for (char c : value) {
                    if (!is_digit(c)) return fail_status(400);
                    n = n * 10 + static_cast<std::size_t>(c - '0');
                }
                have_length = true;
                content_length_ = n;
            } else if (iequals(name, "transfer-encoding")) {
                if (have_te) return fail_status(400);
                have_te = true;
                te_chunked = iequals(value, "chunked");
            } else if (iequals(name, "host")) {
                if (have_host) return fail_status(400);
                have_host = true;
            }
        }
        if (have_te && have_length) return fail_status(400); // request smuggling vector
        if (have_te && out.version_minor_ == 0) return fail_status(400); // RFC 9112 section 6.1
        if (have_te && !te_chunked) return fail_status(501);
        if (out.version_minor_ == 1 && !have_host) return fail_status(400);
        chunked_ = have_te; // only a head that parses announces a body
        out.headers_.shrink_to_fit(); // a stream keeps its request for its whole life
        return 0;
    }

    /// Sets what the connection knows beside the head.
    static void set_remote(request& r, asio::ip::address a) { r.remote_ = std::move(a); }
    static void set_body(request& r, std::string body) { r.body_ = std::move(body); }

    /// Forgets the last head, ready for the next request on the connection.
    void reset() noexcept
    {
        scanned_ = 0;
        head_size_ = 0;
        status_ = 0;
        content_length_ = 0;
        chunked_ = false;
    }

private:
    static bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
    static request::span span_of(std::size_t base, std::size_t off, std::size_t len) noexcept
    {
        return {static_cast<std::uint32_t>(base + off), static_cast<std::uint32_t>(len)};
    }
    state fail(int status) noexcept
    {
        status_ = status;
        return state::failed;
    }
    int fail_status(int status) noexcept
    {
        status_ = status;
        return status;
    }

    std::size_t max_head_, max_headers_;
    std::size_t scanned_ = 0, head_size_ = 0, content_length_ = 0;
    int status_ = 0;
    bool chunked_ = false;
};

} // namespace sse::detail

#endif
