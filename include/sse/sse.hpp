// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_SSE_HPP
#define ASIO_SSE_SSE_HPP

/// The umbrella header: everything public except `sse/tls.hpp` (which needs OpenSSL).

#include <sse/authorization.hpp>
#include <sse/channel.hpp>
#include <sse/error.hpp>
#include <sse/event.hpp>
#include <sse/lifecycle.hpp>
#include <sse/options.hpp>
#include <sse/request.hpp>
#include <sse/response.hpp>
#include <sse/server.hpp>
#include <sse/stats.hpp>
#include <sse/stream.hpp>
#include <sse/version.hpp>

#endif
