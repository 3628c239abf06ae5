// The README's first example: a clock streamed to every client that connects.
#include <sse/sse.hpp>

int main()
{
    asio::io_context io;
    sse::server server(io);
    server.on_stream("/time", [](sse::stream_ptr s) {
        s->every(std::chrono::seconds(1), [s] {
            s->send(sse::event(std::to_string(std::time(nullptr))).type("tick"));
        });
    });
    server.listen("127.0.0.1", 3000);
    server.start();
    io.run(); // browser: new EventSource("http://localhost:3000/time")
}
