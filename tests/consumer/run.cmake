# Installs asio-sse to a temporary prefix, then configures, builds and runs tests/consumer
# against it. Called by CTest (package.consumer), in two cases:
#   1. with what the outer build was given (its prefix path, toolchain file, asio_ROOT/asio_DIR,
#      compiler, flags and build type), so a build on vcpkg's or Conan's Asio tests that Asio;
#   2. with Asio only as a CMake package (asio::asio, as vcpkg and Conan give it): a stand-in
#      asio-config.cmake over the outer build's Asio headers, found through asio_DIR while those
#      headers are hidden from our Findasio module, in the library's configure and the consumer's.
# Variables (-D): SOURCE_DIR, BINARY_DIR, GENERATOR, CXX, EXPECT_TLS, EXPECT_REDIS, EXPECT_HTTP2, EXPECT_BOOST; forwarded
# from the outer build, lists joined with '|': PREFIX_PATH, TOOLCHAIN_FILE, ASIO_ROOT, ASIO_DIR,
# CXX_FLAGS, BUILD_TYPE, VCPKG_INSTALLED_DIR, VCPKG_TARGET_TRIPLET, and ASIO_INCLUDE_DIRS (the
# include directories of the outer build's asio::asio, for case 2).
file(REMOVE_RECURSE "${BINARY_DIR}")
foreach(var PREFIX_PATH ASIO_ROOT ASIO_INCLUDE_DIRS)
  string(REPLACE "|" ";" ${var} "${${var}}")
endforeach()

# run(COMMAND...): runs it, fails on a non-zero exit.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()

# configure(SRC BIN CACHE_FILE EXPECT_OUTPUT [args...]): configures a nested build with the
# initial cache CACHE_FILE (which holds the lists, so nothing needs escaping here); fails unless
# its output has EXPECT_OUTPUT (when not empty).
function(configure src bin cache expect)
  execute_process(COMMAND "${CMAKE_COMMAND}" -C "${cache}" -S "${src}" -B "${bin}" -G "${GENERATOR}" ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): configure ${src} in ${bin}")
  endif()
  if(expect AND NOT out MATCHES "${expect}")
    message(FATAL_ERROR "configure ${src} in ${bin}: no \"${expect}\" in its output")
  endif()
endfunction()

# run_app(BIN NAME): runs the consumer program NAME built in BIN (multi-config: BIN/<config>/).
function(run_app bin name)
  set(exe "${bin}/${name}")
  if(NOT EXISTS "${exe}" AND BUILD_TYPE)
    set(exe "${bin}/${BUILD_TYPE}/${name}")
  endif()
  run("${exe}")
endfunction()

set(config_args)
if(BUILD_TYPE)
  set(config_args --config "${BUILD_TYPE}")
endif()

# What the outer build was given, as an initial cache for the nested configures.
set(forwarded "set(CMAKE_CXX_COMPILER [==[${CXX}]==] CACHE FILEPATH \"\")\n")
string(APPEND forwarded "set(CMAKE_CXX_FLAGS [==[${CXX_FLAGS}]==] CACHE STRING \"\")\n")
if(BUILD_TYPE)
  string(APPEND forwarded "set(CMAKE_BUILD_TYPE [==[${BUILD_TYPE}]==] CACHE STRING \"\")\n")
endif()
if(TOOLCHAIN_FILE)
  string(APPEND forwarded "set(CMAKE_TOOLCHAIN_FILE [==[${TOOLCHAIN_FILE}]==] CACHE FILEPATH \"\")\n")
endif()
if(VCPKG_INSTALLED_DIR)
  # vcpkg: both nested builds use the outer build's installed tree; nothing is installed again
  string(APPEND forwarded "set(VCPKG_INSTALLED_DIR [==[${VCPKG_INSTALLED_DIR}]==] CACHE PATH \"\")\n"
                          "set(VCPKG_MANIFEST_INSTALL OFF CACHE BOOL \"\")\n")
endif()
if(VCPKG_TARGET_TRIPLET)
  string(APPEND forwarded "set(VCPKG_TARGET_TRIPLET [==[${VCPKG_TARGET_TRIPLET}]==] CACHE STRING \"\")\n")
endif()

# Case 1: the library's install and the consumer, on the outer build's Asio.
set(prefix "${BINARY_DIR}/prefix")
set(lib_cache "${forwarded}")
if(ASIO_ROOT)
  string(APPEND lib_cache "set(asio_ROOT [==[${ASIO_ROOT}]==] CACHE PATH \"\")\n")
endif()
if(ASIO_DIR)
  string(APPEND lib_cache "set(asio_DIR [==[${ASIO_DIR}]==] CACHE PATH \"\")\n")
endif()
set(app_cache "${lib_cache}set(CMAKE_PREFIX_PATH [==[${prefix};${PREFIX_PATH}]==] CACHE STRING \"\")\n")
if(PREFIX_PATH)
  string(APPEND lib_cache "set(CMAKE_PREFIX_PATH [==[${PREFIX_PATH}]==] CACHE STRING \"\")\n")
endif()
file(WRITE "${BINARY_DIR}/lib.cmake" "${lib_cache}")
file(WRITE "${BINARY_DIR}/app.cmake" "${app_cache}")

configure("${SOURCE_DIR}" "${BINARY_DIR}/lib" "${BINARY_DIR}/lib.cmake" ""
          -DASIO_SSE_BUILD_TESTS=OFF -DASIO_SSE_BUILD_EXAMPLES=OFF -DASIO_SSE_INSTALL=ON
          "-DCMAKE_INSTALL_PREFIX=${prefix}")
run("${CMAKE_COMMAND}" --install "${BINARY_DIR}/lib" ${config_args})
configure("${SOURCE_DIR}/tests/consumer" "${BINARY_DIR}/app" "${BINARY_DIR}/app.cmake" "")
run("${CMAKE_COMMAND}" --build "${BINARY_DIR}/app" ${config_args})
run_app("${BINARY_DIR}/app" consumer)
if(EXPECT_TLS)
  run_app("${BINARY_DIR}/app" consumer-tls)
endif()
if(EXPECT_REDIS)
  run_app("${BINARY_DIR}/app" consumer-redis)
endif()
if(EXPECT_HTTP2)
  run_app("${BINARY_DIR}/app" consumer-http2)
endif()
if(EXPECT_BOOST)
  run_app("${BINARY_DIR}/app" consumer-boost)
endif()

# Case 2: Asio only as a CMake package with asio::asio, over the outer build's Asio headers.
set(asio_headers)
foreach(dir IN LISTS ASIO_INCLUDE_DIRS)
  if(EXISTS "${dir}/asio.hpp")
    set(asio_headers "${dir}")
    break()
  endif()
endforeach()
if(NOT asio_headers)
  message(STATUS "package.consumer: the outer build has no asio::asio with asio.hpp (e.g. built on "
                 "Boost.Asio); the case with Asio only as a CMake package is skipped")
  return()
endif()
set(fake "${BINARY_DIR}/asio-package")
set(marker "package.consumer: asio::asio from the CMake package in")
file(WRITE "${fake}/asio-config.cmake"
     "# A stand-in for vcpkg's and Conan's Asio package (written by tests/consumer/run.cmake).\n"
     "include(CMakeFindDependencyMacro)\n"
     "find_dependency(Threads)\n"
     "if(NOT TARGET asio::asio)\n"
     "  add_library(asio::asio INTERFACE IMPORTED)\n"
     "  set_target_properties(asio::asio PROPERTIES INTERFACE_INCLUDE_DIRECTORIES [==[${asio_headers}]==]\n"
     "                        INTERFACE_COMPILE_DEFINITIONS ASIO_STANDALONE INTERFACE_LINK_LIBRARIES Threads::Threads)\n"
     "endif()\n"
     "message(STATUS \"${marker} \${CMAKE_CURRENT_LIST_DIR}\")\n")
# asio_DIR names the package; CMAKE_IGNORE_PATH hides the headers from find_path(), so our
# Findasio module cannot find them and a configure that did not take the package fails.
# OpenSSL, hiredis, nghttp2 and Boost stay out of this case (only the plain consumer is built).
set(pkg_cache "${forwarded}")
string(APPEND pkg_cache "set(asio_DIR [==[${fake}]==] CACHE PATH \"\")\n"
                        "set(CMAKE_IGNORE_PATH [==[${asio_headers}]==] CACHE STRING \"\")\n")
foreach(pkg OpenSSL hiredis nghttp2 Boost)
  string(APPEND pkg_cache "set(CMAKE_DISABLE_FIND_PACKAGE_${pkg} ON CACHE BOOL \"\")\n")
endforeach()
set(pkg_prefix "${BINARY_DIR}/pkg-prefix")
file(WRITE "${BINARY_DIR}/pkg-lib.cmake" "${pkg_cache}")
file(WRITE "${BINARY_DIR}/pkg-app.cmake"
     "${pkg_cache}set(CMAKE_PREFIX_PATH [==[${pkg_prefix};${PREFIX_PATH}]==] CACHE STRING \"\")\n")
if(PREFIX_PATH)
  file(APPEND "${BINARY_DIR}/pkg-lib.cmake" "set(CMAKE_PREFIX_PATH [==[${PREFIX_PATH}]==] CACHE STRING \"\")\n")
endif()
configure("${SOURCE_DIR}" "${BINARY_DIR}/pkg-lib" "${BINARY_DIR}/pkg-lib.cmake" "${marker}"
          -DASIO_SSE_BUILD_TESTS=OFF -DASIO_SSE_BUILD_EXAMPLES=OFF -DASIO_SSE_INSTALL=ON
          "-DCMAKE_INSTALL_PREFIX=${pkg_prefix}")
run("${CMAKE_COMMAND}" --install "${BINARY_DIR}/pkg-lib" ${config_args})
configure("${SOURCE_DIR}/tests/consumer" "${BINARY_DIR}/pkg-app" "${BINARY_DIR}/pkg-app.cmake" "${marker}")
run("${CMAKE_COMMAND}" --build "${BINARY_DIR}/pkg-app" --target consumer ${config_args})
run_app("${BINARY_DIR}/pkg-app" consumer)
