// One include for Catch2 v2 (Debian) and v3 (vcpkg, Conan); tests use only API common to both.
#ifndef ASIO_SSE_TESTS_CATCH_HPP
#define ASIO_SSE_TESTS_CATCH_HPP
#ifdef ASIO_SSE_CATCH2_V3
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#else
#include <catch2/catch.hpp>
#endif
#endif
