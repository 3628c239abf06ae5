// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_ASIO_HPP
#define ASIO_SSE_DETAIL_ASIO_HPP

// The one place the library includes Asio: the fine-grained headers it uses. Standalone Asio by
// default; Boost.Asio when ASIO_SSE_USE_BOOST_ASIO is defined (then `::asio` names `boost::asio`).

// A standard header first: Asio's config detects features (e.g. std::aligned_alloc) from the
// standard library's macros, and must see the same answer in every translation unit.
#include <cstddef>
#include <system_error>

#if defined(ASIO_SSE_USE_BOOST_ASIO)

#include <boost/asio/version.hpp>

#if BOOST_ASIO_VERSION < 102200
#error "asio-sse on Boost.Asio (ASIO_SSE_USE_BOOST_ASIO) needs Boost 1.78 or newer (Boost.Asio 1.22)"
#endif

/// The Asio version, standalone or Boost's (both count the same way: 102200 is 1.22).
#define ASIO_SSE_ASIO_VERSION BOOST_ASIO_VERSION

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

/// The library (and its users' code) refers to `::asio::`: on Boost, that is Boost.Asio.
namespace asio = boost::asio;

#else

#include <asio/version.hpp>

#if ASIO_VERSION < 102200
#error "asio-sse needs Asio 1.22 or newer"
#endif

/// The Asio version, standalone or Boost's (both count the same way: 102200 is 1.22).
#define ASIO_SSE_ASIO_VERSION ASIO_VERSION

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/bind_allocator.hpp>
#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/connect.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/execution/context.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/execution_context.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/query.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/write.hpp>

#endif

namespace sse::detail {

/** @brief The error code of Asio's own calls and of our completion signatures:
    `std::error_code` on standalone Asio, `boost::system::error_code` on Boost.Asio (whose
    `use_future` and `use_awaitable` throw only for it; it converts to and from
    `std::error_code`, so handlers may take either). Compare an Asio error enum against a
    `std::error_code` through `make_error_code(asio::error::eof)`, which works on both. */
#if defined(ASIO_SSE_USE_BOOST_ASIO)
using asio_error_code = boost::system::error_code;
#else
using asio_error_code = std::error_code;
#endif

} // namespace sse::detail

#endif
