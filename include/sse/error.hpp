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
