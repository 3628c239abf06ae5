// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_REDIS_HPP
#define ASIO_SSE_REDIS_HPP

// Channels across server processes, over Redis (the optional component asio-sse::redis, which
// needs hiredis): `sse::redis_client` and `sse::redis_channel`. Only this part includes hiredis.

#include <sse/redis/channel.hpp>
#include <sse/redis/client.hpp>
#include <sse/redis/options.hpp>

#endif
