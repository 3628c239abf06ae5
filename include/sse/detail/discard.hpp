// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_DISCARD_HPP
#define ASIO_SSE_DETAIL_DISCARD_HPP

#include <sse/detail/asio.hpp>

#include <sys/socket.h>

#include <cerrno>

namespace sse::detail {

/** @brief Reads and discards what a stream's client sent on descriptor `fd`, without blocking
    and a bounded amount per call (16 reads of 512 B: a client that floods holds no thread).
    Returns `asio::error::eof` once the client has closed, `asio::error::would_block` when
    nothing more is there now, nothing when the bound was reached (more may follow), or the
    socket's error; `got` says whether any bytes came. */
inline asio_error_code discard_input(int fd, bool& got)
{
    got = false;
    char discard[512];
    for (int i = 0; i < 16; ++i) {
        const auto r = ::recv(fd, discard, sizeof discard, MSG_DONTWAIT);
        if (r == 0) return asio::error::eof;
        if (r < 0) {
            const int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK) return asio::error::would_block;
            if (e != EINTR) return asio_error_code(e, asio::error::get_system_category());
            continue;
        }
        got = true;
    }
    return {};
}

} // namespace sse::detail

#endif
