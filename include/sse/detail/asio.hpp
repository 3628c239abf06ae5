// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_ASIO_HPP
#define ASIO_SSE_DETAIL_ASIO_HPP

// The one place the library includes Asio: the fine-grained headers it uses.

// A standard header first: Asio's config detects features (e.g. std::aligned_alloc) from the
// standard library's macros, and must see the same answer in every translation unit.
#include <cstddef>

#include <asio/version.hpp>

#if ASIO_VERSION < 102200
#error "asio-sse needs Asio 1.22 or newer"
#endif

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/bind_allocator.hpp>
#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/connect.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/write.hpp>

#endif
