// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_VERSION_HPP
#define ASIO_SSE_VERSION_HPP

/// asio-sse version as MAJOR * 10000 + MINOR * 100 + PATCH.
#define ASIO_SSE_VERSION 100
#define ASIO_SSE_VERSION_STRING "0.1.0"

#endif
