# install(): headers, the exported target, a package config that finds Asio again, and a
# version file (header-only, so ARCH_INDEPENDENT).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ASIO_SSE_CONFIG_DIR "${CMAKE_INSTALL_DATADIR}/asio-sse/cmake")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/sse" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(TARGETS asio-sse EXPORT asio-sse-targets)
install(EXPORT asio-sse-targets NAMESPACE asio-sse:: DESTINATION "${ASIO_SSE_CONFIG_DIR}")
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

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/asio-sse-config.cmake.in"
                              "${PROJECT_BINARY_DIR}/asio-sse-config.cmake"
                              INSTALL_DESTINATION "${ASIO_SSE_CONFIG_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/asio-sse-config-version.cmake"
                                 COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/asio-sse-config.cmake" "${PROJECT_BINARY_DIR}/asio-sse-config-version.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/Findasio.cmake" "${PROJECT_SOURCE_DIR}/cmake/Findhiredis.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/asio-sse-hiredis.cmake"
        DESTINATION "${ASIO_SSE_CONFIG_DIR}")
