// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_ERROR_HPP
#define ASIO_SSE_ERROR_HPP

#include <string>
#include <system_error>
#include <type_traits>

namespace sse {

/// Errors reported by asio-sse through `std::error_code` (category "sse").
enum class error {
    stream_closed = 1, ///< the stream was closed before the operation could complete
    queue_overflow,    ///< the stream's write queue was full and the overflow policy applied
    shutting_down,     ///< the server is stopping
    handler_threw,     ///< a user callback threw; the stream was closed
    write_timeout,     ///< the peer did not accept data within the write timeout
    // <sse/redis.hpp>
    redis_unreachable, ///< Redis could not be reached, or the connection dropped before it answered
    redis_timeout,     ///< Redis did not answer within the command (or connect) timeout
    redis_auth_failed, ///< Redis refused the credentials (AUTH)
    redis_protocol,    ///< Redis sent a malformed or oversized reply; the connection was closed
    redis_refused,     ///< Redis answered the command with an error
};

namespace detail {
class error_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "sse"; }
    std::string message(int ev) const override
    {
        switch (static_cast<error>(ev)) {
        case error::stream_closed: return "stream closed";
        case error::queue_overflow: return "write queue overflow";
        case error::shutting_down: return "server shutting down";
        case error::handler_threw: return "a user handler threw";
        case error::write_timeout: return "write timed out";
        case error::redis_unreachable: return "Redis unreachable";
        case error::redis_timeout: return "Redis did not answer in time";
        case error::redis_auth_failed: return "Redis refused the credentials";
        case error::redis_protocol: return "malformed or oversized reply from Redis";
        case error::redis_refused: return "Redis answered with an error";
        }
        return "unknown sse error";
    }
};
} // namespace detail

/// The "sse" error category.
inline const std::error_category& error_category() noexcept
{
    static const detail::error_category_impl instance;
    return instance;
}

inline std::error_code make_error_code(error e) noexcept
{
    return {static_cast<int>(e), error_category()};
}

} // namespace sse

template <>
struct std::is_error_code_enum<sse::error> : std::true_type {};

#endif
