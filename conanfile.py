import os
import re

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout

required_conan_version = ">=2.0"


class AsioSseConan(ConanFile):
    name = "asio-sse"
    description = "Header-only Server-Sent Events (SSE) server on standalone Asio"
    license = "BSL-1.0"
    url = "https://github.com/asio-sse/asio-sse"
    homepage = "https://github.com/asio-sse/asio-sse"
    topics = ("sse", "server-sent-events", "event-stream", "http", "asio", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "tls": [True, False],    # HTTPS: asio-sse::tls (OpenSSL)
        "redis": [True, False],  # channels across processes: asio-sse::redis (hiredis)
        "http2": [True, False],  # HTTP/2: asio-sse::http2 (nghttp2)
    }
    default_options = {
        "tls": False,
        "redis": False,
        "http2": False,
    }
    exports_sources = "include/*", "LICENSE"
    no_copy_source = True

    def set_version(self):
        # the one version, from <sse/version.hpp>
        text = load(self, os.path.join(self.recipe_folder, "include", "sse", "version.hpp"))
        self.version = re.search(r'#define ASIO_SSE_VERSION_STRING "([^"]+)"', text).group(1)

    def layout(self):
        basic_layout(self, src_folder=".")

    def requirements(self):
        self.requires("asio/1.38.2")
        if self.options.tls:
            self.requires("openssl/[>=3 <4]")
        if self.options.redis:
            self.requires("hiredis/1.3.0")
        if self.options.http2:
            self.requires("libnghttp2/[>=1.52 <2]")

    def package_id(self):
        # the same headers whatever the options: they only add targets and dependencies
        self.info.clear()

    def validate(self):
        check_min_cppstd(self, 17)

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        copy(self, "*.hpp", os.path.join(self.source_folder, "include"), os.path.join(self.package_folder, "include"))

    def package_info(self):
        # The names of our own CMake package: find_package(asio-sse CONFIG REQUIRED),
        # asio-sse::asio-sse, and asio-sse::tls / asio-sse::redis / asio-sse::http2 with their options.
        self.cpp_info.set_property("cmake_file_name", "asio-sse")
        self.cpp_info.set_property("cmake_target_name", "asio-sse::asio-sse")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []

        core = self.cpp_info.components["core"]
        core.set_property("cmake_target_name", "asio-sse::asio-sse")
        core.requires = ["asio::asio"]
        core.bindirs = []
        core.libdirs = []
        if self.options.tls:
            tls = self.cpp_info.components["tls"]
            tls.set_property("cmake_target_name", "asio-sse::tls")
            tls.requires = ["core", "openssl::ssl"]
            tls.bindirs = []
            tls.libdirs = []
        if self.options.redis:
            redis = self.cpp_info.components["redis"]
            redis.set_property("cmake_target_name", "asio-sse::redis")
            redis.requires = ["core", "hiredis::hiredis"]
            redis.bindirs = []
            redis.libdirs = []
        if self.options.http2:
            http2 = self.cpp_info.components["http2"]
            http2.set_property("cmake_target_name", "asio-sse::http2")
            http2.requires = ["core", "libnghttp2::nghttp2"]
            http2.bindirs = []
            http2.libdirs = []
        if self.options.tls or self.options.redis or self.options.http2:
            # asio-sse::asio-sse stays the core alone (no OpenSSL, hiredis, nghttp2); the target of the
            # whole package, which CMakeDeps makes of all components, gets another name
            self.cpp_info.set_property("cmake_target_name", "asio-sse::all")
