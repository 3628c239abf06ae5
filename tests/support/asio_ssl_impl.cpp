// Asio's SSL support compiled once for the TLS test binary (ASIO_SEPARATE_COMPILATION).
#include <sse/detail/asio.hpp> // the same Asio configuration as every other TU

#include <asio/ssl/impl/src.hpp>
