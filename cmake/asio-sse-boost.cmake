# Finds Boost for asio-sse::boost, quietly: its CMake package (Boost >= 1.78, i.e. Boost.Asio
# 1.22, with the target Boost::headers; Boost.System is header-only). Used by the build and,
# installed, by asio-sse-config.cmake for COMPONENTS boost.
if(NOT TARGET Boost::headers)
  find_package(Boost 1.78 CONFIG QUIET)
endif()
