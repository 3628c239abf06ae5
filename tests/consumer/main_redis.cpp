// Builds against the installed package's asio-sse::redis target (linking hiredis) and makes a
// Redis-backed channel; with nothing listening on the port, the link reports it and is closed.
#include <sse/redis.hpp>
#include <sse/sse.hpp>

#include <iostream>

int main()
{
    asio::io_context io;
    sse::redis_options o;
    o.port = 1; // nothing listens there
    sse::redis_client bus(io, o);
    sse::redis_channel room(bus, "installed");
    room.async_publish(sse::event("x"), [&](std::error_code ec, const std::string&) {
        std::cout << "asio-sse redis: publish without Redis: " << ec.message() << "\n";
        bus.close();
    });
    bus.close();
    io.run();
    return 0;
}
