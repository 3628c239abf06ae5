// One clock for everybody: a server-side timer publishes to a channel every second and every
// connected client receives the same events (with ids, so a reconnecting client resumes).
//
//   sse-broadcast [--port 3001]      then open http://localhost:3001/
#include <sse/sse.hpp>

#include <asio/signal_set.hpp>

#include <ctime>
#include <iostream>
#include <string>

namespace {
const char* const page = R"html(<!doctype html>
<meta charset="utf-8"><title>asio-sse broadcast</title>
<h1>Shared clock</h1>
<p>Server time: <b id="time">…</b> (event #<span id="id">0</span>, <span id="n">?</span> clients)</p>
<script>
  const source = new EventSource('/events');
  source.addEventListener('tick', (e) => {
    const [time, clients] = e.data.split(' ');
    document.getElementById('time').textContent = new Date(Number(time) * 1000).toLocaleTimeString();
    document.getElementById('n').textContent = clients;
    document.getElementById('id').textContent = e.lastEventId;
  });
</script>
)html";

// Publishes a tick every second until `stopped` is set (a flag: a wait that has already expired
// completes with success even after cancel()).
void tick(asio::steady_timer& timer, const bool& stopped, sse::channel& clock)
{
    timer.expires_at(timer.expiry() + std::chrono::seconds(1));
    timer.async_wait([&timer, &stopped, &clock](std::error_code ec) {
        if (ec || stopped) return;
        clock.publish(sse::event(std::to_string(std::time(nullptr)) + " " + std::to_string(clock.size())).type("tick"));
        tick(timer, stopped, clock);
    });
}
} // namespace

int main(int argc, char** argv)
{
    const unsigned short port = argc == 3 && std::string(argv[1]) == "--port" ? static_cast<unsigned short>(std::stoi(argv[2])) : 3001;
    asio::io_context io;
    sse::server server(io);
    sse::channel clock;

    server.on_request("/", [](const sse::request&) { return sse::response(200, page, "text/html; charset=utf-8"); });
    server.on_stream("/events", [clock](sse::stream_ptr s) mutable { clock.subscribe(s); });
    server.listen("127.0.0.1", port);
    server.start();

    asio::steady_timer timer(io, std::chrono::steady_clock::now());
    bool stopped = false; // one thread runs the io_context: the timer and the signal share it
    tick(timer, stopped, clock);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) {
        stopped = true;
        timer.cancel();
        server.stop(sse::event("server stopping").type("bye"));
    });
    std::cout << "sse-broadcast: open http://localhost:" << server.local_endpoint().port() << "/" << std::endl;
    io.run();
}
