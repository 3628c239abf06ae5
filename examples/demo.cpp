// The Node.js tutorial, in C++: `GET /` answers the page, and — when the request accepts
// text/event-stream, as the page's EventSource does — a stream that sends, every interval,
//   id: N / event: myCustomEvent / retry: 5000 / data: This is message number N
// A reconnecting client resumes its count from Last-Event-ID.
//
//   sse-demo [--port 3000] [--interval-ms 3000] [--address 127.0.0.1]
#include <sse/sse.hpp>

#include <asio/signal_set.hpp>

#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

namespace {

const char* const page = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>asio-sse demo</title>
<style>
  body { font: 16px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 40rem; }
  #state { font-weight: bold; }
  li.custom { color: #0a5; } li.message { color: #05a; } li.error { color: #a00; }
</style>
</head>
<body>
<h1>Server-Sent Events with asio-sse</h1>
<p>Connection: <span id="state">connecting…</span></p>
<ul id="events"></ul>
<script>
  const list = document.getElementById('events');
  const state = document.getElementById('state');
  function show(kind, text) {
    const li = document.createElement('li');
    li.className = kind;
    li.textContent = text;
    list.prepend(li);
  }
  const source = new EventSource('/');
  source.onopen = () => { state.textContent = 'open'; };
  source.onerror = () => { state.textContent = 'reconnecting…'; };
  source.onmessage = (e) => show('message', 'message: ' + e.data);
  source.addEventListener('myCustomEvent', (e) => {
    console.log(e.data);
    show('custom', 'myCustomEvent #' + e.lastEventId + ': ' + e.data);
  });
</script>
</body>
</html>
)html";

struct settings {
    std::string address = "127.0.0.1";
    unsigned short port = 3000;
    int interval_ms = 3000;
};

settings parse(int argc, char** argv)
{
    settings s;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--port" && has_value) {
            s.port = static_cast<unsigned short>(std::stoi(argv[++i]));
        } else if (arg == "--interval-ms" && has_value) {
            s.interval_ms = std::stoi(argv[++i]);
        } else if (arg == "--address" && has_value) {
            s.address = argv[++i];
        } else {
            std::cerr << "usage: sse-demo [--port 3000] [--interval-ms 3000] [--address 127.0.0.1]\n";
            std::exit(arg == "--help" ? 0 : 2);
        }
    }
    return s;
}

} // namespace

int main(int argc, char** argv)
{
    const settings cfg = parse(argc, argv);
    asio::io_context io;
    sse::server server(io);

    server.on_request("/", [](const sse::request&) { return sse::response(200, page, "text/html; charset=utf-8"); });
    server.on_stream("/", [interval = std::chrono::milliseconds(cfg.interval_ms)](sse::stream_ptr s) {
        // Resume the count where a reconnecting client left off.
        auto counter = std::make_shared<long long>(0);
        const std::string last = s->request().last_event_id();
        if (!last.empty() && last.find_first_not_of("0123456789") == std::string::npos && last.size() < 18)
            *counter = std::stoll(last);
        s->send(sse::event(*counter ? "Welcome back" : "Welcome"));
        s->every(interval, [s, counter] {
            ++*counter;
            const std::string n = std::to_string(*counter);
            s->send(sse::event("This is message number " + n)
                        .id(n)
                        .type("myCustomEvent")
                        .retry(std::chrono::milliseconds(5000)));
        });
    });

    try {
        server.listen(cfg.address, cfg.port);
    } catch (const std::exception& e) {
        std::cerr << "sse-demo: cannot listen on " << cfg.address << ":" << cfg.port << ": " << e.what() << "\n";
        return 1;
    }
    server.start();

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) { server.stop(); });

    std::cout << "sse-demo: open http://localhost:" << server.local_endpoint().port() << "/ (Ctrl-C stops)"
              << std::endl;
    io.run();
    return 0;
}
