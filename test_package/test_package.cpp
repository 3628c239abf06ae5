// Starts an sse::server on 127.0.0.1:0, opens one stream to itself, reads its first event, stops;
// with the options tls, redis and http2, also starts an HTTPS server, makes a Redis client and
// starts a server that speaks HTTP/2.
#include <sse/sse.hpp>
#ifdef TEST_PACKAGE_TLS
#include <sse/tls.hpp>
#endif
#ifdef TEST_PACKAGE_REDIS
#include <sse/redis.hpp>
#endif
#ifdef TEST_PACKAGE_HTTP2
#include <sse/http2.hpp>
#endif

#include <asio/read_until.hpp>
#include <asio/write.hpp>

#include <chrono>
#include <iostream>
#include <string>

int main()
{
    asio::io_context io;
    sse::server srv(io);
    srv.on_stream("/events", [](sse::stream_ptr s) { s->send(sse::event("hello")); });
    srv.listen("127.0.0.1", 0);
    srv.start();

    asio::ip::tcp::socket client(io);
    std::string in;
    bool got = false;
    client.async_connect(srv.local_endpoint(), [&](std::error_code ec) {
        if (ec) {
            srv.stop();
            return;
        }
        static const std::string req = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
        asio::async_write(client, asio::buffer(req), [&](std::error_code, std::size_t) {
            asio::async_read_until(client, asio::dynamic_buffer(in), "data: hello\n\n", [&](std::error_code ec, std::size_t) {
                got = !ec;
                client.close();
                srv.stop();
            });
        });
    });
    io.run_for(std::chrono::seconds(10)); // a watchdog: never hangs

#ifdef TEST_PACKAGE_TLS
    sse::tls_server secure(io, std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server));
    secure.listen("127.0.0.1", 0);
    secure.start();
    secure.stop();
    io.restart();
    io.run_for(std::chrono::seconds(10));
#endif
#ifdef TEST_PACKAGE_REDIS
    sse::redis_options o;
    o.port = 1; // nothing listens there: the client is made and closed
    sse::redis_client bus(io, o);
    bus.close();
    io.restart();
    io.run_for(std::chrono::seconds(10));
#endif

#ifdef TEST_PACKAGE_HTTP2
    sse::server h2(io);
    sse::enable_http2(h2);
    h2.listen("127.0.0.1", 0);
    h2.start();
    h2.stop();
    io.restart();
    io.run_for(std::chrono::seconds(10));
#endif

    std::cout << "asio-sse " << ASIO_SSE_VERSION_STRING << (got ? ": one event streamed" : ": no event") << "\n";
    return got ? 0 : 1;
}
