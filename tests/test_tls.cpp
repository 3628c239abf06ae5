// sse::tls_server over real TLS on loopback: a throwaway CA and server certificates are made
// with the openssl CLI; clients are an Asio SSL client verifying against that CA, and curl.
#include "support/catch.hpp"
#include "support/client.hpp"
#include "support/server_fixture.hpp"

#include <sse/channel.hpp>
#include <sse/tls.hpp>

#include <asio/connect.hpp>
#include <asio/read_until.hpp>
#include <asio/ssl/host_name_verification.hpp>

#include <openssl/err.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

namespace {

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

/// A CA and two server certificates (for localhost and 127.0.0.1), made once per run.
struct pki {
    std::string dir;

    static const pki& get()
    {
        static const pki p;
        return p;
    }

    std::string ca() const { return dir + "/ca.crt"; }
    std::string cert(int n) const { return dir + "/server" + std::to_string(n) + ".crt"; }
    std::string key(int n) const { return dir + "/server" + std::to_string(n) + ".key"; }

private:
    pki()
    {
        char tmpl[] = "/tmp/asio-sse-tls-XXXXXX";
        if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
        dir = tmpl;
        const std::string openssl = ASIO_SSE_TEST_OPENSSL;
        const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        std::ofstream(dir + "/ext.cnf") << "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                           "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n";
        run(openssl + " req -x509" + ec + " -keyout " + dir + "/ca.key -out " + ca() +
            " -days 2 -subj '/CN=asio-sse test CA' -addext basicConstraints=critical,CA:TRUE"
            " -addext keyUsage=critical,keyCertSign,cRLSign");
        for (int n = 1; n <= 2; ++n) {
            const std::string csr = dir + "/server" + std::to_string(n) + ".csr";
            run(openssl + " req" + ec + " -keyout " + key(n) + " -out " + csr + " -subj '/CN=server-" +
                std::to_string(n) + "'");
            run(openssl + " x509 -req -in " + csr + " -CA " + ca() + " -CAkey " + dir + "/ca.key -set_serial " +
                std::to_string(n + 100) + " -days 2 -extfile " + dir + "/ext.cnf -out " + cert(n));
        }
    }
    ~pki() { sh("rm -rf '" + dir + "'"); }

    static void run(const std::string& cmd)
    {
        if (sh(cmd + " >/dev/null 2>&1") != 0) throw std::runtime_error("failed: " + cmd);
    }
};

using tls_fixture = test::basic_server_fixture<sse::tls_server>;

std::shared_ptr<asio::ssl::context> server_context(int n = 1)
{
    return sse::make_tls_context(pki::get().cert(n), pki::get().key(n));
}

/// What a `tls_client` offers: at most `max_version` (0: any), TLS 1.3 suites `suites` (null: OpenSSL's).
struct offer {
    int max_version = 0;
    const char* suites = nullptr;
};

/// A TLS client on its own io_context; every operation is bounded by `limit`.
class tls_client {
public:
    explicit tls_client(unsigned short port, std::chrono::milliseconds limit = 5s, offer o = {}) : limit_(limit)
    {
        SSL* ssl = s_.native_handle();
        if (o.max_version) SSL_set_max_proto_version(ssl, o.max_version);
        if (o.suites) SSL_set_ciphersuites(ssl, o.suites);
        SSL_set_msg_callback(ssl, &count_key_updates);
        SSL_set_msg_callback_arg(ssl, &key_updates);
        s_.set_verify_mode(asio::ssl::verify_peer);
        s_.set_verify_callback([this](bool preverified, asio::ssl::verify_context& v) {
            char name[256];
            X509_NAME_oneline(X509_get_subject_name(X509_STORE_CTX_get_current_cert(v.native_handle())), name,
                              sizeof name);
            subject = name; // the leaf comes last
            return asio::ssl::host_name_verification("localhost")(preverified, v);
        });
        const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
        check(await([&](auto h) { s_.lowest_layer().async_connect(ep, h); }), "connect");
    }

    std::error_code handshake()
    {
        return await([&](auto h) { s_.async_handshake(asio::ssl::stream_base::client, h); });
    }

    void write(const std::string& bytes)
    {
        check(await([&](auto h) { asio::async_write(s_, asio::buffer(bytes), h); }), "write");
    }

    std::string read_until(const std::string& delim)
    {
        check(await([&](auto h) { asio::async_read_until(s_, asio::dynamic_buffer(buf_), delim, h); }), "read");
        const auto end = buf_.find(delim) + delim.size();
        std::string out = buf_.substr(0, end);
        buf_.erase(0, end);
        return out;
    }

    /// Asks the server for a KeyUpdate (TLS 1.3; it goes with the next write).
    bool ask_key_update() { return SSL_key_update(s_.native_handle(), SSL_KEY_UPDATE_REQUESTED) == 1; }

    /// The protocol version and cipher suite (IANA number) the handshake chose.
    int version() { return SSL_version(s_.native_handle()); }
    unsigned suite() { return SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(s_.native_handle())); }

    std::string subject;
    int key_updates = 0; ///< KeyUpdate messages received

private:
    static void count_key_updates(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*, void* arg)
    {
        if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
            static_cast<const unsigned char*>(buf)[0] == SSL3_MT_KEY_UPDATE)
            ++*static_cast<int*>(arg);
    }

    template <class Start>
    std::error_code await(Start start)
    {
        std::optional<std::error_code> result;
        start([&result](std::error_code ec, auto&&...) { result = ec; });
        io_.restart();
        while (!result && io_.run_one_for(limit_) != 0) {
        }
        if (!result) throw std::runtime_error("tls_client: timed out");
        return *result;
    }

    static asio::ssl::context trusting_context()
    {
        asio::ssl::context c(asio::ssl::context::tls_client);
        c.load_verify_file(pki::get().ca());
        return c;
    }

    static void check(std::error_code ec, const char* what)
    {
        if (ec) throw std::runtime_error(std::string("tls_client: ") + what + ": " + ec.message());
    }

    std::chrono::milliseconds limit_;
    asio::io_context io_;
    asio::ssl::context ctx_ = trusting_context();
    asio::ssl::stream<asio::ip::tcp::socket> s_{io_, ctx_};
    std::string buf_;
};

void hello_route(tls_fixture& f)
{
    f.srv.on_stream("/events", [](sse::stream_ptr s) {
        s->send(sse::event("secret").id("1"));
        if (s->request().query_param("once")) s->close();
    });
    f.srv.on_request("/page", [](const sse::request&) { return sse::response(200, "over https\n"); });
}

} // namespace

TEST_CASE("tls: an Asio SSL client verifies the certificate and reads the stream", "[tls]")
{
    tls_fixture f({}, server_context());
    hello_route(f);
    f.run();
    tls_client c(f.port());
    REQUIRE(c.handshake() == std::error_code());
    CHECK(c.subject == "/CN=server-1");
    c.write("GET /events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n");
    const auto head = c.read_until("\r\n\r\n");
    CHECK(test::client::status(head) == 200);
    CHECK(head.find("Content-Type: text/event-stream; charset=utf-8\r\n") != std::string::npos);
    CHECK(c.read_until("\n\n") == "id: 1\ndata: secret\n\n");
    CHECK(f.srv.stats().streams_open == 1);
    CHECK(f.srv.stats().tls_handshake_failures == 0);
}

TEST_CASE("tls: curl reads a stream and a page with --cacert", "[tls]")
{
    const std::string curl = ASIO_SSE_TEST_CURL;
    if (curl.empty()) {
        WARN("curl not installed: skipped");
        return;
    }
    tls_fixture f({}, server_context());
    hello_route(f);
    f.run();
    auto fetch = [&](const std::string& path) {
        const std::string cmd = curl + " -sS -N --max-time 10 --cacert " + pki::get().ca() + " https://localhost:" +
                                std::to_string(f.port()) + path + " 2>&1";
        std::string out;
        FILE* p = ::popen(cmd.c_str(), "r");
        REQUIRE(p != nullptr);
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
        CHECK(::pclose(p) == 0);
        return out;
    };
    CHECK(fetch("/page") == "over https\n");
    CHECK(fetch("/events?once=1") == "id: 1\ndata: secret\n\n");
}

TEST_CASE("tls: events larger than a record, and more than the socket takes at once, arrive whole, a client that "
          "leaves closes its stream",
          "[tls]")
{
    sse::server_options o;
    o.max_queue_bytes = 8 * 1024 * 1024;
    tls_fixture f(o, server_context());
    test::signal closed;
    const std::string big(100 * 1024, 'b'); // about six records
    f.srv.on_stream("/events", [&](sse::stream_ptr s) {
        s->on_close([&](std::error_code) { closed.set(); });
        // all queued before the client reads a byte: the writes wait for the socket (2+ MB)
        for (int i = 0; i < 200; ++i) s->send(sse::event(std::to_string(i) + std::string(10 * 1024, 'x')));
        s->send(sse::event(big).id("last"));
    });
    f.run();
    {
        tls_client c(f.port());
        REQUIRE(c.handshake() == std::error_code());
        c.write("GET /events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n");
        REQUIRE(test::client::status(c.read_until("\r\n\r\n")) == 200);
        for (int i = 0; i < 200; ++i) {
            const std::string e = c.read_until("\n\n");
            INFO("event " << i);
            REQUIRE(e == "data: " + std::to_string(i) + std::string(10 * 1024, 'x') + "\n\n");
        }
        CHECK(c.read_until("\n\n") == "id: last\ndata: " + big + "\n\n");
        CHECK(test::eventually([&] { return f.srv.stats().events_sent == 201; }));
    } // the client goes without a word (no close_notify)
    CHECK(closed.wait(5s));
    CHECK(test::eventually([&] { return f.srv.stats().streams_open == 0; }));
}

TEST_CASE("tls: plain HTTP on the TLS port is closed and counted", "[tls]")
{
    tls_fixture f({}, server_context());
    hello_route(f);
    f.run();
    test::client c(f.port());
    c.send("GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n");
    CHECK(c.closed_within(3s));
    CHECK(f.srv.stats().tls_handshake_failures == 1);

    tls_client ok(f.port()); // the server goes on
    CHECK(ok.handshake() == std::error_code());
}

TEST_CASE("tls: a handshake that never completes is closed at the handshake timeout", "[tls]")
{
    sse::server_options o;
    o.handshake_timeout = 300ms;
    tls_fixture f(o, server_context());
    hello_route(f);
    f.run();
    const auto start = std::chrono::steady_clock::now();
    test::client silent(f.port());
    CHECK(silent.closed_within(5s));
    CHECK(std::chrono::steady_clock::now() - start >= 250ms);
    CHECK(f.srv.stats().tls_handshake_failures == 1);
}

TEST_CASE("tls: a client that does not trust the certificate fails, and the server counts it", "[tls]")
{
    tls_fixture f({}, server_context());
    hello_route(f);
    f.run();
    asio::io_context io;
    asio::ssl::context untrusting(asio::ssl::context::tls_client);
    untrusting.set_verify_mode(asio::ssl::verify_peer); // no CA loaded
    asio::ssl::stream<asio::ip::tcp::socket> s(io, untrusting);
    s.lowest_layer().connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), f.port()));
    sse::detail::asio_error_code ec; // on Boost.Asio, boost::system::error_code
    s.handshake(asio::ssl::stream_base::client, ec); // the server answers at once: no hang
    CHECK(ec);
    s.lowest_layer().close();
    // the server sees the client's alert or close as a failed handshake
    for (int i = 0; i < 300 && f.srv.stats().tls_handshake_failures == 0; ++i)
        std::this_thread::sleep_for(10ms); // polling a counter with a bound, not synchronising
    CHECK(f.srv.stats().tls_handshake_failures == 1);
}

TEST_CASE("tls: set_context swaps the certificate for new connections, open ones go on", "[tls]")
{
    tls_fixture f({}, server_context(1));
    hello_route(f);
    f.run();
    tls_client before(f.port());
    REQUIRE(before.handshake() == std::error_code());
    CHECK(before.subject == "/CN=server-1");
    before.write("GET /events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n");
    before.read_until("\r\n\r\n");

    f.srv.set_context(server_context(2));
    tls_client after(f.port());
    REQUIRE(after.handshake() == std::error_code());
    CHECK(after.subject == "/CN=server-2");

    // the first stream, made with the old context, still works
    CHECK(before.read_until("\n\n") == "id: 1\ndata: secret\n\n");
    CHECK_THROWS_AS(f.srv.set_context(nullptr), std::invalid_argument);
    CHECK_THROWS_AS(sse::tls_server(f.io, nullptr), std::invalid_argument);
}

TEST_CASE("tls: make_tls_context refuses TLS 1.1 and a key that does not match", "[tls]")
{
    CHECK_THROWS_AS(sse::make_tls_context(pki::get().cert(1), pki::get().key(2)), std::system_error);
    auto ctx = server_context();
    CHECK((SSL_CTX_get_options(ctx->native_handle()) & SSL_OP_NO_TLSv1_1) != 0);
    tls_fixture f({}, ctx);
    hello_route(f);
    f.run();
    // A client that would speak TLS 1.1 (OpenSSL 3 refuses it below security level 0, so the
    // level is lowered: the refusal must come from the server).
    asio::io_context io;
    asio::ssl::context old(asio::ssl::context::tlsv11_client);
    SSL_CTX_set_security_level(old.native_handle(), 0);
    asio::ssl::stream<asio::ip::tcp::socket> s(io, old);
    s.lowest_layer().connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), f.port()));
    sse::detail::asio_error_code ec;
    s.handshake(asio::ssl::stream_base::client, ec);
    CHECK(ec);
}

TEST_CASE("tls: over TLS 1.3 a stream lets OpenSSL's session go and seals its own records, for each cipher suite, "
          "while over TLS 1.2 OpenSSL goes on",
          "[tls]")
{
    sse::server_options o;
    o.max_queue_bytes = 1 << 20;
    tls_fixture f(o, server_context());
    sse::channel ch;
    std::atomic<int> subscribed{0};
    f.srv.on_stream("/events", [&](sse::stream_ptr s) {
        ch.subscribe(s);
        ++subscribed;
    });
    f.run();
    const std::string big(70 * 1024, 'b'); // five records in one write
    struct row {
        offer o;
        int version;
        unsigned suite;
        int key_updates;
    };
    const row rows[] = {
        {{0, "TLS_AES_128_GCM_SHA256"}, TLS1_3_VERSION, 0x1301, 2},
        {{0, "TLS_AES_256_GCM_SHA384"}, TLS1_3_VERSION, 0x1302, 2},
        {{0, "TLS_CHACHA20_POLY1305_SHA256"}, TLS1_3_VERSION, 0x1303, 2},
        {{TLS1_2_VERSION, nullptr}, TLS1_2_VERSION, 0, 0},
    };
    for (const row& r : rows) {
        INFO("suite " << (r.o.suites ? r.o.suites : "TLS 1.2"));
        tls_client c(f.port(), 5s, r.o);
        REQUIRE_FALSE(c.handshake()); // (over TLS 1.2 Asio says success in its own category)
        REQUIRE(c.version() == r.version);
        if (r.suite) CHECK(c.suite() == r.suite);
        const int before = subscribed;
        c.write("GET /events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n");
        REQUIRE(test::client::status(c.read_until("\r\n\r\n")) == 200);
        REQUIRE(subscribed == before + 1);
        auto data = [&c] { // the next event's data (the channel numbers its events)
            std::string e = c.read_until("\n\n");
            if (e.rfind("id: ", 0) == 0) e.erase(0, e.find('\n') + 1);
            return e;
        };
        ch.publish(sse::event("one"));
        CHECK(data() == "data: one\n\n");
        // what the client sends on a stream means nothing, whether or not the server can read
        // it; a KeyUpdate asking for the server's gets one before the next event (RFC 8446 4.6.3)
        if (r.version == TLS1_3_VERSION) REQUIRE(c.ask_key_update());
        c.write("GET /other HTTP/1.1\r\n\r\n");
        ch.publish(sse::event(big));
        for (int i = 3; i < 40; ++i) ch.publish(sse::event(std::to_string(i)));
        CHECK(data() == "data: " + big + "\n\n");
        for (int i = 3; i < 40; ++i) REQUIRE(data() == "data: " + std::to_string(i) + "\n\n");
        // (OpenSSL's, then the one asked for: before the first event after the server read the
        // request for it, which it does as its watch runs, so a few more events may come first)
        for (int i = 0; i < 100 && c.key_updates < r.key_updates; ++i) {
            ch.publish(sse::event("more"));
            REQUIRE(data() == "data: more\n\n");
        }
        CHECK(c.key_updates == r.key_updates);
    } // each client goes without a word: its stream ends
    CHECK(test::eventually([&] { return f.srv.stats().streams_open == 0; }));
}

TEST_CASE("tls: records sealed after OpenSSL's KeyUpdate are what OpenSSL's client reads, and a changed byte is "
          "refused (in memory, each TLS 1.3 cipher suite)",
          "[tls]")
{
    for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}) {
        INFO(suite);
        auto sctx = server_context();
        sse::detail::tls13::hook(sctx->native_handle());
        SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
        REQUIRE(cctx);
        SSL* srv = SSL_new(sctx->native_handle());
        SSL* cli = SSL_new(cctx);
        REQUIRE(SSL_set_ciphersuites(cli, suite) == 1);
        BIO *to_srv = BIO_new(BIO_s_mem()), *to_cli = BIO_new(BIO_s_mem());
        BIO *srv_out = BIO_new(BIO_s_mem()), *cli_out = BIO_new(BIO_s_mem());
        SSL_set_bio(srv, to_srv, srv_out);
        SSL_set_bio(cli, to_cli, cli_out);
        SSL_set_accept_state(srv);
        SSL_set_connect_state(cli);
        sse::detail::tls13::secret secret;
        sse::detail::tls13::capture(srv, &secret);
        auto pump = [&] {
            char buf[4096];
            for (auto [from, to] : {std::pair{srv_out, to_cli}, std::pair{cli_out, to_srv}})
                for (int n; (n = BIO_read(from, buf, sizeof buf)) > 0;) BIO_write(to, buf, n);
        };
        int done_s = 0, done_c = 0;
        for (int i = 0; i < 20 && !(done_s == 1 && done_c == 1); ++i) {
            done_c = SSL_do_handshake(cli);
            pump();
            done_s = SSL_do_handshake(srv);
            pump();
        }
        REQUIRE(done_s == 1);
        REQUIRE(done_c == 1);
        REQUIRE(secret.size > 0);
        auto sealer = sse::detail::tls13::sealer::after_key_update(
            static_cast<std::uint16_t>(SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(srv))), secret);
        REQUIRE(sealer);
        REQUIRE(SSL_key_update(srv, SSL_KEY_UPDATE_NOT_REQUESTED) == 1);
        REQUIRE(SSL_do_handshake(srv) == 1);
        pump();

        // three records, the second of a record's most plaintext
        const std::string parts[] = {"hello", std::string(sse::detail::tls13::sealer::max_plaintext, 'x'), "after"};
        std::string wire;
        for (const auto& p : parts) {
            std::string rec(p.size() + sse::detail::tls13::sealer::overhead, '\0');
            std::memcpy(&rec[5], p.data(), p.size());
            REQUIRE(sealer->seal(reinterpret_cast<unsigned char*>(&rec[0]), p.size()));
            wire += rec;
        }
        // then a KeyUpdate of the sealer's own, and a record under the next key
        std::string update(sse::detail::tls13::sealer::key_update_size, '\0');
        REQUIRE(sealer->seal_key_update(reinterpret_cast<unsigned char*>(&update[0])));
        wire += update;
        std::string last(5 + sse::detail::tls13::sealer::overhead, '\0');
        std::memcpy(&last[5], "later", 5);
        REQUIRE(sealer->seal(reinterpret_cast<unsigned char*>(&last[0]), 5));
        wire += last;
        BIO_write(to_cli, wire.data(), static_cast<int>(wire.size()));
        std::string got(parts[0].size() + parts[1].size() + parts[2].size() + 5, '\0');
        std::size_t have = 0;
        for (std::size_t n = 0; have < got.size() && SSL_read_ex(cli, &got[have], got.size() - have, &n) == 1;) have += n;
        CHECK(have == got.size());
        CHECK(got == parts[0] + parts[1] + parts[2] + "later");

        // the next record with one byte changed: the client refuses it
        std::string rec(4 + sse::detail::tls13::sealer::overhead, '\0');
        std::memcpy(&rec[5], "more", 4);
        REQUIRE(sealer->seal(reinterpret_cast<unsigned char*>(&rec[0]), 4));
        rec[7] ^= 1;
        BIO_write(to_cli, rec.data(), static_cast<int>(rec.size()));
        char byte;
        std::size_t n = 0;
        CHECK(SSL_read_ex(cli, &byte, 1, &n) == 0);
        CHECK(SSL_get_error(cli, 0) == SSL_ERROR_SSL);
        ERR_clear_error();
        SSL_free(cli);
        SSL_free(srv);
        SSL_CTX_free(cctx);
    }
}
