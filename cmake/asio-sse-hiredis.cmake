# Finds hiredis for asio-sse::redis, quietly: its CMake package (vcpkg, Conan, hiredis >= 1.0)
# with the target hiredis::hiredis, else the Findhiredis module beside this file. Used by the
# build and, installed, by asio-sse-config.cmake for COMPONENTS redis.
if(NOT TARGET hiredis::hiredis)
  find_package(hiredis CONFIG QUIET)
endif()
if(NOT TARGET hiredis::hiredis)
  list(PREPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")
  find_package(hiredis MODULE QUIET)
  list(REMOVE_AT CMAKE_MODULE_PATH 0)
endif()
