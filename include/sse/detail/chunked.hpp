// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_CHUNKED_HPP
#define ASIO_SSE_DETAIL_CHUNKED_HPP

#include <sse/request.hpp> // detail::is_tchar, detail::hex_value

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sse::detail {

/** @brief Sans-I/O decoder of a `Transfer-Encoding: chunked` request body (RFC 9112 section 7.1).

    Fed the bytes that follow a head whose `request_parser::chunked()` is true, it appends the
    chunk data to `body()` and stops at the end of the body, so what follows (a pipelined
    request) stays with the caller. It is strict, and every error is a status, never an
    exception:
    - 400 malformed: a chunk-size that is not 1 to 16 hex digits; a chunk extension that is not
      `*( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )` (extensions are
      validated, then ignored); a chunk-size line longer than 256 bytes before its CRLF (which
      bounds what a partial line may hold back); any line that does not end in CRLF exactly
      (a bare LF or CR); chunk data not followed by CRLF; and any trailer field: the trailer
      section must be empty, because we have no use for trailer fields and a refused one
      cannot smuggle a header past the application;
    - 413 the body would exceed `max_body_bytes`: refused as soon as the chunk-size line that
      announces it is read, before any of that chunk's data is buffered.

    It never rescans consumed bytes: each call looks at a partial chunk-size line again (at
    most 258 bytes), and at everything else once. No allocation beyond `body()`.
*/
class chunked_decoder {
public:
    enum class state { need_more, complete, failed };

    explicit chunked_decoder(std::size_t max_body_bytes) noexcept : max_body_(max_body_bytes) {}

    /// Decodes what it can of `in` (the bytes received after those it consumed before),
    /// appending chunk data to `body()`. `used` is set to how many bytes of `in` it consumed:
    /// the caller drops them and calls again with them gone and more appended. A partial
    /// chunk-size line or CRLF is not consumed (it stays for the next call).
    /// On `complete`, the bytes after the body (a pipelined request) are not consumed.
    /// On `failed`, answer `status()` and close: the connection cannot find the next request.
    state feed(std::string_view in, std::size_t& used)
    {
        used = 0;
        if (phase_ == phase::done) return state::complete;
        if (phase_ == phase::failed) return state::failed;
        for (;;) {
            const std::string_view rest = in.substr(used);
            switch (phase_) {
            case phase::size_line: {
                const auto lf = rest.substr(0, max_line + 2).find('\n');
                if (lf == std::string_view::npos)
                    return rest.size() >= max_line + 2 ? fail(400) : state::need_more;
                if (lf == 0 || rest[lf - 1] != '\r') return fail(400); // a bare LF
                std::uint64_t size = 0;
                if (!parse_size_line(rest.substr(0, lf - 1), size)) return fail(400);
                if (size > max_body_ - body_.size()) return fail(413);
                used += lf + 1;
                remaining_ = size;
                phase_ = size == 0 ? phase::trailer : phase::data;
                break;
            }
            case phase::data: {
                const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
                body_.append(rest.data(), n);
                used += n;
                remaining_ -= n;
                if (remaining_ != 0) return state::need_more;
                phase_ = phase::data_crlf;
                break;
            }
            case phase::data_crlf:
            case phase::trailer:
                // the CRLF after chunk data, or the empty line that ends the (empty) trailer section
                if (rest.empty()) return state::need_more;
                if (rest[0] != '\r') return fail(400); // data overran its size, or a trailer field
                if (rest.size() == 1) return state::need_more;
                if (rest[1] != '\n') return fail(400);
                used += 2;
                if (phase_ == phase::trailer) {
                    phase_ = phase::done;
                    return state::complete;
                }
                phase_ = phase::size_line;
                break;
            case phase::done:
            case phase::failed: return state::failed; // not reached: handled before the loop
            }
        }
    }

    /// The status of a failure: 400 (malformed), 413 (body beyond max_body_bytes).
    int status() const noexcept { return status_; }

    /// The body decoded so far.
    std::string& body() noexcept { return body_; }

private:
    enum class phase { size_line, data, data_crlf, trailer, done, failed };
    static constexpr std::size_t max_line = 256; // chunk-size and extensions, before the CRLF

    // A complete chunk-size line without its CRLF: chunk-size [ chunk-ext ].
    static bool parse_size_line(std::string_view s, std::uint64_t& size) noexcept
    {
        std::size_t i = 0;
        for (; i < s.size() && hex_value(s[i]) >= 0; ++i) {
            if (i == 16) return false; // 16 hex digits fill 64 bits: no overflow
            size = size * 16 + static_cast<std::uint64_t>(hex_value(s[i]));
        }
        if (i == 0) return false;
        // BWS is consumed only when what it may precede follows (";" or "="), never at the end
        const auto ows_then = [&](char c) {
            std::size_t j = i;
            while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
            if (j == s.size() || s[j] != c) return false;
            i = j + 1;
            return true;
        };
        const auto skip_ows = [&] {
            while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
        };
        const auto token = [&] {
            const std::size_t start = i;
            while (i < s.size() && is_tchar(s[i])) ++i;
            return i != start;
        };
        while (i < s.size()) {
            if (!ows_then(';')) return false;
            skip_ows();
            if (!token()) return false; // ext-name
            if (!ows_then('=')) continue;
            skip_ows();
            if (i == s.size() || s[i] != '"') {
                if (!token()) return false;
                continue;
            }
            // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
            for (++i;; ++i) {
                if (i == s.size()) return false;
                const auto c = static_cast<unsigned char>(s[i]);
                if (c == '"') break;
                if (c == '\\') {
                    if (++i == s.size()) return false;
                    const auto e = static_cast<unsigned char>(s[i]);
                    if (e != '\t' && (e < 0x20 || e == 0x7F)) return false;
                } else if (c != '\t' && (c < 0x20 || c == 0x7F)) {
                    return false;
                }
            }
            ++i;
        }
        return true;
    }

    state fail(int status) noexcept
    {
        phase_ = phase::failed;
        status_ = status;
        return state::failed;
    }

    std::size_t max_body_;
    std::uint64_t remaining_ = 0;
    std::string body_;
    phase phase_ = phase::size_line;
    int status_ = 0;
};

} // namespace sse::detail

#endif
