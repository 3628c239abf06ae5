// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_MEMBERSHIP_HPP
#define ASIO_SSE_DETAIL_MEMBERSHIP_HPP

#include <cstddef>
#include <memory>

namespace sse::detail {

class subscriber_list;

/** @brief A stream's place in one channel: the stream keeps one per channel it is in (32 bytes
    and a node), the channel keeps a pointer to it beside the stream, so that joining and
    leaving are O(1) whatever the channel's size. */
struct membership {
    static constexpr std::size_t none = static_cast<std::size_t>(-1);

    std::weak_ptr<subscriber_list> channel;
    /// The stream's position among the channel's subscribers (`none`: not there any more);
    /// read and written under the channel's lock only.
    std::size_t index = none;
};

/// What a channel offers the streams in it: leaving it.
class subscriber_list {
public:
    /// Removes the stream whose membership `m` is (if it is still there); takes the channel's lock.
    virtual void remove(membership& m) = 0;

protected:
    ~subscriber_list() = default;
};

} // namespace sse::detail

#endif
