// Asio compiled once for every test binary (ASIO_SEPARATE_COMPILATION, on Boost.Asio
// BOOST_ASIO_SEPARATE_COMPILATION: <asio/impl/src.hpp> is then its forwarding header), to keep
// builds short.
#include <sse/detail/asio.hpp> // the same Asio configuration as every other TU

#include <asio/impl/src.hpp>
