// A chat room in the browser, fed by a channel. Messages are POSTed to /send and published to
// every client; a client that reconnects (network blip, server-side close) resumes from its
// Last-Event-ID, and a newcomer first gets the recent history.
//
//   sse-chat [--port 3002]      then open http://localhost:3002/ in two windows
#include <sse/sse.hpp>

#include <asio/signal_set.hpp>

#include <iostream>
#include <string>

namespace {
const char* const page = R"html(<!doctype html>
<meta charset="utf-8"><title>asio-sse chat</title>
<style>body{font:16px system-ui;max-width:40rem;margin:2rem auto} #log{height:20rem;overflow:auto;border:1px solid #ccc;padding:.5rem}</style>
<h1>Chat</h1>
<p>Status: <span id="state">connecting…</span></p>
<div id="log"></div>
<form id="f"><input id="name" placeholder="name" size="8"> <input id="text" placeholder="message" size="40" autofocus> <button>Send</button></form>
<script>
  const log = document.getElementById('log');
  const source = new EventSource('/events');
  source.onopen = () => document.getElementById('state').textContent = 'connected';
  source.onerror = () => document.getElementById('state').textContent = 'reconnecting…';
  source.addEventListener('chat', (e) => {
    const m = JSON.parse(e.data);
    const p = document.createElement('p');
    p.textContent = m.name + ': ' + m.text;
    log.append(p);
    log.scrollTop = log.scrollHeight;
  });
  document.getElementById('f').onsubmit = (e) => {
    e.preventDefault();
    const name = document.getElementById('name').value || 'anonymous';
    const text = document.getElementById('text');
    fetch('/send?name=' + encodeURIComponent(name), { method: 'POST', body: text.value });
    text.value = '';
  };
</script>
)html";

// Escapes `s` as a JSON string body (the data of one chat event).
std::string json_string(const std::string& s)
{
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            const char hex[] = "0123456789abcdef";
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}
} // namespace

int main(int argc, char** argv)
{
    const unsigned short port = argc == 3 && std::string(argv[1]) == "--port" ? static_cast<unsigned short>(std::stoi(argv[2])) : 3002;
    asio::io_context io;
    sse::server_options options;
    options.max_body_bytes = 2000;
    options.retry = std::chrono::milliseconds(1000);
    sse::server server(io, options);
    sse::channel_options history;
    history.history_events = 100;
    sse::channel room(history);

    server.on_request("/", [](const sse::request&) { return sse::response(200, page, "text/html; charset=utf-8"); });
    server.on_stream("/events", [room](sse::stream_ptr s) mutable {
        const std::string last = s->request().last_event_id();
        room.subscribe(s, last.empty() ? "0" : last); // a newcomer gets the recent history
    });
    server.on_request("/send", [room](const sse::request& r) mutable {
        if (r.method() != "POST") return sse::response(405, "POST a message\n").header("Allow", "POST");
        if (r.body().empty()) return sse::response(400, "empty message\n");
        const std::string name = r.query_param("name").value_or("anonymous").substr(0, 32);
        room.publish(sse::event("{\"name\":" + json_string(name) + ",\"text\":" + json_string(r.body()) + "}").type("chat"));
        return sse::response(204);
    });
    server.listen("127.0.0.1", port);
    server.start();

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) { server.stop(); });
    std::cout << "sse-chat: open http://localhost:" << server.local_endpoint().port() << "/" << std::endl;
    io.run();
}
