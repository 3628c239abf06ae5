# Finds what asio-sse needs: Asio (standalone) and Threads. Used by the build and, installed,
# by asio-sse-config.cmake, so both find Asio the same way.
include(GNUInstallDirs)
include(CMakeFindDependencyMacro)

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

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
