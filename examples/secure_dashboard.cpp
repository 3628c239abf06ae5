// A live metrics dashboard over HTTPS: `GET /` answers the page; `/metrics` is an event stream
// for holders of the token (a `?token=` query parameter, or the `session` cookie that
// `/login?token=` sets), open to one named cross-origin page (CORS with credentials); a channel
// publishes the server's counters every interval. SIGHUP reloads the certificate files.
//
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30
//     -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1
//     -keyout key.pem -out cert.pem                  (one command: a self-signed certificate)
//   sse-secure-dashboard --cert cert.pem --key key.pem --token s3cret
//   open https://localhost:8443/login?token=s3cret   (or curl -k -N 'https://localhost:8443/metrics?token=s3cret')
#include <sse/sse.hpp>
#include <sse/tls.hpp>

#include <asio/signal_set.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>

namespace {

const char* const page = R"html(<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>asio-sse secure dashboard</title>
<style>body { font: 16px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 40rem; }
td { padding: .2rem 1rem; } td:last-child { text-align: right; font-variant-numeric: tabular-nums; }</style>
</head>
<body>
<h1>Server metrics</h1>
<p>Stream: <b id="state">connecting…</b></p>
<table id="metrics"></table>
<script>
  // the session cookie set by /login goes along; a ?token= in this page's URL works too
  const source = new EventSource('/metrics' + location.search);
  const state = document.getElementById('state');
  source.onopen = () => { state.textContent = 'open'; };
  source.onerror = () => { state.textContent = 'closed (not logged in?) or reconnecting…'; };
  source.addEventListener('metrics', (e) => {
    const rows = Object.entries(JSON.parse(e.data)).map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`);
    document.getElementById('metrics').innerHTML = rows.join('');
  });
</script>
</body>
</html>
)html";

struct settings {
    std::string address = "127.0.0.1";
    unsigned short port = 8443;
    std::string cert, key, token;
    std::string origin = "https://dashboard.example";
    int interval_ms = 1000;
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
        } else if (arg == "--cert" && has_value) {
            s.cert = argv[++i];
        } else if (arg == "--key" && has_value) {
            s.key = argv[++i];
        } else if (arg == "--token" && has_value) {
            s.token = argv[++i];
        } else if (arg == "--origin" && has_value) {
            s.origin = argv[++i];
        } else if (arg == "--interval-ms" && has_value) {
            s.interval_ms = std::stoi(argv[++i]);
        } else {
            s.cert.clear(); // prints the usage below
            break;
        }
    }
    if (s.cert.empty() || s.key.empty() || s.token.empty()) {
        std::cerr << "usage: sse-secure-dashboard --cert cert.pem --key key.pem --token TOKEN\n"
                     "         [--port 8443] [--address 127.0.0.1] [--origin https://dashboard.example]"
                     " [--interval-ms 1000]\n"
                     "a self-signed certificate for localhost:\n"
                     "  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \\\n"
                     "    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \\\n"
                     "    -keyout key.pem -out cert.pem\n";
        std::exit(2);
    }
    return s;
}

// Compares in time independent of where the strings differ.
bool same_secret(std::string_view a, std::string_view b)
{
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

std::string metrics_json(const sse::stats& st, std::size_t viewers)
{
    const auto field = [](const char* name, std::uint64_t v) { return "\"" + std::string(name) + "\":" + std::to_string(v); };
    return "{" + field("viewers", viewers) + "," + field("connections_open", st.connections_open) + "," +
           field("connections_total", st.connections_total) + "," + field("events_sent", st.events_sent) + "," +
           field("bytes_sent", st.bytes_sent) + "," + field("requests_rejected", st.requests_rejected) + "," +
           field("authorization_denied", st.authorization_denied) + "," +
           field("tls_handshake_failures", st.tls_handshake_failures) + "," +
           field("client_limit_refusals", st.client_limit_refusals + st.client_rate_refusals) + "}";
}

} // namespace

int main(int argc, char** argv)
{
    const settings cfg = parse(argc, argv);
    asio::io_context io;
    std::shared_ptr<asio::ssl::context> tls;
    try {
        tls = sse::make_tls_context(cfg.cert, cfg.key);
    } catch (const std::exception& e) {
        std::cerr << "sse-secure-dashboard: cannot load " << cfg.cert << " / " << cfg.key << ": " << e.what() << "\n";
        return 1;
    }
    sse::tls_server server(io, tls);
    sse::channel metrics(sse::channel_options{true, 60, 64 * 1024, {}, sse::missed_policy::live_only, {}, {}});

    server.on_request("/", [](const sse::request&) { return sse::response(200, page, "text/html; charset=utf-8"); });
    server.on_request("/login", [&cfg](const sse::request& r) {
        const auto token = r.query_param("token");
        if (!token || !same_secret(*token, cfg.token)) return sse::response(403, "wrong token\n");
        // response::header refuses CR/LF, so the cookie cannot inject headers
        return sse::response(302)
            .header("Set-Cookie", "session=" + cfg.token + "; Path=/; Secure; HttpOnly; SameSite=Strict")
            .header("Location", "/");
    });

    sse::route_options ro;
    ro.cors = sse::cors_policy{{cfg.origin}, true, {}, std::chrono::seconds(600), {}};
    ro.authorize = [&cfg](const sse::request& r, sse::authorization done) {
        std::string presented;
        if (auto q = r.query_param("token"))
            presented = *q;
        else if (auto c = r.cookie("session"))
            presented = std::string(*c);
        if (same_secret(presented, cfg.token))
            done.allow(std::string("viewer"));
        else
            done.deny(sse::response(401, "a token is needed: ?token= or log in at /login?token=\n"));
    };
    server.on_stream("/metrics", [&metrics](sse::stream_ptr s) { metrics.subscribe(s); }, ro);

    try {
        server.listen(cfg.address, cfg.port);
    } catch (const std::exception& e) {
        std::cerr << "sse-secure-dashboard: cannot listen on " << cfg.address << ":" << cfg.port << ": " << e.what()
                  << "\n";
        return 1;
    }
    server.start();

    // Set by SIGINT/SIGTERM. The loops below check it: a wait that has already expired
    // completes with success even after cancel(). One thread runs the io_context.
    bool stopped = false;

    // the metrics publisher
    asio::steady_timer tick(io);
    std::function<void()> publish = [&] {
        tick.expires_after(std::chrono::milliseconds(cfg.interval_ms));
        tick.async_wait([&](std::error_code ec) {
            if (ec || stopped) return;
            metrics.publish(sse::event(metrics_json(server.stats(), metrics.size())).type("metrics"));
            publish();
        });
    };
    publish();

    // SIGHUP: load the certificate files again; new connections use them, open ones go on
    asio::signal_set reload(io, SIGHUP);
    std::function<void()> on_reload = [&] {
        reload.async_wait([&](std::error_code ec, int) {
            if (ec || stopped) return;
            try {
                server.set_context(sse::make_tls_context(cfg.cert, cfg.key));
                std::cout << "sse-secure-dashboard: certificate reloaded" << std::endl;
            } catch (const std::exception& e) {
                std::cerr << "sse-secure-dashboard: reload failed, keeping the old certificate: " << e.what() << "\n";
            }
            on_reload();
        });
    };
    on_reload();

    asio::signal_set stop_signals(io, SIGINT, SIGTERM);
    stop_signals.async_wait([&](std::error_code, int) {
        stopped = true;
        tick.cancel();
        reload.cancel();
        server.stop();
    });

    std::cout << "sse-secure-dashboard: open https://localhost:" << server.local_endpoint().port()
              << "/login?token=... (Ctrl-C stops)" << std::endl;
    io.run();
    return 0;
}
