# Finds the nghttp2 C library (Debian's libnghttp2-dev, vcpkg's and Conan's nghttp2) for
# asio-sse::http2. Defines nghttp2::nghttp2 (unless a package defined it already).
if(NOT TARGET nghttp2::nghttp2)
  find_path(nghttp2_INCLUDE_DIR nghttp2/nghttp2.h)
  find_library(nghttp2_LIBRARY NAMES nghttp2)
  include(FindPackageHandleStandardArgs)
  find_package_handle_standard_args(nghttp2 REQUIRED_VARS nghttp2_LIBRARY nghttp2_INCLUDE_DIR)
  if(nghttp2_FOUND)
    add_library(nghttp2::nghttp2 UNKNOWN IMPORTED)
    set_target_properties(nghttp2::nghttp2 PROPERTIES IMPORTED_LOCATION "${nghttp2_LIBRARY}"
                                                      INTERFACE_INCLUDE_DIRECTORIES "${nghttp2_INCLUDE_DIR}")
  endif()
  mark_as_advanced(nghttp2_INCLUDE_DIR nghttp2_LIBRARY)
endif()
