// The chat room of sse-chat, on several nodes at once: every node runs this program against the
// same Redis, and a message POSTed to any node reaches the browsers on all of them. A client
// that reconnects to another node resumes there from its Last-Event-ID.
//
//   sse-cluster [--port 3001] [--redis-host 127.0.0.1] [--redis-port 6379] [--redis-password P]
//               [--heartbeat-ms 15000]
//   (examples/run-cluster.sh starts Redis, two nodes and nginx in front of them)
//
// Prints "sse-cluster: open http://localhost:PORT/" once listening, and "redis up" once it follows
// the channel's log in Redis (from then on it delivers everything published on any node). POST /send publishes; GET /events streams; GET /stats shows the counters.
#include <sse/redis.hpp>
#include <sse/sse.hpp>

#include <asio/signal_set.hpp>

#include <functional>
#include <iostream>
#include <string>

namespace {
const char* const page = R"html(<!doctype html>
<meta charset="utf-8"><title>asio-sse cluster chat</title>
<style>body{font:16px system-ui;max-width:40rem;margin:2rem auto} #log{height:20rem;overflow:auto;border:1px solid #ccc;padding:.5rem}</style>
<h1>Chat on <span id="node"></span></h1>
<p>Status: <span id="state">connecting…</span></p>
<div id="log"></div>
<form id="f"><input id="text" placeholder="message" size="40" autofocus> <button>Send</button></form>
<script>
  const log = document.getElementById('log');
  const source = new EventSource('/events');
  source.onopen = () => document.getElementById('state').textContent = 'connected';
  source.onerror = () => document.getElementById('state').textContent = 'reconnecting…';
  source.addEventListener('chat', (e) => {
    const p = document.createElement('p');
    p.textContent = e.data;
    p.dataset.id = e.lastEventId;
    log.append(p);
    log.scrollTop = log.scrollHeight;
  });
  fetch('/node').then((r) => r.text()).then((t) => document.getElementById('node').textContent = t);
  document.getElementById('f').onsubmit = (e) => {
    e.preventDefault();
    const text = document.getElementById('text');
    fetch('/send', { method: 'POST', body: text.value });
    text.value = '';
  };
</script>
)html";
} // namespace

int main(int argc, char** argv)
{
    unsigned short port = 3001;
    sse::redis_options redis;
    long heartbeat_ms = 15000;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i], value = argv[i + 1];
        if (flag == "--port") port = static_cast<unsigned short>(std::stoi(value));
        else if (flag == "--redis-host") redis.host = value;
        else if (flag == "--redis-port") redis.port = static_cast<std::uint16_t>(std::stoi(value));
        else if (flag == "--redis-password") redis.password = value;
        else if (flag == "--heartbeat-ms") heartbeat_ms = std::stol(value);
        else {
            std::cerr << "unknown option " << flag << "\n";
            return 2;
        }
    }

    asio::io_context io;
    redis.on_state = [](bool up, std::error_code why) {
        if (!up) std::cerr << "sse-cluster: Redis: " << why.message() << std::endl;
    };
    sse::redis_client bus(io, redis);

    sse::server_options options;
    options.max_body_bytes = 2000;
    options.retry = std::chrono::milliseconds(1000);
    options.heartbeat = std::chrono::milliseconds(heartbeat_ms);
    sse::server server(io, options);
    sse::channel_options history;
    history.history_events = 1000;
    history.missed_event = "missed"; // a client whose Last-Event-ID the log no longer has
    sse::redis_channel room(bus, "room", history); // sse::channel room(history); on one node

    server.on_request("/", [](const sse::request&) { return sse::response(200, page, "text/html; charset=utf-8"); });
    server.on_request("/node", [&server](const sse::request&) {
        return sse::response(200, "port " + std::to_string(server.local_endpoint().port()));
    });
    server.on_stream("/events", [room](sse::stream_ptr s) mutable { room.subscribe(s); });
    server.on_request("/send", [room](const sse::request& r) mutable {
        if (r.method() != "POST") return sse::response(405, "POST a message\n").header("Allow", "POST");
        if (r.body().empty()) return sse::response(400, "empty message\n");
        room.publish(sse::event(r.body()).type("chat"));
        return sse::response(204);
    });
    server.on_request("/stats", [room, &bus](const sse::request&) {
        const auto c = room.stats();
        const auto b = bus.stats();
        return sse::response(200, "{\"subscribers\":" + std::to_string(c.subscribers) + ",\"published\":" +
                                      std::to_string(c.published) + ",\"publish_failed\":" + std::to_string(c.publish_failed) +
                                      ",\"delivered\":" + std::to_string(c.delivered) + ",\"lost\":" + std::to_string(c.lost) +
                                      ",\"redis_connected\":" + (b.connected ? "true" : "false") +
                                      ",\"following\":" + (c.following ? "true" : "false") + "}",
                             "application/json");
    });
    server.listen("127.0.0.1", port);
    server.start();

    // Ready (e.g. for a load balancer's health check) once the node follows the channel's log:
    // from then on it delivers every event published on any node.
    asio::steady_timer ready(io);
    std::function<void()> await_following = [&] {
        if (room.stats().following) {
            std::cout << "redis up" << std::endl;
            return;
        }
        ready.expires_after(std::chrono::milliseconds(10));
        ready.async_wait([&](std::error_code ec) {
            if (!ec) await_following();
        });
    };

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) {
        server.stop();
        bus.close();
        ready.cancel();
    });
    std::cout << "sse-cluster: open http://localhost:" << server.local_endpoint().port() << "/" << std::endl;
    await_following();
    io.run();
}
