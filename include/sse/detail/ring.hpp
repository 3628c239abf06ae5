// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_RING_HPP
#define ASIO_SSE_DETAIL_RING_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>

namespace sse::detail {

/** @brief A FIFO on one circular array, 24 bytes when empty: O(1) at both ends, no allocation
    while empty (an empty `std::deque` already holds about 600 bytes), growth by doubling up
    to the `limit` a push gives, then by one slot. Its storage is freed when it empties with
    more than `keep` slots (given at construction), so a burst does not stay in memory. */
template <class T>
class ring {
public:
    explicit ring(std::uint32_t keep = 64) noexcept : keep_(keep) {}
    ring(const ring&) = delete;
    ring& operator=(const ring&) = delete;
    ~ring()
    {
        clear();
        release();
    }

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return cap_; }

    T& front() noexcept { return slots_[head_]; }
    const T& front() const noexcept { return slots_[head_]; }

    /// Appends `v`; the storage grows to at most `limit` slots while it can (then one by one).
    void push_back(T v, std::size_t limit = SIZE_MAX)
    {
        if (size_ == cap_) grow(limit);
        new (&slots_[wrap(head_ + size_)]) T(std::move(v));
        ++size_;
    }

    void push_front(T v)
    {
        if (size_ == cap_) grow(SIZE_MAX);
        head_ = head_ == 0 ? cap_ - 1 : head_ - 1;
        new (&slots_[head_]) T(std::move(v));
        ++size_;
    }

    /// Removes the front item and returns it.
    T pop_front()
    {
        T v = std::move(slots_[head_]);
        slots_[head_].~T();
        head_ = wrap(head_ + 1);
        if (--size_ == 0) emptied();
        return v;
    }

    void clear() noexcept
    {
        for (; size_ != 0; --size_) {
            slots_[head_].~T();
            head_ = wrap(head_ + 1);
        }
        emptied();
    }

private:
    std::uint32_t wrap(std::uint32_t i) const noexcept { return i >= cap_ ? i - cap_ : i; }

    void grow(std::size_t limit)
    {
        if (cap_ == UINT32_MAX) throw std::length_error("sse::detail::ring: too many items");
        std::size_t cap = cap_ == 0 ? 4 : std::size_t(cap_) * 2;
        if (cap > limit) cap = limit > cap_ ? limit : std::size_t(cap_) + 1;
        if (cap > UINT32_MAX) cap = UINT32_MAX;
        T* fresh = std::allocator<T>().allocate(cap);
        for (std::uint32_t i = 0; i < size_; ++i) {
            T& old = slots_[wrap(head_ + i)];
            new (&fresh[i]) T(std::move(old));
            old.~T();
        }
        release();
        slots_ = fresh;
        cap_ = static_cast<std::uint32_t>(cap);
        head_ = 0;
    }

    void release() noexcept
    {
        if (slots_) std::allocator<T>().deallocate(slots_, cap_);
        slots_ = nullptr;
        cap_ = 0;
    }

    void emptied() noexcept
    {
        head_ = 0;
        if (cap_ > keep_) release();
    }

    T* slots_ = nullptr; // raw storage: a slot holds a constructed T only while it holds an item
    std::uint32_t head_ = 0, size_ = 0, cap_ = 0;
    std::uint32_t keep_; // in the padding: the ring stays 24 bytes
};

} // namespace sse::detail

#endif
