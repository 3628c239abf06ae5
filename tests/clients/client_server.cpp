// The server the real-client tests (npm eventsource, eventsource-parser, headless Chromium)
// talk to. It listens on 127.0.0.1 twice: the main server (port from --port, 0 = any) and a
// second origin for cross-origin pages (any port). It prints the main port on the first line
// of stdout and the second origin's port on the second, then serves until SIGTERM/SIGINT.
//
//   sse-client-server --cases cases.json [--port 0] [--retry-ms 300] [--publish-ms 20]
//
// Main server routes:
//   /blank                  an empty page (same-origin EventSource tests run in it)
//   /tricky?case=NAME       the events of case NAME from the cases table, then an `end` event
//   /channel                a stream subscribed to a channel that publishes every --publish-ms,
//                           each event carrying `retry: --retry-ms`; resumes from Last-Event-ID
//   /kill                   closes every open /channel stream from the server side
//   /stop?key=K             the first request for K: one event with `retry: 100`, then closed;
//                           every later one: 204 ("stop reconnecting")
//   /cors-allowed           a stream that grants CORS to the second origin
//   /cors-refused           a stream with no CORS grant
//   /log                    what the tests check: JSON of the requests seen (below)
// Second origin: /  an empty page.
//
// One thread runs the io_context, so the handlers share `log` without a lock.
#include <sse/sse.hpp>

#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

const char* const blank_page = "<!doctype html><html><head><meta charset=\"utf-8\"><title>blank</title></head><body></body></html>";

struct settings {
    unsigned short port = 0;
    std::string cases;
    std::chrono::milliseconds retry{300};
    std::chrono::milliseconds publish_every{20};
};

settings parse(int argc, char** argv)
{
    settings s;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view arg = argv[i];
        if (arg == "--port")
            s.port = static_cast<unsigned short>(std::stoi(argv[i + 1]));
        else if (arg == "--cases")
            s.cases = argv[i + 1];
        else if (arg == "--retry-ms")
            s.retry = std::chrono::milliseconds(std::stoi(argv[i + 1]));
        else if (arg == "--publish-ms")
            s.publish_every = std::chrono::milliseconds(std::stoi(argv[i + 1]));
        else
            throw std::invalid_argument("unknown option " + std::string(arg));
    }
    if (argc % 2 == 0 || s.cases.empty())
        throw std::invalid_argument("usage: sse-client-server --cases FILE [--port N] [--retry-ms N] [--publish-ms N]");
    return s;
}

// A table string: "text", or {"repeat": "text", "times": N}; "{n}" becomes `n` when n > 0.
std::string text_of(const json& v, int n)
{
    std::string s;
    if (v.is_object()) {
        const auto unit = v.at("repeat").get<std::string>();
        for (int i = v.at("times").get<int>(); i > 0; --i) s += unit;
    } else {
        s = v.get<std::string>();
    }
    if (n > 0)
        for (auto at = s.find("{n}"); at != std::string::npos; at = s.find("{n}", at))
            s.replace(at, 3, std::to_string(n));
    return s;
}

// Every case of the table as the events to send (see cases.json and lib/cases.js).
std::map<std::string, std::vector<sse::event>> load_cases(const std::string& path)
{
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::map<std::string, std::vector<sse::event>> cases;
    for (const auto& c : json::parse(in)) {
        auto& events = cases[c.at("name").get<std::string>()];
        const int repeat = c.value("repeat", 0);
        for (int n = repeat ? 1 : 0; n <= repeat; ++n) {
            for (const auto& e : c.at("events")) {
                sse::event ev(text_of(e.at("data"), n));
                if (e.contains("type")) ev.type(text_of(e["type"], n));
                if (e.contains("id")) ev.id(text_of(e["id"], n));
                if (e.contains("retry")) ev.retry(std::chrono::milliseconds(e["retry"].get<long long>()));
                events.push_back(std::move(ev));
            }
        }
    }
    return cases;
}

} // namespace

int main(int argc, char** argv)
try {
    const settings cfg = parse(argc, argv);
    const auto cases = load_cases(cfg.cases);
    const auto started = clock_type::now();
    const auto now_ms = [started] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - started).count();
    };

    asio::io_context io;
    sse::server_options options;
    options.max_queue_bytes = 16 * 1024 * 1024; // a whole case is queued at once
    sse::server srv(io, options);
    sse::server origin(io);
    origin.listen("127.0.0.1", 0);
    const std::string origin_url = "http://127.0.0.1:" + std::to_string(origin.local_endpoint().port());

    json log = {{"channel", json::array()}, {"kills", json::array()}, {"stop", json::object()},
                {"cors_refused", 0}};
    std::vector<std::weak_ptr<sse::stream>> channel_streams;
    sse::channel channel;

    const auto page = [](const sse::request&) { return sse::response(200, blank_page, "text/html; charset=utf-8"); };
    origin.on_request("/", page);
    srv.on_request("/blank", page);
    srv.on_request("/log", [&](const sse::request&) { return sse::response(200, log.dump(), "application/json"); });

    srv.on_stream("/tricky", [&](sse::stream_ptr s) {
        const auto it = cases.find(s->request().query_param("case").value_or(""));
        if (it == cases.end()) return s->reject(sse::response(404, "no such case\n", "text/plain"));
        for (const auto& e : it->second) s->send(e);
        s->send(sse::event().type("end"));
    });

    srv.on_stream("/channel", [&](sse::stream_ptr s) {
        log["channel"].push_back({{"last_event_id", s->request().last_event_id()}, {"at_ms", now_ms()}});
        channel_streams.push_back(s);
        channel.subscribe(s);
    });
    srv.on_request("/kill", [&](const sse::request&) {
        log["kills"].push_back(now_ms());
        std::size_t closed = 0;
        for (const auto& w : channel_streams)
            if (auto s = w.lock(); s && s->is_open()) {
                s->close();
                ++closed;
            }
        channel_streams.clear();
        return sse::response(200, std::to_string(closed) + "\n", "text/plain");
    });

    srv.on_stream("/stop", [&](sse::stream_ptr s) {
        auto& count = log["stop"][s->request().query_param("key").value_or("")];
        count = count.is_null() ? 1 : count.get<int>() + 1;
        if (count.get<int>() > 1) return s->reject(sse::response(204));
        s->send(sse::event("once").retry(std::chrono::milliseconds(100)));
        s->close();
    });

    sse::route_options allow;
    allow.cors.emplace().origins = {origin_url};
    srv.on_stream("/cors-allowed", [](sse::stream_ptr s) { s->send(sse::event("granted").id("1")); }, allow);
    srv.on_stream("/cors-refused", [&](sse::stream_ptr s) {
        log["cors_refused"] = log["cors_refused"].get<int>() + 1;
        s->send(sse::event("refused").id("1"));
    });

    srv.listen("127.0.0.1", cfg.port);
    srv.start();
    origin.start();

    asio::steady_timer publisher(io);
    bool stopped = false; // checked too: a wait that already expired completes with success after cancel()
    std::function<void()> publish_soon = [&] {
        publisher.expires_after(cfg.publish_every);
        publisher.async_wait([&](std::error_code ec) {
            if (ec || stopped) return;
            channel.publish(sse::event("tick").retry(cfg.retry));
            publish_soon();
        });
    };
    publish_soon();

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) {
        stopped = true;
        publisher.cancel();
        srv.stop();
        origin.stop();
    });

    std::cout << srv.local_endpoint().port() << '\n' << origin.local_endpoint().port() << std::endl;
    io.run();
    return 0;
} catch (const std::exception& e) {
    std::cerr << "sse-client-server: " << e.what() << '\n';
    return 1;
}
