// Builds against the installed package and serves one event to itself.
#include <sse/sse.hpp>

#include <iostream>

int main()
{
    asio::io_context io;
    sse::server srv(io);
    srv.on_stream("/events", [](sse::stream_ptr s) { s->send(sse::event("installed")); });
    srv.listen("127.0.0.1", 0);
    srv.start();
    std::cout << "asio-sse " << ASIO_SSE_VERSION_STRING << " listening on port " << srv.local_endpoint().port() << "\n";
    srv.stop();
    io.run();
    return 0;
}
