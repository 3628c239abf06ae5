# install(): headers, the exported target, a package config that finds Asio again, and a
# version file (header-only, so ARCH_INDEPENDENT).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ASIO_SSE_CONFIG_DIR "${CMAKE_INSTALL_DATADIR}/asio-sse/cmake")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/sse" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
if(ASIO_SSE_USE_BOOST_ASIO)
  # built on Boost.Asio: asio-sse::asio-sse needs asio-sse::boost, so they are exported together
  install(TARGETS asio-sse asio-sse-boost EXPORT asio-sse-targets)
else()
  install(TARGETS asio-sse EXPORT asio-sse-targets)
endif()
install(EXPORT asio-sse-targets NAMESPACE asio-sse:: DESTINATION "${ASIO_SSE_CONFIG_DIR}")
if(TARGET asio-sse-boost AND NOT ASIO_SSE_USE_BOOST_ASIO)
  # its own export set, loaded only for find_package(asio-sse COMPONENTS boost)
  install(TARGETS asio-sse-boost EXPORT asio-sse-boost-targets)
  install(EXPORT asio-sse-boost-targets NAMESPACE asio-sse:: DESTINATION "${ASIO_SSE_CONFIG_DIR}")
endif()
if(TARGET asio-sse-tls)
  # its own export set, loaded only for find_package(asio-sse COMPONENTS tls)
  install(TARGETS asio-sse-tls EXPORT asio-sse-tls-targets)
  install(EXPORT asio-sse-tls-targets NAMESPACE asio-sse:: DESTINATION "${ASIO_SSE_CONFIG_DIR}")
endif()

if(TARGET asio-sse-redis)
  # likewise, for find_package(asio-sse COMPONENTS redis)
  install(TARGETS asio-sse-redis EXPORT asio-sse-redis-targets)
  install(EXPORT asio-sse-redis-targets NAMESPACE asio-sse:: DESTINATION "${ASIO_SSE_CONFIG_DIR}")
endif()

if(TARGET asio-sse-http2)
  # likewise, for find_package(asio-sse COMPONENTS http2)
  install(TARGETS asio-sse-http2 EXPORT asio-sse-http2-targets)
  install(EXPORT asio-sse-http2-targets NAMESPACE asio-sse:: DESTINATION "${ASIO_SSE_CONFIG_DIR}")
endif()

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/asio-sse-config.cmake.in"
                              "${PROJECT_BINARY_DIR}/asio-sse-config.cmake"
                              INSTALL_DESTINATION "${ASIO_SSE_CONFIG_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/asio-sse-config-version.cmake"
                                 COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/asio-sse-config.cmake" "${PROJECT_BINARY_DIR}/asio-sse-config-version.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/Findasio.cmake" "${PROJECT_SOURCE_DIR}/cmake/Findhiredis.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/asio-sse-hiredis.cmake" "${PROJECT_SOURCE_DIR}/cmake/asio-sse-boost.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/Findnghttp2.cmake"
        DESTINATION "${ASIO_SSE_CONFIG_DIR}")
