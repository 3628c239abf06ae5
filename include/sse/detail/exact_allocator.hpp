// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_EXACT_ALLOCATOR_HPP
#define ASIO_SSE_DETAIL_EXACT_ALLOCATOR_HPP

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace sse::detail {

/** @brief `std::allocator` under another name, for handlers of long-lived operations.

    Asio recycles operation memory through a per-thread cache when a handler's allocator is
    `std::allocator`, and a recycled block may be much larger than the operation that reuses it
    (e.g. the head read's block reused by a stream's watch read, which stays pending for the
    stream's life). Bound to such a handler (`asio::bind_allocator`), this allocator gets each
    operation a block of its own size (see also `with_exact_allocation`). */
template <class T>
struct exact_allocator {
    using value_type = T;

    exact_allocator() noexcept = default;
    template <class U>
    exact_allocator(const exact_allocator<U>&) noexcept
    {
    }

    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }

    template <class U>
    friend bool operator==(const exact_allocator&, const exact_allocator<U>&) noexcept
    {
        return true;
    }
    template <class U>
    friend bool operator!=(const exact_allocator&, const exact_allocator<U>&) noexcept
    {
        return false;
    }
};

/** @brief `f` with `exact_allocator` as its associated allocator and no associated executor.
    Unlike `asio::bind_allocator`, which forwards the associated executor, it leaves the
    operation one executor to keep (its I/O object's) instead of two. */
template <class F>
struct exact_allocation {
    F f;

    using allocator_type = exact_allocator<void>;
    allocator_type get_allocator() const noexcept { return {}; }

    template <class... Args>
    void operator()(Args&&... args)
    {
        f(std::forward<Args>(args)...);
    }
};

template <class F>
exact_allocation<std::decay_t<F>> with_exact_allocation(F&& f)
{
    return {std::forward<F>(f)};
}

} // namespace sse::detail

#endif
