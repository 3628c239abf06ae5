// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_ROUTER_HPP
#define ASIO_SSE_DETAIL_ROUTER_HPP

#include <sse/options.hpp>
#include <sse/request.hpp>
#include <sse/response.hpp>
#include <sse/stream.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace sse::detail {

/// One path: a stream handler, a plain handler, or both (then `Accept: text/event-stream` picks).
struct route {
    std::function<void(stream_ptr)> on_stream;
    std::function<response(const request&)> on_request;
    route_options options;
    std::shared_ptr<std::atomic<std::size_t>> streams = std::make_shared<std::atomic<std::size_t>>(0);
};

/// Exact-path routes; filled before the server starts, read-only after.
class router {
public:
    route& at(std::string path) { return routes_[std::move(path)]; }

    const route* find(std::string_view path) const
    {
        auto it = routes_.find(path);
        return it == routes_.end() ? nullptr : &it->second;
    }

private:
    std::map<std::string, route, std::less<>> routes_;
};

} // namespace sse::detail

#endif
