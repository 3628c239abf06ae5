// Asio compiled once for every test binary (ASIO_SEPARATE_COMPILATION), to keep builds short.
#include <asio/impl/src.hpp>
