// libFuzzer target: arbitrary bytes into sse::detail::request_parser and chunked_decoder.
//
// Input: byte 0 seeds the sizes of the chunks the bytes arrive in (0: all at once); byte 1
// picks the limits (low nibble: max head 64 + 128 * n bytes; high nibble: max header count;
// the two nibbles xor-ed: max body 8 << n bytes); the rest is what a client sent. The bytes
// are scanned as they would arrive on a socket, and the result is compared with a one-line
// reference for "where does the head end". A complete head is parsed; the status must be one
// the parser documents, and a request that parses must be consistent with its head and
// survive a canonical re-serialization unchanged. A chunked body is decoded from the bytes
// after the head as they keep arriving, dropping what the decoder consumed as the connection
// does, and compared with a one-shot reference decoder (state, status, body, where it ends);
// a Content-Length body is skipped. What follows the body is the next pipelined request,
// read by the same parser after reset().
#include "check.hpp"

#include <sse/detail/chunked.hpp>
#include <sse/detail/http_parser.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using sse::detail::chunked_decoder;
using sse::detail::request_parser;

bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Where the head of `buf` ends: just past the first LF that is followed by LF or CRLF.
std::size_t reference_head_end(std::string_view buf)
{
    const auto a = buf.find("\n\n"), b = buf.find("\n\r\n");
    const std::size_t ea = a == std::string_view::npos ? a : a + 2, eb = b == std::string_view::npos ? b : b + 3;
    return ea < eb ? ea : eb;
}

// The sizes of the chunks bytes arrive in, as a socket would deliver them: from `seed`, 1 to
// 4 bytes (odd seeds) or 1 to 300 bytes (even seeds), or everything at once (seed 0).
class arrivals {
public:
    explicit arrivals(std::uint8_t seed) : seed_(seed), rng_(seed * 2654435761u + 1) {}

    // The size of the next chunk, when `left` bytes are still to come.
    std::size_t next(std::size_t left)
    {
        rng_ ^= rng_ << 13;
        rng_ ^= rng_ >> 17;
        rng_ ^= rng_ << 5;
        const std::size_t chunk = seed_ == 0 ? left : 1 + rng_ % (seed_ & 1 ? 4 : 300);
        return std::min(chunk, left);
    }

private:
    std::uint8_t seed_;
    std::uint32_t rng_;
};

// Feeds `bytes` to `p` in chunks from `in`. Returns the state of the last scan and how many
// bytes had arrived by then.
std::pair<request_parser::state, std::size_t> scan_in_chunks(request_parser& p, std::string_view bytes, arrivals& in)
{
    std::size_t received = 0;
    auto st = request_parser::state::need_more;
    while (st == request_parser::state::need_more && received < bytes.size()) {
        received += in.next(bytes.size() - received);
        st = p.scan(bytes.substr(0, received));
    }
    return {st, received};
}

struct body_result {
    chunked_decoder::state st;
    int status;
    std::string body;
    std::size_t end; // where the body ends in the bytes after the head (when complete)
};

void reference_ows(std::string_view& s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
}

bool reference_token(std::string_view& s)
{
    std::size_t n = 0;
    while (n < s.size() && is_tchar(s[n])) ++n;
    s.remove_prefix(n);
    return n != 0;
}

// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE, from the front of `s`
bool reference_quoted(std::string_view& s)
{
    const auto text = [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return c == '\t' || (u >= 0x20 && u != 0x7F); // HTAB, SP, VCHAR, obs-text
    };
    s.remove_prefix(1);
    for (;;) {
        if (s.empty()) return false;
        char c = s.front();
        s.remove_prefix(1);
        if (c == '"') return true;
        if (c == '\\') {
            if (s.empty()) return false;
            c = s.front();
            s.remove_prefix(1);
        }
        if (!text(c)) return false;
    }
}

// chunk-size [ chunk-ext ], a whole line without its CRLF
bool reference_size_line(std::string_view s, std::uint64_t& size)
{
    const std::size_t digits = std::min(s.find_first_not_of("0123456789abcdefABCDEF"), s.size());
    if (digits == 0 || digits > 16) return false;
    size = std::stoull(std::string(s.substr(0, digits)), nullptr, 16);
    s.remove_prefix(digits);
    while (!s.empty()) {
        // *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )
        reference_ows(s);
        if (s.empty() || s.front() != ';') return false;
        s.remove_prefix(1);
        reference_ows(s);
        if (!reference_token(s)) return false;
        std::string_view after = s;
        reference_ows(after);
        if (after.empty() || after.front() != '=') continue;
        s = after.substr(1);
        reference_ows(s);
        if (!(!s.empty() && s.front() == '"' ? reference_quoted(s) : reference_token(s))) return false;
    }
    return true;
}

// A one-shot reference for chunked_decoder: the same rules, over all the bytes at once.
body_result reference_chunked(std::string_view in, std::size_t max_body)
{
    body_result r{chunked_decoder::state::need_more, 0, {}, 0};
    const auto fail = [&](int status) {
        r.st = chunked_decoder::state::failed;
        r.status = status;
        return r;
    };
    // 0: a CRLF at `pos`; 1: its beginning, the input ends; 2: something else
    const auto crlf = [&](std::size_t pos) {
        const std::string_view two = in.substr(pos, 2);
        return two == "\r\n" ? 0 : (two.empty() || two == "\r") ? 1 : 2;
    };
    std::size_t pos = 0;
    for (;;) {
        const std::size_t lf = in.find('\n', pos);
        if (lf == std::string_view::npos || lf - pos > 257) // 256 bytes, CR, LF
            return in.size() - pos >= 258 ? fail(400) : r;
        if (lf == pos || in[lf - 1] != '\r') return fail(400);
        std::uint64_t size = 0;
        if (!reference_size_line(in.substr(pos, lf - 1 - pos), size)) return fail(400);
        if (size > max_body - r.body.size()) return fail(413);
        pos = lf + 1;
        if (size == 0) break;
        if (in.size() - pos < size) {
            r.body.append(in.substr(pos));
            return r;
        }
        r.body.append(in.substr(pos, static_cast<std::size_t>(size)));
        pos += static_cast<std::size_t>(size);
        if (const int c = crlf(pos); c != 0) return c == 1 ? r : fail(400);
        pos += 2;
    }
    if (const int c = crlf(pos); c != 0) return c == 1 ? r : fail(400); // no trailer fields
    r.st = chunked_decoder::state::complete;
    r.end = pos + 2;
    return r;
}

// Decodes the chunked body at the front of `rest` (of which `arrived` bytes came with the
// head) as the connection does: feed what is buffered, drop what was consumed, read more.
body_result decode_in_chunks(std::string_view rest, std::size_t arrived, arrivals& in, std::size_t max_body)
{
    chunked_decoder d(max_body);
    std::string buf(rest.substr(0, arrived));
    std::size_t consumed = 0;
    for (;;) {
        std::size_t used = 0;
        const auto st = d.feed(buf, used);
        FUZZ_CHECK(used <= buf.size());
        buf.erase(0, used);
        consumed += used;
        FUZZ_CHECK(d.body().size() <= max_body);
        if (st != chunked_decoder::state::need_more) {
            std::size_t again = 1; // the state sticks and consumes nothing more
            FUZZ_CHECK(d.feed(buf, again) == st && again == 0);
            FUZZ_CHECK((st == chunked_decoder::state::failed) == (d.status() != 0));
            return {st, d.status(), d.body(), consumed};
        }
        FUZZ_CHECK(d.status() == 0);
        FUZZ_CHECK(buf.size() <= 257); // only a partial chunk-size line or CRLF is held back
        if (arrived == rest.size()) return {st, 0, d.body(), consumed};
        const std::size_t n = in.next(rest.size() - arrived);
        buf.append(rest.substr(arrived, n));
        arrived += n;
    }
}

std::string canonical_head(const sse::request& r)
{
    std::string h = std::string(r.method()) + ' ' + std::string(r.target()) + " HTTP/1." +
                    std::to_string(r.version_minor()) + "\r\n";
    for (const auto& [name, value] : r.headers()) h.append(name).append(": ").append(value).append("\r\n");
    return h + "\r\n";
}

bool same_request(const sse::request& a, const sse::request& b)
{
    return a.method() == b.method() && a.target() == b.target() && a.path() == b.path() && a.query() == b.query() &&
           a.version_minor() == b.version_minor() && a.headers() == b.headers();
}

// Every accessor of a request that parsed, checked against the head it came from.
void check_request(const sse::request& r, std::string_view head, const request_parser& p, std::size_t max_headers)
{
    const auto method = r.method(), target = r.target(), path = r.path(), query = r.query();
    FUZZ_CHECK(!method.empty());
    for (char c : method) FUZZ_CHECK(is_tchar(c));
    FUZZ_CHECK(!target.empty());
    for (char c : target) FUZZ_CHECK(c > 0x20 && c < 0x7F);
    FUZZ_CHECK(r.version_minor() == 0 || r.version_minor() == 1);
    const std::string line = std::string(method) + ' ' + std::string(target) + " HTTP/1." +
                             std::to_string(r.version_minor());
    FUZZ_CHECK(head.substr(0, line.size()) == line);

    // the path is a prefix of the target once an absolute-form "scheme://authority" is stripped
    std::size_t off = 0;
    if (target.front() != '/' && target != "*") {
        const auto scheme = target.find("://");
        FUZZ_CHECK(scheme != std::string_view::npos);
        off = target.find('/', scheme + 3);
        FUZZ_CHECK(off != std::string_view::npos);
    }
    const std::string_view rest = target.substr(off);
    FUZZ_CHECK(!path.empty() && rest.substr(0, path.size()) == path);
    FUZZ_CHECK(path.find('?') == std::string_view::npos);
    const std::string_view tail = rest.substr(path.size());
    FUZZ_CHECK(tail.empty() ? query.empty() : tail == "?" + std::string(query));

    const auto headers = r.headers();
    FUZZ_CHECK(headers.size() <= max_headers);
    std::size_t hosts = 0, lengths = 0, codings = 0;
    for (const auto& [name, value] : headers) {
        FUZZ_CHECK(!name.empty());
        for (char c : name) FUZZ_CHECK(is_tchar(c));
        for (char c : value) {
            const auto u = static_cast<unsigned char>(c);
            FUZZ_CHECK(c == '\t' || (u >= 0x20 && u != 0x7F));
        }
        if (!value.empty()) {
            FUZZ_CHECK(value.front() != ' ' && value.front() != '\t');
            FUZZ_CHECK(value.back() != ' ' && value.back() != '\t');
        }
        // header() finds the first field of that name, in any case
        for (const auto& [n2, v2] : headers) {
            if (!sse::detail::iequals(n2, name)) continue;
            FUZZ_CHECK(r.header(name) == v2);
            break;
        }
        if (sse::detail::iequals(name, "transfer-encoding")) {
            FUZZ_CHECK(sse::detail::iequals(value, "chunked"));
            ++codings;
        }
        if (sse::detail::iequals(name, "content-length")) ++lengths;
        if (sse::detail::iequals(name, "host")) ++hosts;
    }
    FUZZ_CHECK(hosts <= 1 && (r.version_minor() == 0 || hosts == 1));
    // one framing, stated once: Content-Length, or chunked on HTTP/1.1, or none
    FUZZ_CHECK(lengths <= 1 && codings <= 1 && lengths + codings <= 1);
    FUZZ_CHECK(p.chunked() == (codings == 1));
    FUZZ_CHECK(!p.chunked() || (r.version_minor() == 1 && p.content_length() == 0));
    const auto length = r.header("Content-Length");
    FUZZ_CHECK(length ? p.content_length() == std::stoull(std::string(*length)) : p.content_length() == 0);

    // the decoding accessors work on whatever arrived
    for (std::string_view q = query; !q.empty();) {
        const auto amp = q.find('&');
        const std::string_view pair = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
        FUZZ_CHECK(r.query_param(sse::detail::url_decode(pair.substr(0, pair.find('=')))).has_value());
    }
    if (const auto cookies = r.header("Cookie")) {
        std::string_view pair = cookies->substr(0, cookies->find(';'));
        while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
        if (const auto eq = pair.find('='); eq != std::string_view::npos)
            FUZZ_CHECK(r.cookie(pair.substr(0, eq)) == pair.substr(eq + 1));
    }
    if (const auto h = r.header("Last-Event-ID")) FUZZ_CHECK(r.last_event_id() == *h);
    std::string accept(r.header("Accept").value_or(""));
    for (char& c : accept) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    FUZZ_CHECK(r.accepts_event_stream() == (accept.find("text/event-stream") != std::string::npos));

    // copies and moves keep every view valid (they are offsets into the request's own head)
    sse::request copy = r;
    FUZZ_CHECK(same_request(copy, r));
    sse::request moved = std::move(copy);
    FUZZ_CHECK(same_request(moved, r));
}

// One request from the front of `bytes`, as the connection handles it; returns the bytes it
// took (head and body), or 0 when the connection would end here (error, or input exhausted).
std::size_t one_request(request_parser& p, std::string_view bytes, std::uint8_t seed, std::size_t max_head,
                        std::size_t max_headers, std::size_t max_body)
{
    arrivals in(seed);
    const auto [st, received] = scan_in_chunks(p, bytes, in);
    const std::size_t end = reference_head_end(bytes.substr(0, received));
    switch (st) {
    case request_parser::state::need_more:
        FUZZ_CHECK(received == bytes.size() && end == std::string_view::npos && received < max_head);
        return 0;
    case request_parser::state::failed:
        FUZZ_CHECK(p.status() == 431);
        FUZZ_CHECK(end == std::string_view::npos ? received >= max_head : end > max_head);
        return 0;
    case request_parser::state::complete:
        FUZZ_CHECK(p.head_size() == end && end <= max_head);
        break;
    }

    const std::string_view head = bytes.substr(0, p.head_size());
    sse::request r;
    const int status = p.parse(head, r);
    FUZZ_CHECK(status == 0 || status == 400 || status == 431 || status == 501 || status == 505);
    if (status != 0) {
        FUZZ_CHECK(p.status() == status && !p.chunked());
        return 0;
    }
    check_request(r, head, p, max_headers);

    // the canonical form of what was understood parses to the same request
    request_parser again(max_head, max_headers);
    sse::request r2;
    FUZZ_CHECK(again.parse(canonical_head(r), r2) == 0);
    FUZZ_CHECK(same_request(r, r2) && again.content_length() == p.content_length());
    FUZZ_CHECK(again.chunked() == p.chunked());

    if (p.chunked()) {
        const std::string_view rest = bytes.substr(head.size());
        const body_result got = decode_in_chunks(rest, received - head.size(), in, max_body);
        const body_result want = reference_chunked(rest, max_body);
        FUZZ_CHECK(got.st == want.st && got.status == want.status && got.body == want.body);
        if (got.st != chunked_decoder::state::complete) return 0;
        FUZZ_CHECK(got.end == want.end);
        return head.size() + got.end;
    }
    const std::size_t body = p.content_length();
    return body <= bytes.size() - head.size() ? head.size() + body : 0;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 2) return 0;
    const std::uint8_t seed = data[0];
    const std::size_t max_head = 64 + 128 * (data[1] & 0x0F), max_headers = data[1] >> 4;
    const std::size_t max_body = std::size_t{8} << ((data[1] ^ (data[1] >> 4)) & 0x0F);
    std::string_view bytes(reinterpret_cast<const char*>(data) + 2, size - 2);

    // pipelined requests on one keep-alive connection: one parser, reset between requests
    request_parser p(max_head, max_headers);
    while (!bytes.empty()) {
        const std::size_t used = one_request(p, bytes, seed, max_head, max_headers, max_body);
        if (used == 0) break;
        bytes.remove_prefix(used);
        p.reset();
        FUZZ_CHECK(p.status() == 0 && p.head_size() == 0 && p.content_length() == 0 && !p.chunked());
    }
    return 0;
}
