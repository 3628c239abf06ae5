// Builds against the installed package's asio-sse::tls target and starts an HTTPS server.
#include <sse/sse.hpp>
#include <sse/tls.hpp>

#include <iostream>

int main()
{
    asio::io_context io;
    sse::tls_server srv(io, std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server));
    srv.on_stream("/events", [](sse::stream_ptr s) { s->send(sse::event("installed")); });
    srv.listen("127.0.0.1", 0);
    srv.start();
    std::cout << "asio-sse tls listening on port " << srv.local_endpoint().port() << "\n";
    srv.stop();
    io.run();
    return 0;
}
