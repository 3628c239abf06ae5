// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_ROUTER_HPP
#define ASIO_SSE_DETAIL_ROUTER_HPP

#include <sse/detail/utf8.hpp>
#include <sse/options.hpp>
#include <sse/request.hpp>
#include <sse/response.hpp>
#include <sse/stream.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sse::detail {

/// One path: a stream handler, a plain handler, or both (then `Accept: text/event-stream` picks).
struct route {
    std::function<void(stream_ptr)> on_stream;
    std::function<response(const request&)> on_request;
    route_options options;
    std::vector<std::string> stream_methods; // of on_stream (route_options::methods)
    std::shared_ptr<std::atomic<std::size_t>> streams = std::make_shared<std::atomic<std::size_t>>(0);
};

/** @brief Exact paths and patterns (`/rooms/{id}`, a trailing `*`); filled before the server
    starts, read-only after.

    Exact (all-literal) paths win. Patterns are kept sorted by precedence (segment by segment,
    a literal before a parameter before the wildcard) and tried in that order on the raw path;
    the first that matches is the route, and its captured values are then percent-decoded once.
*/
class router {
public:
    /** @brief The route registered as `path`, created if new (the same string gives the same route).
        @throws std::invalid_argument if `path` does not start with `/`, is not a valid pattern,
        or has the same shape as a pattern already registered under another string. */
    route& at(std::string path)
    {
        if (path.empty() || path.front() != '/')
            throw std::invalid_argument("sse::server: a route path must start with '/': " + path);
        if (auto it = exact_.find(path); it != exact_.end()) return it->second;
        pattern p = parse(path);
        if (std::all_of(p.segments.begin(), p.segments.end(),
                        [](const segment& s) { return s.what == kind::literal; }))
            return exact_[std::move(path)];
        const auto it = std::lower_bound(patterns_.begin(), patterns_.end(), p, precedes);
        if (it != patterns_.end() && !precedes(p, *it)) { // same shape
            if (it->text == p.text) return *it->target;
            throw std::invalid_argument("sse::server: ambiguous route " + p.text + " (same shape as " + it->text + ")");
        }
        return *patterns_.insert(it, std::move(p))->target;
    }

    /** @brief The route for `r.path()` (the query is ignored), with the decoded parameters stored
        in `r` (see `request::param`). No route: nullptr and `status` 404. A matching pattern whose
        value has a malformed `%` escape, is not UTF-8 or contains NUL: nullptr and `status` 400.
        `status` is set only when it returns nullptr. */
    const route* find(sse::request& r, int& status) const
    {
        r.params_.clear();
        const std::string_view path = r.path();
        if (auto it = exact_.find(path); it != exact_.end()) return &it->second;
        if (!path.empty() && path.front() == '/') {
            for (const auto& p : patterns_) {
                if (!walk(p, path, [](const std::string&, std::string_view) {})) continue;
                bool ok = true;
                walk(p, path, [&](const std::string& name, std::string_view raw) {
                    std::string value;
                    if (ok && (ok = decode(raw, value))) r.params_.emplace_back(name, std::move(value));
                });
                if (ok) return p.target.get();
                r.params_.clear();
                status = 400;
                return nullptr;
            }
        }
        status = 404;
        return nullptr;
    }

private:
    enum class kind { literal, param, end, wildcard }; // in precedence order; `end`: past the last segment
    struct segment {
        kind what;
        std::string text; // the literal, or the parameter's name ("*" for the wildcard)
    };
    struct pattern {
        std::string text;
        std::vector<segment> segments;
        std::unique_ptr<route> target = std::make_unique<route>(); // stable while the vector grows
    };

    static bool name_char(char c) noexcept
    {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }

    // Splits `path` (starting with '/') into segments; throws on a malformed one.
    static pattern parse(const std::string& path)
    {
        pattern p;
        p.text = path;
        const auto bad = [&](const char* why) {
            return std::invalid_argument(std::string("sse::server: bad route pattern ") + path + ": " + why);
        };
        for (std::size_t pos = 1;;) {
            const auto slash = path.find('/', pos);
            const std::string_view s = std::string_view(path).substr(pos, slash - pos);
            const bool last = slash == std::string::npos;
            if (s == "*") {
                if (!last) throw bad("'*' must be the last segment");
                p.segments.push_back({kind::wildcard, "*"});
            } else if (s.size() >= 2 && s.front() == '{' && s.back() == '}') {
                const std::string_view name = s.substr(1, s.size() - 2);
                if (name.empty() || !std::all_of(name.begin(), name.end(), name_char))
                    throw bad("a parameter name is 1 or more of [A-Za-z0-9_]");
                for (const auto& q : p.segments)
                    if (q.what == kind::param && q.text == name) throw bad("duplicate parameter name");
                p.segments.push_back({kind::param, std::string(name)});
            } else if (s.find_first_of("{}*") != std::string_view::npos) {
                throw bad("'{', '}' and '*' only as a whole segment '{name}' or a last '*'");
            } else {
                p.segments.push_back({kind::literal, std::string(s)});
            }
            if (last) break;
            pos = slash + 1;
        }
        return p;
    }

    // The precedence order; equivalent patterns (neither precedes) have the same shape.
    static bool precedes(const pattern& a, const pattern& b) noexcept
    {
        for (std::size_t i = 0;; ++i) {
            const kind ka = i < a.segments.size() ? a.segments[i].what : kind::end;
            const kind kb = i < b.segments.size() ? b.segments[i].what : kind::end;
            if (ka != kb) return ka < kb;
            if (ka == kind::end || ka == kind::wildcard) return false;
            if (ka == kind::literal && a.segments[i].text != b.segments[i].text)
                return a.segments[i].text < b.segments[i].text;
        }
    }

    // Whether `p` matches the raw `path` (starting with '/'); calls `capture(name, raw)` for each
    // parameter and the wildcard, in order, as it goes.
    template <class Capture>
    static bool walk(const pattern& p, std::string_view path, Capture&& capture)
    {
        std::size_t pos = 1;
        bool more = true; // a segment (maybe empty) starts at `pos`
        for (const auto& seg : p.segments) {
            if (seg.what == kind::wildcard) {
                capture(seg.text, more ? path.substr(pos) : std::string_view());
                return true;
            }
            if (!more) return false;
            const auto slash = path.find('/', pos);
            const std::string_view s = path.substr(pos, slash - pos);
            more = slash != std::string_view::npos;
            pos = more ? slash + 1 : path.size();
            if (seg.what == kind::literal ? s != seg.text : s.empty()) return false;
            if (seg.what == kind::param) capture(seg.text, s);
        }
        return !more;
    }

    // Decodes the `%XX` escapes of `raw` once into `out`; false if one is malformed or the value
    // is not UTF-8 or contains NUL.
    static bool decode(std::string_view raw, std::string& out)
    {
        out.reserve(raw.size());
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] != '%') {
                out.push_back(raw[i]);
                continue;
            }
            if (raw.size() - i < 3 || hex_value(raw[i + 1]) < 0 || hex_value(raw[i + 2]) < 0) return false;
            out.push_back(static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2])));
            i += 2;
        }
        return out.find('\0') == std::string::npos && utf8_valid(out);
    }

    std::map<std::string, route, std::less<>> exact_;
    std::vector<pattern> patterns_; // sorted by `precedes`
};

} // namespace sse::detail

#endif
