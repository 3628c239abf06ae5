// A dashboard of many live widgets, each its own EventSource, over HTTP/2: a browser runs all of
// them over one connection (over HTTP/1.1 it stops at six per origin and the rest hang).
// `GET /?n=50` answers the page with n widgets; `/widgets/{id}` is widget id's stream, fed by
// one channel that publishes a tick every interval (each widget shows its own count).
//
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30
//     -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1
//     -keyout key.pem -out cert.pem                  (one command: a self-signed certificate)
//   sse-http2-dashboard --cert cert.pem --key key.pem       (HTTPS; h2 by ALPN, else HTTP/1.1)
//   open https://localhost:8443/?n=50                 (or: nghttp -v https://localhost:8443/widgets/1)
//   sse-http2-dashboard --port 8080                   (port 0 picks one; no certificate: cleartext h2c or HTTP/1.1,
//                                                      e.g. curl --http2-prior-knowledge -N http://127.0.0.1:8080/widgets/1)
// --http1 serves HTTP/1.1 only (to see the six-connection limit).
#include <sse/http2.hpp>
#include <sse/sse.hpp>
#include <sse/tls.hpp>

#include <asio/signal_set.hpp>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

namespace {

const char* const page = R"html(<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>asio-sse HTTP/2 dashboard</title>
<style>body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; }
.w { display: inline-block; width: 7rem; margin: .2rem; padding: .3rem; border: 1px solid #ccc; }</style>
</head>
<body>
<h1>Widgets</h1>
<p><span id="live">0</span> of <span id="total">0</span> widgets live</p>
<div id="grid"></div>
<script>
  const n = Number(new URLSearchParams(location.search).get('n') || 50);
  document.getElementById('total').textContent = n;
  window.received = new Array(n).fill(0); // read by the browser test
  for (let i = 0; i < n; ++i) {
    const cell = document.createElement('div');
    cell.className = 'w';
    cell.textContent = `#${i}: waiting`;
    document.getElementById('grid').appendChild(cell);
    new EventSource(`/widgets/${i}`).addEventListener('tick', (e) => {
      if (window.received[i]++ === 0)
        document.getElementById('live').textContent = window.received.filter((c) => c > 0).length;
      cell.textContent = `#${i}: ${e.data}`;
    });
  }
</script>
</body>
</html>
)html";

struct settings {
    std::string address = "127.0.0.1";
    unsigned short port = 8443;
    std::string cert, key;
    bool http1_only = false;
    int interval_ms = 500;
};

[[noreturn]] void usage()
{
    std::cerr << "usage: sse-http2-dashboard [--cert cert.pem --key key.pem] [--port 8443] [--address 127.0.0.1]\n"
                 "         [--interval-ms 500] [--http1]\n"
                 "with a certificate: HTTPS (h2 by ALPN); without: cleartext (h2c prior knowledge, or HTTP/1.1)\n";
    std::exit(2);
}

settings parse(int argc, char** argv)
{
    settings s;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--port" && has_value)
            s.port = static_cast<unsigned short>(std::stoi(argv[++i]));
        else if (arg == "--address" && has_value)
            s.address = argv[++i];
        else if (arg == "--cert" && has_value)
            s.cert = argv[++i];
        else if (arg == "--key" && has_value)
            s.key = argv[++i];
        else if (arg == "--interval-ms" && has_value)
            s.interval_ms = std::stoi(argv[++i]);
        else if (arg == "--http1")
            s.http1_only = true;
        else
            usage();
    }
    if (s.cert.empty() != s.key.empty()) usage();
    return s;
}

// The routes, on a server of either transport.
template <class Server>
void serve(Server& server, sse::channel& ticks, const settings& cfg)
{
    server.on_request("/", [](const sse::request&) { return sse::response(200, page, "text/html; charset=utf-8"); });
    server.on_stream("/widgets/{id}", [&ticks](sse::stream_ptr s) { ticks.subscribe(s); });
    if (!cfg.http1_only) sse::enable_http2(server);
    server.listen(cfg.address, cfg.port);
    server.start();
}

} // namespace

int main(int argc, char** argv)
{
    const settings cfg = parse(argc, argv);
    asio::io_context io;
    sse::channel ticks;
    std::unique_ptr<sse::server> plain;
    std::unique_ptr<sse::tls_server> secure;
    try {
        if (cfg.cert.empty()) {
            plain = std::make_unique<sse::server>(io);
            serve(*plain, ticks, cfg);
        } else {
            secure = std::make_unique<sse::tls_server>(io, sse::make_tls_context(cfg.cert, cfg.key));
            serve(*secure, ticks, cfg);
        }
    } catch (const std::exception& e) {
        std::cerr << "sse-http2-dashboard: " << e.what() << "\n";
        return 1;
    }
    const unsigned short port = secure ? secure->local_endpoint().port() : plain->local_endpoint().port();
    std::cout << "sse-http2-dashboard: " << (secure ? "https" : "http") << "://" << cfg.address << ":" << port
              << "/?n=50 (" << (cfg.http1_only ? "HTTP/1.1 only" : secure ? "h2 or HTTP/1.1" : "h2c or HTTP/1.1") << ")"
              << std::endl;

    bool stopped = false;
    asio::steady_timer tick(io);
    std::uint64_t count = 0;
    std::function<void()> publish = [&] {
        tick.expires_after(std::chrono::milliseconds(cfg.interval_ms));
        tick.async_wait([&](std::error_code ec) {
            if (ec || stopped) return;
            ++count;
            ticks.publish(sse::event(std::to_string(count)).type("tick").id(std::to_string(count)));
            publish();
        });
    };
    publish();

    asio::signal_set stop_signals(io, SIGINT, SIGTERM);
    stop_signals.async_wait([&](std::error_code, int) {
        stopped = true;
        tick.cancel();
        if (plain) plain->stop();
        if (secure) secure->stop();
    });
    io.run();
}
