# Finds what asio-sse needs: Asio (standalone) and Threads. Used by the build; the installed
# asio-sse-config.cmake repeats the Asio lookup. Boost, for asio-sse::boost, is found by
# asio-sse-boost.cmake.
include(GNUInstallDirs)
include(CMakeFindDependencyMacro)

if(NOT ASIO_SSE_USE_BOOST_ASIO) # built on Boost.Asio, standalone Asio is not needed
  if(NOT TARGET asio::asio)
    # vcpkg and Conan ship a CMake package with the target asio::asio ...
    find_package(asio CONFIG QUIET)
  endif()
  if(NOT TARGET asio::asio)
    # ... otherwise our module finds asio.hpp (e.g. Debian's libasio-dev).
    find_package(asio MODULE)
  endif()
  if(NOT TARGET asio::asio)
    message(FATAL_ERROR "asio-sse: standalone Asio (>= 1.22) not found. Install it "
                        "(apt-get install libasio-dev, vcpkg install asio, conan: asio/...) "
                        "or set asio_ROOT to the folder that holds include/asio.hpp.")
  endif()
endif()

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
