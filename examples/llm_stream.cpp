// An OpenAI-compatible chat endpoint with a fake model, for the `openai` SDKs, LangChain, curl or
// any `fetch` client: `POST /v1/chat/completions` with `Authorization: Bearer <key>` and a JSON
// body {model, messages, stream}. The "model" echoes the last user message, word by word.
//   "stream": true  → a `text/event-stream` of `chat.completion.chunk` events, then `data: [DONE]`
//   "stream": false → one `chat.completion` JSON answer
// Tokens come from a generator on a worker thread, which sends each one only once the previous
// one is written (backpressure) and stops as soon as the client goes away. GET /stats shows
// what the generators did.
//
//   sse-llm-stream [--port 3002] [--address 127.0.0.1] [--api-key sk-test] [--token-ms 50]
//                  [--slots 4] [--cors-origin https://app.example]
//
//   curl -N localhost:3002/v1/chat/completions -H 'Authorization: Bearer sk-test' -d '{"stream": true, "messages": [{"role": "user", "content": "Hi there"}]}'
#include <sse/sse.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_future.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

using json = nlohmann::ordered_json; // keeps the keys in OpenAI's order

namespace {

struct settings {
    std::string address = "127.0.0.1";
    unsigned short port = 3002;
    std::string api_key = "sk-test";
    std::chrono::milliseconds token_time{50};
    int slots = 4;
    std::string cors_origin;
};

settings parse(int argc, char** argv)
{
    settings s;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--port" && has_value) s.port = static_cast<unsigned short>(std::stoi(argv[++i]));
        else if (arg == "--address" && has_value) s.address = argv[++i];
        else if (arg == "--api-key" && has_value) s.api_key = argv[++i];
        else if (arg == "--token-ms" && has_value) s.token_time = std::chrono::milliseconds(std::stoi(argv[++i]));
        else if (arg == "--slots" && has_value) s.slots = std::max(1, std::stoi(argv[++i]));
        else if (arg == "--cors-origin" && has_value) s.cors_origin = argv[++i];
        else {
            std::cerr << "usage: sse-llm-stream [--port 3002] [--address 127.0.0.1] [--api-key sk-test] "
                         "[--token-ms 50] [--slots 4] [--cors-origin ORIGIN]\n";
            std::exit(arg == "--help" ? 0 : 2);
        }
    }
    return s;
}

/// An error answer in OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
sse::response api_error(int status, const std::string& message, const char* type, const char* code = nullptr)
{
    const json body = {{"error", {{"message", message}, {"type", type}, {"param", nullptr},
                                  {"code", code ? json(code) : json(nullptr)}}}};
    return sse::response(status, body.dump(), "application/json");
}

/// One request to the model: the words it will answer with, streamed or not.
struct completion {
    std::string id, model;
    std::time_t created = std::time(nullptr);
    bool stream = false;
    std::vector<std::string> words;
};

/// A message's text: a string, or OpenAI's array of content parts.
std::string text_of(const json& content)
{
    if (content.is_string()) return content.get<std::string>();
    std::string text;
    for (const auto& part : content)
        if (part.at("type") == "text") text += part.at("text").get<std::string>();
    return text;
}

/// Reads the request body; throws json::exception when it is not JSON or lacks `messages`.
completion read_request(const std::string& body)
{
    static std::atomic<long> next_id{0};
    const json request = json::parse(body);
    completion c;
    c.id = "chatcmpl-" + std::to_string(++next_id);
    c.model = request.value("model", "echo");
    c.stream = request.value("stream", false);
    std::string last_user_message;
    for (const json& m : request.at("messages").get<std::vector<json>>())
        if (m.at("role") == "user") last_user_message = text_of(m.at("content"));
    std::istringstream words(last_user_message);
    for (std::string w; words >> w;) c.words.push_back(w);
    return c;
}

/// One event of the stream: a `chat.completion.chunk` carrying `delta`.
sse::event chunk(const completion& c, json delta, json finish_reason = nullptr)
{
    const json choice = {{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish_reason)}};
    const json j = {{"id", c.id}, {"object", "chat.completion.chunk"}, {"created", c.created},
                    {"model", c.model}, {"choices", json::array({choice})}};
    return sse::event(j.dump());
}

/// The non-streaming answer: one `chat.completion`.
json answer(const completion& c)
{
    std::string content;
    for (const auto& w : c.words) content += (content.empty() ? "" : " ") + w;
    const json choice = {{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}, {"finish_reason", "stop"}};
    return {{"id", c.id}, {"object", "chat.completion"}, {"created", c.created}, {"model", c.model},
            {"choices", json::array({choice})}};
}

/// What GET /stats reports: how many generators started, finished and were cancelled, and the
/// last runs (id, tokens sent, tokens meant, state).
class ledger {
public:
    struct run {
        std::string id;
        std::size_t tokens = 0, of = 0;
        const char* state = "running";
    };

    std::shared_ptr<run> begin(const completion& c)
    {
        std::lock_guard<std::mutex> lock(mu_);
        ++started_;
        runs_.push_back(std::make_shared<run>(run{c.id, 0, c.words.size()}));
        if (runs_.size() > 100) runs_.pop_front();
        return runs_.back();
    }
    void token(run& r)
    {
        std::lock_guard<std::mutex> lock(mu_);
        ++r.tokens;
    }
    void end(run& r, bool cancelled)
    {
        std::lock_guard<std::mutex> lock(mu_);
        r.state = cancelled ? "cancelled" : "finished";
        ++(cancelled ? cancelled_ : finished_);
    }
    json report() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        json runs = json::array();
        for (const auto& r : runs_) runs.push_back({{"id", r->id}, {"tokens", r->tokens}, {"of", r->of}, {"state", r->state}});
        return {{"started", started_}, {"finished", finished_}, {"cancelled", cancelled_},
                {"running", started_ - finished_ - cancelled_}, {"runs", runs}};
    }

private:
    mutable std::mutex mu_;
    std::size_t started_ = 0, finished_ = 0, cancelled_ = 0;
    std::deque<std::shared_ptr<run>> runs_;
};

/// The fake model, on a worker thread: a first chunk with the role, one chunk per word, a last
/// one with finish_reason "stop", then [DONE] and the end of the stream. Each send waits until
/// the event is written (so a slow reader slows the model instead of filling memory); once the
/// client has gone (or the server stops), the wait throws and the generator stops there.
void generate(const sse::stream_ptr& s, const completion& c, std::chrono::milliseconds token_time, ledger& book)
{
    const auto run = book.begin(c);
    const auto send = [&](sse::event e) { s->async_send(std::move(e), asio::use_future).get(); };
    try {
        send(chunk(c, {{"role", "assistant"}, {"content", ""}}));
        for (std::size_t i = 0; i < c.words.size(); ++i) {
            std::this_thread::sleep_for(token_time); // "inference"
            send(chunk(c, {{"content", (i ? " " : "") + c.words[i]}}));
            book.token(*run);
        }
        send(chunk(c, json::object(), "stop"));
        send(sse::event("[DONE]"));
        s->close();
        book.end(*run, false);
    } catch (const asio::system_error&) { // sse::error::stream_closed: the client left (std:: or boost::system_error)
        book.end(*run, true);
    }
}

} // namespace

int main(int argc, char** argv)
{
    const settings cfg = parse(argc, argv);
    asio::io_context io;
    sse::server server(io);
    asio::thread_pool model(static_cast<std::size_t>(cfg.slots)); // answers this many at once; more wait
    ledger book;

    sse::route_options chat;
    chat.methods = {"POST"};
    chat.authorize = [bearer = "Bearer " + cfg.api_key](const sse::request& r, sse::authorization done) {
        if (r.header("Authorization") == bearer)
            done.allow();
        else
            done.deny(api_error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"));
    };
    if (!cfg.cors_origin.empty()) {
        chat.cors.emplace();
        chat.cors->origins = {cfg.cors_origin};
        chat.cors->headers = {"Authorization", "Content-Type"};
    }

    server.on_stream(
        "/v1/chat/completions",
        [&](sse::stream_ptr s) {
            completion c;
            try {
                c = read_request(s->request().body());
            } catch (const json::exception& e) {
                return s->respond(api_error(400, std::string("Invalid request: ") + e.what(), "invalid_request_error"));
            }
            if (!c.stream) return s->respond(sse::response(200, answer(c).dump(), "application/json"));
            // The stream opens when this handler returns; the generator runs on the pool, and
            // keeps io.run() from returning (work guard) until it is done.
            asio::post(model, [s, c = std::move(c), &book, t = cfg.token_time, work = asio::make_work_guard(io)] {
                generate(s, c, t, book);
            });
        },
        chat);
    server.on_request("/stats", [&book](const sse::request&) {
        return sse::response(200, book.report().dump(), "application/json");
    });

    try {
        server.listen(cfg.address, cfg.port);
    } catch (const std::exception& e) {
        std::cerr << "sse-llm-stream: cannot listen on " << cfg.address << ":" << cfg.port << ": " << e.what() << "\n";
        return 1;
    }
    server.start();

    // SIGINT/SIGTERM: stop() closes the streams, so every generator's next send fails and it ends.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) { server.stop(); });

    std::cout << "sse-llm-stream: POST http://localhost:" << server.local_endpoint().port()
              << "/v1/chat/completions (Ctrl-C stops)" << std::endl;
    io.run();    // returns once the server has stopped and every generator has ended
    model.join();
    return 0;
}
