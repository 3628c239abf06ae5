// An always-on assertion for the fuzz targets: a broken invariant aborts, so libFuzzer
// records the input as a crash (assert() would vanish under NDEBUG).
#ifndef ASIO_SSE_TESTS_FUZZ_CHECK_HPP
#define ASIO_SSE_TESTS_FUZZ_CHECK_HPP

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                     \
        }                                                                                     \
    } while (false)

#endif
