# Installs asio-sse to a temporary prefix, then configures, builds and runs tests/consumer
# against it. Called by CTest (package.consumer).
set(prefix "${BINARY_DIR}/prefix")
file(REMOVE_RECURSE "${BINARY_DIR}")
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()
run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}/lib" -G "${GENERATOR}" -DASIO_SSE_BUILD_TESTS=OFF
    -DASIO_SSE_BUILD_EXAMPLES=OFF -DASIO_SSE_INSTALL=ON "-DCMAKE_INSTALL_PREFIX=${prefix}")
run("${CMAKE_COMMAND}" --install "${BINARY_DIR}/lib")
run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/consumer" -B "${BINARY_DIR}/app" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_CXX_COMPILER=${CXX}")
run("${CMAKE_COMMAND}" --build "${BINARY_DIR}/app")
run("${BINARY_DIR}/app/consumer")
if(EXPECT_TLS)
  run("${BINARY_DIR}/app/consumer-tls")
endif()
if(EXPECT_REDIS)
  run("${BINARY_DIR}/app/consumer-redis")
endif()
