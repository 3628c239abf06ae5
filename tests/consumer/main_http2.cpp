// Builds against the installed package's asio-sse::http2 target (linking nghttp2) and serves one
// HTTP/2 exchange (cleartext, prior knowledge) to itself: the preface and a SETTINGS frame get
// the server's SETTINGS back.
#include <sse/http2.hpp>
#include <sse/sse.hpp>

#include <asio/read.hpp>

#include <iostream>
#include <string>

int main()
{
    asio::io_context io;
    sse::server srv(io);
    srv.on_request("/", [](const sse::request&) { return sse::response(200, "ok\n"); });
    sse::enable_http2(srv);
    srv.listen("127.0.0.1", 0);
    srv.start();
    asio::ip::tcp::socket c(io);
    c.connect(srv.local_endpoint());
    const std::string hello = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string("\0\0\0\4\0\0\0\0\0", 9);
    asio::write(c, asio::buffer(hello));
    char frame[9];
    asio::async_read(c, asio::buffer(frame), [&](std::error_code ec, std::size_t) {
        std::cout << "asio-sse http2: " << (ec ? ec.message() : frame[3] == 4 ? "SETTINGS" : "other frame") << "\n";
        srv.stop();
        c.close();
    });
    io.run();
    return frame[3] == 4 ? 0 : 1;
}
