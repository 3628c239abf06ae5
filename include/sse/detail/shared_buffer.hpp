// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_SHARED_BUFFER_HPP
#define ASIO_SSE_DETAIL_SHARED_BUFFER_HPP

#include <memory>
#include <string>

namespace sse::detail {

/// Serialized bytes, immutable, shared by every queue that sends them.
using shared_buffer = std::shared_ptr<const std::string>;

inline shared_buffer make_shared_buffer(std::string bytes)
{
    return std::make_shared<const std::string>(std::move(bytes));
}

} // namespace sse::detail

#endif
