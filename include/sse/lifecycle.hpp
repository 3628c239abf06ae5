// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_LIFECYCLE_HPP
#define ASIO_SSE_LIFECYCLE_HPP

#include <sse/detail/asio.hpp>

#include <functional>
#include <string_view>
#include <system_error>

namespace sse {

/** @brief One step in a connection's life, as told to `server_options::on_lifecycle`
    (e.g. for an access log). */
struct lifecycle_event {
    enum class kind {
        accepted,      ///< a connection was accepted (and admitted by the limits)
        refused,       ///< a connection was refused at accept (`status`: 429 or 503) and closed
        rejected,      ///< a request got an error answer from the server (`status`), then close
        stream_opened, ///< a stream answered 200 and started (`path`)
        stream_closed, ///< a stream ended (`path`; `reason`: empty for a server-side close, a peer
                       ///< error such as `asio::error::eof`, or an `sse::error`)
    };
    kind what;
    asio::ip::address remote;
    std::string_view path; ///< the request's path, when there is a request
    int status = 0;
    std::error_code reason;
};

/// A lifecycle hook. It runs on the server's threads, possibly on several at once: keep it
/// short and thread-safe. An exception it throws is swallowed (and counted as a handler error).
using lifecycle_hook = std::function<void(const lifecycle_event&)>;

} // namespace sse

#endif
