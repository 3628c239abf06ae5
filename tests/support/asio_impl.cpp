// Asio compiled once for every test binary (ASIO_SEPARATE_COMPILATION), to keep builds short.
#include <sse/detail/asio.hpp> // the same Asio configuration as every other TU

#include <asio/impl/src.hpp>
