// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_UTF8_HPP
#define ASIO_SSE_DETAIL_UTF8_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sse::detail {

/// Length of the longest prefix of `s` that is well-formed UTF-8 (RFC 3629:
/// no overlongs, no surrogates, nothing above U+10FFFF).
inline std::size_t utf8_valid_prefix(std::string_view s) noexcept
{
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        for (std::uint64_t w; n - i >= 8; i += 8) { // eight ASCII bytes at a time: most text is ASCII
            std::memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080u) break;
        }
        if (i == n) break;
        const unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF; // bounds of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return i;
        }
        if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) return i;
        for (std::size_t k = 2; k < len; ++k)
            if ((p[i + k] & 0xC0) != 0x80) return i;
        i += len;
    }
    return n;
}

inline bool utf8_valid(std::string_view s) noexcept { return utf8_valid_prefix(s) == s.size(); }

/// Appends `s` to `out`, replacing each byte that does not start a well-formed
/// sequence with U+FFFD.
inline void append_utf8_sanitized(std::string& out, std::string_view s)
{
    while (!s.empty()) {
        const std::size_t ok = utf8_valid_prefix(s);
        out.append(s.data(), ok);
        if (ok == s.size()) return;
        out.append("\xEF\xBF\xBD");
        s.remove_prefix(ok + 1);
    }
}

} // namespace sse::detail

#endif
