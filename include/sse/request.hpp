// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_REQUEST_HPP
#define ASIO_SSE_REQUEST_HPP

#include <sse/detail/asio.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sse {

namespace detail {
class request_parser;
class router;

inline char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline bool iequals(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

/// An HTTP token character (RFC 9110 `tchar`): what methods and header names are made of.
inline bool is_tchar(char c) noexcept
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

inline int hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9') return c - '0';
    c = ascii_lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/// Decodes `%XX` escapes and `+` (as space) of a query component; a malformed escape stays as is.
inline std::string url_decode(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out.push_back(' ');
        } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}
} // namespace detail

/** @brief A parsed HTTP/1.x request head (and the body of a plain request, if any).

    Header names are matched case-insensitively; values keep their bytes (UTF-8 is passed
    through). Query parameters are parsed from the target but never used for routing.
    @par Thread Safety Distinct objects: safe. Shared objects: safe for concurrent reads.
*/
class request {
public:
    request() = default;

    /// The method, e.g. `GET`.
    std::string_view method() const noexcept { return view(method_); }
    /// The request target as sent, e.g. `/events?topic=a`.
    std::string_view target() const noexcept { return view(target_); }
    /// The path part of the target (no query), e.g. `/events`.
    std::string_view path() const noexcept { return view(path_); }
    /// The raw query string (after `?`, undecoded), empty if none.
    std::string_view query() const noexcept { return view(query_); }
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    int version_minor() const noexcept { return version_minor_; }

    /// The first header named `name` (case-insensitive), or `std::nullopt`.
    std::optional<std::string_view> header(std::string_view name) const noexcept
    {
        for (const auto& h : headers_)
            if (detail::iequals(view(h.first), name)) return view(h.second);
        return std::nullopt;
    }

    /// All headers in order, as (name, value) pairs.
    std::vector<std::pair<std::string_view, std::string_view>> headers() const
    {
        std::vector<std::pair<std::string_view, std::string_view>> out;
        out.reserve(headers_.size());
        for (const auto& h : headers_) out.emplace_back(view(h.first), view(h.second));
        return out;
    }

    /// The decoded value of query parameter `name` (first occurrence), or `std::nullopt`.
    std::optional<std::string> query_param(std::string_view name) const
    {
        std::string_view q = query();
        while (!q.empty()) {
            const auto amp = q.find('&');
            const std::string_view pair = q.substr(0, amp);
            q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
            const auto eq = pair.find('=');
            if (detail::url_decode(pair.substr(0, eq)) == name)
                return eq == std::string_view::npos ? std::string() : detail::url_decode(pair.substr(eq + 1));
        }
        return std::nullopt;
    }

    /// The value of cookie `name` from the `Cookie` header, or `std::nullopt`.
    std::optional<std::string_view> cookie(std::string_view name) const noexcept
    {
        for (const auto& h : headers_) {
            if (!detail::iequals(view(h.first), "cookie")) continue;
            std::string_view c = view(h.second);
            while (!c.empty()) {
                const auto semi = c.find(';');
                std::string_view pair = c.substr(0, semi);
                c = semi == std::string_view::npos ? std::string_view() : c.substr(semi + 1);
                while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
                const auto eq = pair.find('=');
                if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
            }
        }
        return std::nullopt;
    }

    /** @brief The id the client last saw: the `Last-Event-ID` header, else the `lastEventId`
        query parameter (for clients that cannot set headers); empty if neither. */
    std::string last_event_id() const
    {
        if (auto h = header("Last-Event-ID")) return std::string(*h);
        if (auto q = query_param("lastEventId")) return *q;
        return {};
    }

    /// True if the `Accept` header lists `text/event-stream`.
    bool accepts_event_stream() const noexcept
    {
        auto a = header("Accept");
        if (!a) return false;
        std::string lower(a->size(), '\0');
        for (std::size_t i = 0; i < a->size(); ++i) lower[i] = detail::ascii_lower((*a)[i]);
        return lower.find("text/event-stream") != std::string::npos;
    }

    /// The request body, complete before any handler runs (empty if none).
    const std::string& body() const noexcept { return body_; }

    /** @brief The value of route parameter `name` (`{name}` in the route's pattern, `"*"` for its
        trailing wildcard), percent-decoded once; `std::nullopt` if the route has none by that name.
        E.g. `/rooms/a%2Fb` on the route `/rooms/{id}` gives `param("id") == "a/b"`. */
    std::optional<std::string_view> param(std::string_view name) const noexcept
    {
        for (const auto& p : params_)
            if (p.first == name) return std::string_view(p.second);
        return std::nullopt;
    }

    /// The peer's address.
    const asio::ip::address& remote_address() const noexcept { return remote_; }

private:
    friend class detail::request_parser;
    friend class detail::router;
    struct span {
        std::uint32_t pos = 0, len = 0;
    };
    std::string_view view(span s) const noexcept { return std::string_view(head_).substr(s.pos, s.len); }

    std::string head_; // the raw head; spans point into it
    span method_, target_, path_, query_;
    std::vector<std::pair<span, span>> headers_;
    int version_minor_ = 1;
    std::string body_;
    asio::ip::address remote_;
    std::vector<std::pair<std::string, std::string>> params_; // route parameters, set by the router
};

} // namespace sse

#endif
