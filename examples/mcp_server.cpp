// A Model Context Protocol (MCP) server on the Streamable HTTP transport (protocol revisions
// 2025-06-18 and 2025-03-26), in one file: one endpoint, `/mcp`, that answers
//   POST    a JSON-RPC message: `initialize` opens a session (`Mcp-Session-Id`); a notification
//           gets 202; `tools/list` and `ping` a JSON answer; `tools/call` a text/event-stream
//           that carries the tool's progress notifications, then its result
//   GET     the session's server-to-client stream; with `Last-Event-ID`, the rest of a
//           tools/call stream whose connection was lost (the client resumes where it was)
//   DELETE  the end of the session
// and refuses any request whose `Origin` is not allowed (the spec's DNS-rebinding protection).
//
// The one tool, `count`, counts to n, one step every interval, and reports each step as an MCP
// progress notification when the caller asked for progress (`_meta.progressToken`).
//
//   sse-mcp-server [--port 3000] [--address 127.0.0.1] [--interval-ms 200]
//                  [--allow-origin https://app.example]... [--drop-after K]
//
// --drop-after K closes every tools/call response stream after its K-th event, as a flaky
// network would: the client then resumes on a GET with `Last-Event-ID` and misses nothing.
//
// Try it with curl: initialize, then call the tool with the session id the first answer carries
//   h=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
//   curl -si localhost:3000/mcp "${h[@]}" -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
//   curl -sN localhost:3000/mcp "${h[@]}" -H 'Mcp-Session-Id: ID' -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"count","arguments":{"n":5},"_meta":{"progressToken":"p"}}}'
// or with the official SDK's client (tests/clients/mcp.test.js does exactly that).
//
// The io_context runs on one thread here. The handler and the tools' timers all take one mutex
// before they touch the sessions, so running the context on several threads stays correct.
#include <sse/sse.hpp>

#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Settings

struct settings {
    std::string address = "127.0.0.1";
    unsigned short port = 3000;
    std::chrono::milliseconds interval{200};
    std::vector<std::string> allowed_origins; // besides requests with no Origin (non-browser clients)
    std::uint64_t drop_after = 0;             // 0: never
};

settings parse(int argc, char** argv)
{
    settings s;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--port" && has_value) {
            s.port = static_cast<unsigned short>(std::stoi(argv[++i]));
        } else if (arg == "--address" && has_value) {
            s.address = argv[++i];
        } else if (arg == "--interval-ms" && has_value) {
            s.interval = std::chrono::milliseconds(std::stoi(argv[++i]));
        } else if (arg == "--allow-origin" && has_value) {
            s.allowed_origins.emplace_back(argv[++i]);
        } else if (arg == "--drop-after" && has_value) {
            s.drop_after = std::stoull(argv[++i]);
        } else {
            std::cerr << "usage: sse-mcp-server [--port 3000] [--address 127.0.0.1] [--interval-ms 200]\n"
                         "                      [--allow-origin ORIGIN]... [--drop-after K]\n";
            std::exit(arg == "--help" ? 0 : 2);
        }
    }
    return s;
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC and MCP vocabulary

// The revisions this server speaks, newest first. `initialize` echoes the client's if listed,
// else offers the first (the client then decides whether it can go on).
const std::vector<std::string> protocol_versions{"2025-06-18", "2025-03-26"};

bool supported(std::string_view version)
{
    for (const auto& v : protocol_versions)
        if (v == version) return true;
    return false;
}

namespace rpc {
constexpr int parse_error = -32700;
constexpr int invalid_request = -32600;
constexpr int method_not_found = -32601;
constexpr int invalid_params = -32602;
constexpr int server_error = -32000;      // the MCP SDKs' code for transport-level refusals
constexpr int session_not_found = -32001;

json result(const json& id, json value) { return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(value)}}; }

json error(const json& id, int code, std::string message)
{
    return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", std::move(message)}}}};
}

json notification(std::string method, json params)
{
    return {{"jsonrpc", "2.0"}, {"method", std::move(method)}, {"params", std::move(params)}};
}
} // namespace rpc

// `j[key]` when `j` is an object that has it, else null: reading a client's message never throws.
const json& field(const json& j, const char* key)
{
    static const json null;
    if (!j.is_object()) return null;
    const auto it = j.find(key);
    return it == j.end() ? null : *it;
}

// A JSON body. Event data and answers are dumped with non-ASCII escaped: U+2028 and friends
// would otherwise cut the line for clients that split on every Unicode line break.
std::string dump(const json& j) { return j.dump(-1, ' ', true); }

sse::response json_answer(int status, const json& body) { return sse::response(status, dump(body), "application/json"); }

// An HTTP-level refusal; its body is a JSON-RPC error without an id, as the SDKs answer.
sse::response refusal(int status, int code, std::string message)
{
    return json_answer(status, rpc::error(nullptr, code, std::move(message)));
}

// The media type of a Content-Type value, lowercased, without parameters.
std::string media_type(std::string_view value)
{
    value = value.substr(0, value.find(';'));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    std::string out;
    for (char c : value) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
    return out;
}

// 128 random bits as 32 hex digits: unguessable, and visible ASCII as the spec requires.
std::string random_session_id()
{
    static thread_local std::random_device entropy; // /dev/urandom on Linux
    static const char* const hex = "0123456789abcdef";
    std::string id;
    for (int i = 0; i < 4; ++i) {
        std::uint32_t bits = entropy();
        for (int j = 0; j < 8; ++j, bits >>= 4) id.push_back(hex[bits & 15]);
    }
    return id;
}

// The one tool: its description, as `tools/list` returns it.
const int max_count = 1000;

json count_tool()
{
    return {{"name", "count"},
            {"title", "Count"},
            {"description", "Counts from 1 to n, one step per interval, reporting each step as progress."},
            {"inputSchema",
             {{"type", "object"},
              {"properties",
               {{"n", {{"type", "integer"}, {"minimum", 1}, {"maximum", max_count}, {"description", "how far to count"}}}}},
              {"required", {"n"}}}}};
}

// ---------------------------------------------------------------------------------------------
// Server state: sessions, and in them the tools/call streams that can be resumed

// One tools/call in progress (or just finished): its messages go out through an sse::channel,
// whose bounded history replays, to a client that lost the connection and comes back with
// `Last-Event-ID`, whatever it missed. Event ids are "<stream>-<n>", so an id tells which
// stream of the session it belongs to.
struct call {
    call(asio::io_context& io, std::uint64_t stream, json request_id, json progress_token, int n)
        : stream(stream), request_id(std::move(request_id)), progress_token(std::move(progress_token)), n(n),
          messages(history()), timer(io)
    {
    }

    static sse::channel_options history()
    {
        sse::channel_options o;
        o.assign_ids = false;            // the ids are ours: "<stream>-<n>"
        o.history_events = max_count + 1; // a whole call: every progress step and the result
        return o;
    }

    const std::uint64_t stream;
    const json request_id;
    const json progress_token; // null: the caller asked for no progress
    const int n;
    int counted = 0;
    std::uint64_t events = 0; // sent on the channel
    std::string last_id;      // of the last of them
    bool finished = false;    // answered (or cancelled): no more events
    sse::channel messages;
    std::vector<std::weak_ptr<sse::stream>> readers; // the POST's stream, then any resuming GET
    asio::steady_timer timer;
};

struct session {
    explicit session(std::string version) : protocol_version(std::move(version)) {}

    const std::string protocol_version;
    std::weak_ptr<sse::stream> listener; // the GET stream for server-to-client messages
    std::uint64_t next_stream = 1;
    std::map<std::uint64_t, std::shared_ptr<call>> calls; // by stream number; the newest few
};

// Bounds, so that no client can make the server hold memory without end. (A production server
// would also expire sessions left idle.)
constexpr std::size_t max_sessions = 1000;
constexpr std::size_t kept_calls = 16; // per session: running, or finished and resumable

class mcp_server {
public:
    mcp_server(asio::io_context& io, settings cfg) : io_(io), cfg_(std::move(cfg)) {}

    // The handler of every request on /mcp (the route takes GET, POST and DELETE). It answers
    // plain requests with `s->respond()`; a stream it lets open, once it returns.
    void handle(const sse::stream_ptr& s)
    {
        const sse::request& r = s->request();
        // DNS rebinding: a web page the user visits must not reach a local server. Browsers
        // send `Origin` with every POST and every cross-origin request; other clients send none.
        if (auto origin = r.header("Origin"); origin && !origin_allowed(*origin))
            return s->respond(refusal(403, rpc::server_error, "Forbidden: Origin not allowed"));
        std::lock_guard<std::mutex> lock(mu_);
        if (r.method() == "POST") return on_post(s);
        if (r.method() == "GET") return on_get(s);
        return on_delete(s);
    }

    // Ends every tool in progress (on shutdown).
    void stop()
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& [id, sess] : sessions_)
            for (auto& [n, c] : sess->calls) finish(*c);
    }

private:
    bool origin_allowed(std::string_view origin) const
    {
        for (const auto& o : cfg_.allowed_origins)
            if (o == origin) return true;
        return false;
    }

    // ---- POST: one JSON-RPC message ------------------------------------------------------------

    void on_post(const sse::stream_ptr& s)
    {
        const sse::request& r = s->request();
        const std::string_view accept = r.header("Accept").value_or("");
        if (accept.find("application/json") == accept.npos || accept.find("text/event-stream") == accept.npos)
            return s->respond(refusal(406, rpc::server_error, "Not Acceptable: accept application/json and text/event-stream"));
        if (media_type(r.header("Content-Type").value_or("")) != "application/json")
            return s->respond(refusal(415, rpc::server_error, "Unsupported Media Type: send application/json"));

        const json msg = json::parse(r.body(), nullptr, /*allow_exceptions=*/false);
        if (msg.is_discarded()) return s->respond(refusal(400, rpc::parse_error, "Parse error: Invalid JSON"));
        if (msg.is_array())
            return s->respond(refusal(400, rpc::invalid_request, "Invalid Request: batches are not supported"));

        // A request has a method and an id, a notification a method only, a response (to a
        // request of ours: this server sends none) an id and a result or error.
        const json& method = field(msg, "method");
        const json& id = field(msg, "id");
        const bool id_ok = id.is_string() || id.is_number_integer();
        const bool is_request = method.is_string() && id_ok;
        const bool is_notification = method.is_string() && !msg.contains("id");
        const bool is_response = method.is_null() && id_ok && (msg.contains("result") || msg.contains("error"));
        if (field(msg, "jsonrpc") != "2.0" || !(is_request || is_notification || is_response))
            return s->respond(refusal(400, rpc::invalid_request, "Invalid Request: not a JSON-RPC 2.0 message"));

        if (is_request && method == "initialize") return initialize(s, msg);

        const auto found = session_of(s);
        if (!found) return; // refused
        session& sess = *found;

        if (!is_request) { // notifications and responses are accepted, with no body
            if (method == "notifications/cancelled") cancel(sess, field(field(msg, "params"), "requestId"));
            return s->respond(sse::response(202));
        }

        const json& params = field(msg, "params");
        if (method == "ping") return s->respond(json_answer(200, rpc::result(id, json::object())));
        if (method == "tools/list")
            return s->respond(json_answer(200, rpc::result(id, {{"tools", json::array({count_tool()})}})));
        if (method == "tools/call") return call_tool(s, sess, id, params);
        s->respond(json_answer(200, rpc::error(id, rpc::method_not_found, "Method not found: " + method.get<std::string>())));
    }

    // A new session; the client sends its id back on every later request.
    void initialize(const sse::stream_ptr& s, const json& msg)
    {
        if (sessions_.size() >= max_sessions)
            return s->respond(refusal(503, rpc::server_error, "Too many sessions").header("Retry-After", "5"));
        const json& asked = field(field(msg, "params"), "protocolVersion");
        const std::string version =
            asked.is_string() && supported(asked.get<std::string>()) ? asked.get<std::string>() : protocol_versions.front();
        std::string sid = random_session_id();
        sessions_.emplace(sid, std::make_shared<session>(version));

        const json result = {{"protocolVersion", version},
                             {"capabilities", {{"tools", json::object()}}},
                             {"serverInfo", {{"name", "asio-sse-mcp"}, {"version", ASIO_SSE_VERSION_STRING}}}};
        s->respond(json_answer(200, rpc::result(field(msg, "id"), result)).header("Mcp-Session-Id", sid));
    }

    // The session a request names, or null once `s` has been refused: 400 without the header,
    // 404 for a session that does not exist (any more): the client then starts a new one.
    std::shared_ptr<session> session_of(const sse::stream_ptr& s)
    {
        const sse::request& r = s->request();
        const auto sid = r.header("Mcp-Session-Id");
        if (!sid) {
            s->respond(refusal(400, rpc::server_error, "Bad Request: Mcp-Session-Id header is required"));
            return nullptr;
        }
        const auto it = sessions_.find(std::string(*sid));
        if (it == sessions_.end()) {
            s->respond(refusal(404, rpc::session_not_found, "Session not found"));
            return nullptr;
        }
        // Clients of 2025-06-18 name the version negotiated at initialize on every request.
        if (auto v = r.header("MCP-Protocol-Version"); v && *v != it->second->protocol_version) {
            s->respond(refusal(400, rpc::server_error, "Bad Request: MCP-Protocol-Version " + std::string(*v) +
                                                           " is not this session's (" + it->second->protocol_version + ")"));
            return nullptr;
        }
        return it->second;
    }

    // tools/call: a bad call gets a JSON error; a good one a stream of its progress and result.
    void call_tool(const sse::stream_ptr& s, session& sess, const json& id, const json& params)
    {
        const json& name = field(params, "name");
        if (name != "count") {
            const std::string which = name.is_string() ? name.get<std::string>() : name.dump();
            return s->respond(json_answer(200, rpc::error(id, rpc::invalid_params, "Unknown tool: " + which)));
        }
        const json& n = field(field(params, "arguments"), "n");
        if (!n.is_number_integer() || n.get<long long>() < 1 || n.get<long long>() > max_count)
            return s->respond(json_answer(200, rpc::error(id, rpc::invalid_params,
                                                          "count: n must be an integer from 1 to " + std::to_string(max_count))));
        if (!make_room(sess))
            return s->respond(json_answer(200, rpc::error(id, rpc::server_error, "Too many calls in progress")));

        auto c = std::make_shared<call>(io_, sess.next_stream++, id, field(field(params, "_meta"), "progressToken"),
                                        n.get<int>());
        sess.calls.emplace(c->stream, c);
        // This request's stream reads the call's channel from its start; the head goes out
        // (with the session id, as the SDK's servers send it) when this handler returns.
        s->header("Mcp-Session-Id", std::string(*s->request().header("Mcp-Session-Id")));
        c->messages.subscribe(s, "");
        c->readers.push_back(s);
        schedule(c);
    }

    // Forgets the oldest finished calls beyond `kept_calls`; false if all of them still run.
    static bool make_room(session& sess)
    {
        for (auto it = sess.calls.begin(); sess.calls.size() >= kept_calls && it != sess.calls.end();)
            it = it->second->finished ? sess.calls.erase(it) : std::next(it);
        return sess.calls.size() < kept_calls;
    }

    // One step of the tool every interval. The tool runs on its own timer, not the stream's:
    // a lost connection is no cancellation (the spec says so), and the client may come back.
    void schedule(const std::shared_ptr<call>& c)
    {
        c->timer.expires_after(cfg_.interval);
        c->timer.async_wait([this, c](std::error_code ec) {
            if (!ec) step(c);
        });
    }

    void step(const std::shared_ptr<call>& cp)
    {
        std::lock_guard<std::mutex> lock(mu_);
        call& c = *cp;
        if (c.finished) return;
        ++c.counted;
        if (!c.progress_token.is_null())
            send(c, rpc::notification("notifications/progress",
                                      {{"progressToken", c.progress_token},
                                       {"progress", c.counted},
                                       {"total", c.n},
                                       {"message", "counted " + std::to_string(c.counted) + " of " + std::to_string(c.n)}}));
        if (c.counted < c.n) return schedule(cp);
        const json answer = {{"content", json::array({{{"type", "text"}, {"text", "Counted to " + std::to_string(c.n) + "."}}})}};
        send(c, rpc::result(c.request_id, answer));
        finish(c);
    }

    // Publishes `message` on the call's channel, as an event with the next id.
    void send(call& c, const json& message)
    {
        c.last_id = std::to_string(c.stream) + "-" + std::to_string(++c.events);
        c.messages.publish(sse::event(dump(message)).id(c.last_id));
        // --drop-after: the POST's own stream breaks off here, once; the call goes on.
        if (c.events == cfg_.drop_after && !c.readers.empty())
            if (auto first = c.readers.front().lock()) first->close();
    }

    // No more events: every stream still reading the call ends (after what is queued).
    static void finish(call& c)
    {
        c.finished = true;
        c.timer.cancel();
        for (auto& w : c.readers)
            if (auto s = w.lock()) s->close();
        c.readers.clear();
    }

    // notifications/cancelled: the client gave up on a request; it gets no answer.
    static void cancel(session& sess, const json& request_id)
    {
        for (auto& [n, c] : sess.calls)
            if (!c->finished && c->request_id == request_id) finish(*c);
    }

    // ---- GET: the session's stream, or the rest of a tools/call stream -------------------------

    void on_get(const sse::stream_ptr& s)
    {
        if (!s->request().accepts_event_stream())
            return s->respond(refusal(406, rpc::server_error, "Not Acceptable: accept text/event-stream"));
        const auto found = session_of(s);
        if (!found) return;
        session& sess = *found;
        s->header("Mcp-Session-Id", std::string(*s->request().header("Mcp-Session-Id")));

        // Resumption: the id names the stream ("<stream>-<n>"); its channel replays what came
        // after it, then goes on live. A stream that has finished closes after the replay.
        if (const std::string last = s->request().last_event_id(); !last.empty()) {
            const auto it = sess.calls.find(stream_of(last));
            if (it == sess.calls.end())
                return s->respond(refusal(400, rpc::server_error, "Bad Request: unknown or expired Last-Event-ID"));
            call& c = *it->second;
            // A call that ended without an answer for this client (it cancelled): nothing more
            // will come, and 204 tells the SDK to stop reconnecting (any stream that ends
            // without the answer would bring it back).
            if (c.finished && last == c.last_id) return s->respond(sse::response(204));
            c.messages.subscribe(s, last);
            if (c.finished)
                s->close();
            else
                c.readers.push_back(s);
            return;
        }

        // The server-to-client stream: this server has nothing to say unasked, so it carries only
        // the library's heartbeats, until the client or the session goes. One per session.
        if (auto open = sess.listener.lock(); open && open->is_open())
            return s->respond(refusal(409, rpc::server_error, "Conflict: Only one SSE stream is allowed per session"));
        sess.listener = s;
    }

    // The stream number of an event id "<stream>-<n>" (0, which no stream has, if malformed).
    static std::uint64_t stream_of(std::string_view id)
    {
        const auto dash = id.find('-');
        std::uint64_t n = 0;
        if (dash == 0 || dash == id.npos || dash > 18) return 0;
        for (char c : id.substr(0, dash)) {
            if (c < '0' || c > '9') return 0;
            n = n * 10 + static_cast<std::uint64_t>(c - '0');
        }
        return n;
    }

    // ---- DELETE: the client ends its session ---------------------------------------------------

    void on_delete(const sse::stream_ptr& s)
    {
        const auto found = session_of(s);
        if (!found) return;
        for (auto& [n, c] : found->calls) finish(*c);
        if (auto listener = found->listener.lock()) listener->close();
        sessions_.erase(std::string(*s->request().header("Mcp-Session-Id")));
        s->respond(sse::response(200));
    }

    asio::io_context& io_;
    const settings cfg_;
    std::mutex mu_; // guards everything below, and every session and call in it
    std::map<std::string, std::shared_ptr<session>, std::less<>> sessions_;
};

} // namespace

int main(int argc, char** argv)
{
    const settings cfg = parse(argc, argv);
    asio::io_context io;
    sse::server server(io);
    mcp_server mcp(io, cfg);

    sse::route_options mcp_route;
    mcp_route.methods = {"GET", "POST", "DELETE"};
    if (!cfg.allowed_origins.empty()) { // let pages from those origins in (CORS), and read the session id
        sse::cors_policy cors;
        cors.origins = cfg.allowed_origins;
        cors.headers = {"Content-Type", "Mcp-Session-Id", "MCP-Protocol-Version"};
        cors.expose = {"Mcp-Session-Id"};
        mcp_route.cors = cors;
    }
    server.on_stream("/mcp", [&mcp](sse::stream_ptr s) { mcp.handle(s); }, mcp_route);

    try {
        server.listen(cfg.address, cfg.port);
    } catch (const std::exception& e) {
        std::cerr << "sse-mcp-server: cannot listen on " << cfg.address << ":" << cfg.port << ": " << e.what() << "\n";
        return 1;
    }
    server.start();

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) {
        mcp.stop();
        server.stop();
    });

    std::cout << "sse-mcp-server: MCP endpoint http://localhost:" << server.local_endpoint().port() << "/mcp (Ctrl-C stops)"
              << std::endl;
    io.run();
    return 0;
}
