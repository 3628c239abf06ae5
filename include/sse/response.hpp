// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_RESPONSE_HPP
#define ASIO_SSE_RESPONSE_HPP

#include <sse/request.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sse {

/** @brief A plain (non-stream) HTTP response: a status, headers and a body.

    Used by plain routes (a page, JSON, a redirect) and to refuse a stream (204 tells a
    browser to stop reconnecting; 401/403 for auth). `Content-Length`, `Date`-free framing and
    `Connection` are added by the server.
    @code
    return sse::response(200, "<h1>hi</h1>", "text/html; charset=utf-8");
    @endcode
*/
class response {
public:
    /// A response with `status`, `body` and the body's `content_type`.
    explicit response(int status = 200, std::string body = {},
                      std::string content_type = "text/plain; charset=utf-8")
        : status_(status), body_(std::move(body))
    {
        if (status < 100 || status > 999) throw std::invalid_argument("sse::response: status out of range");
        if (!body_.empty()) header("Content-Type", std::move(content_type));
    }

    /** @brief Adds a header.
        @throws std::invalid_argument if the name is not an HTTP token or the value holds CR, LF
        or other control characters (header injection). */
    response& header(std::string name, std::string value)
    {
        if (!valid_header(name, value)) throw std::invalid_argument("sse::response: invalid header \"" + name + "\"");
        headers_.emplace_back(std::move(name), std::move(value));
        return *this;
    }

    int status() const noexcept { return status_; }
    const std::string& body() const noexcept { return body_; }
    const std::vector<std::pair<std::string, std::string>>& headers() const noexcept { return headers_; }

    /// True if `name: value` can be sent as a header without injecting anything.
    static bool valid_header(std::string_view name, std::string_view value) noexcept
    {
        if (name.empty()) return false;
        for (char c : name)
            if (!detail::is_tchar(c)) return false;
        for (char c : value) {
            const auto u = static_cast<unsigned char>(c);
            if ((u < 0x20 && c != '\t') || u == 0x7F) return false;
        }
        return true;
    }

    /// The standard reason phrase of `status`, or "Unknown".
    static const char* reason(int status) noexcept
    {
        switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 411: return "Length Required";
        case 413: return "Content Too Large";
        case 415: return "Unsupported Media Type";
        case 417: return "Expectation Failed";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
        }
    }

    /// Whether a response with `status` has content (and a length): not 1xx, 204 or 304.
    static constexpr bool has_content(int status) noexcept { return status >= 200 && status != 204 && status != 304; }

    /// The wire form: status line, headers, framing, and the body unless `head_only` (HEAD).
    std::string serialize(bool head_only, bool keep_alive) const
    {
        std::string out;
        out.reserve(128 + body_.size());
        out.append("HTTP/1.1 ").append(std::to_string(status_)).append(" ").append(reason(status_)).append("\r\n");
        for (const auto& h : headers_) out.append(h.first).append(": ").append(h.second).append("\r\n");
        if (has_content(status_))
            out.append("Content-Length: ").append(std::to_string(body_.size())).append("\r\n");
        out.append(keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
        out.append("\r\n");
        if (!head_only && has_content(status_)) out.append(body_);
        return out;
    }

private:
    int status_;
    std::string body_;
    std::vector<std::pair<std::string, std::string>> headers_;
};

namespace detail {

/// The server's own error answers: `status` with a one-line plain-text body ("404 Not Found").
inline response error_response(int status)
{
    return response(status, std::to_string(status) + " " + response::reason(status) + "\n");
}

} // namespace detail
} // namespace sse

#endif
