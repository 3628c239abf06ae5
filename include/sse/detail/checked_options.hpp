// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_CHECKED_OPTIONS_HPP
#define ASIO_SSE_DETAIL_CHECKED_OPTIONS_HPP

#include <sse/options.hpp>

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

namespace sse::detail {

/// The longest duration an option may hold: far beyond any real use, and far enough from the
/// clock's range that `now + d` cannot overflow.
inline constexpr std::chrono::hours longest_option{24 * 365};

/// `d` if it lies in [`min`, `longest_option`]; else std::invalid_argument naming `what`.
template <class Rep, class Period>
std::chrono::duration<Rep, Period> checked_duration(std::chrono::duration<Rep, Period> d, const char* what,
                                                    std::chrono::duration<Rep, Period> min = {})
{
    if (d < min || d > longest_option)
        throw std::invalid_argument(std::string("sse: ") + what + " must be " + (min.count() > 0 ? "positive" : "zero or more") +
                                    " and at most 365 days");
    return d;
}

/** @brief `o` if every value is one the server can honour; else std::invalid_argument saying
    which is not. Sizes and counts may be anything (0 and SIZE_MAX included: sums saturate);
    durations must be within a year, and a timeout that would end every request at once is
    refused. */
inline const server_options& checked(const server_options& o)
{
    using std::chrono::milliseconds;
    if (o.max_head_bytes == 0) throw std::invalid_argument("sse: max_head_bytes must be at least 1");
    checked_duration(o.head_timeout, "head_timeout", milliseconds(1));
    checked_duration(o.handshake_timeout, "handshake_timeout", milliseconds(1));
    checked_duration(o.body_timeout, "body_timeout", milliseconds(1));
    checked_duration(o.write_timeout, "write_timeout", milliseconds(1));
    checked_duration(o.heartbeat, "heartbeat");
    if (o.flush_delay < o.flush_delay.zero() || o.flush_delay > std::chrono::seconds(1))
        throw std::invalid_argument("sse: flush_delay must be zero or more and at most one second");
    checked_duration(o.shutdown_timeout, "shutdown_timeout");
    checked_duration(o.retry_after, "retry_after");
    if (o.retry && (o.retry->count() < 0 || o.retry->count() > 2147483647))
        throw std::invalid_argument("sse: retry must be within 0..2147483647 ms");
    if (!(o.connection_rate_per_client >= 0) || !std::isfinite(o.connection_rate_per_client))
        throw std::invalid_argument("sse: connection_rate_per_client must be a finite number, zero or more");
    return o;
}

} // namespace sse::detail

#endif
