set(VCPKG_BUILD_TYPE release) # header-only

if(DEFINED ENV{VCPKG_ASIO_SSE_SOURCE})
    # Development only, not for the registry: build the asio-sse checkout at this path instead
    # of the release archive, e.g. from the top of a checkout:
    #   VCPKG_ASIO_SSE_SOURCE=$PWD vcpkg install asio-sse --overlay-ports=ports
    # (on Windows also set VCPKG_KEEP_ENV_VARS=VCPKG_ASIO_SSE_SOURCE).
    set(SOURCE_PATH "$ENV{VCPKG_ASIO_SSE_SOURCE}")
else()
    # On a release: REF is the tag (v${VERSION}); SHA512 is that archive's hash, which vcpkg
    # prints when it is 0 (vcpkg install asio-sse --overlay-ports=ports, then copy it here).
    vcpkg_from_github(
        OUT_SOURCE_PATH SOURCE_PATH
        REPO asio-sse/asio-sse
        REF "v${VERSION}"
        SHA512 0
        HEAD_REF main
    )
endif()

# Each feature makes its dependency REQUIRED; without it, the dependency is not looked for, so
# the port never picks up a library vcpkg did not install (Boost: no feature yet).
vcpkg_check_features(OUT_FEATURE_OPTIONS FEATURE_OPTIONS
    FEATURES
        http2   CMAKE_REQUIRE_FIND_PACKAGE_nghttp2
        redis   CMAKE_REQUIRE_FIND_PACKAGE_hiredis
        tls     CMAKE_REQUIRE_FIND_PACKAGE_OpenSSL
    INVERTED_FEATURES
        http2   CMAKE_DISABLE_FIND_PACKAGE_nghttp2
        redis   CMAKE_DISABLE_FIND_PACKAGE_hiredis
        tls     CMAKE_DISABLE_FIND_PACKAGE_OpenSSL
)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        ${FEATURE_OPTIONS}
        -DASIO_SSE_BUILD_TESTS=OFF
        -DASIO_SSE_BUILD_EXAMPLES=OFF
        -DASIO_SSE_INSTALL=ON
        -DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME asio-sse CONFIG_PATH share/asio-sse/cmake)

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug")

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
