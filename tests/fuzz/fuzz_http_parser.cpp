// libFuzzer target: arbitrary bytes into sse::detail::request_parser.
//
// Input: byte 0 seeds the sizes of the chunks the bytes arrive in (0: all at once); byte 1
// picks the limits (low nibble: max head 64 + 128 * n bytes; high nibble: max header count);
// the rest is what a client sent. The bytes are scanned as they would arrive on a socket, and
// the result is compared with a one-line reference for "where does the head end". A complete
// head is parsed; the status must be one the parser documents, and a request that parses must
// be consistent with its head and survive a canonical re-serialization unchanged. What follows
// its body is the next pipelined request, read by the same parser after reset().
#include "check.hpp"

#include <sse/detail/http_parser.hpp>

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

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

// Feeds `bytes` to `p` in chunks whose sizes come from `seed`, as a socket would deliver them.
// Returns the state of the last scan and how many bytes had arrived by then.
std::pair<request_parser::state, std::size_t> scan_in_chunks(request_parser& p, std::string_view bytes, std::uint8_t seed)
{
    std::uint32_t rng = seed * 2654435761u + 1;
    std::size_t received = 0;
    auto st = request_parser::state::need_more;
    while (st == request_parser::state::need_more && received < bytes.size()) {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        const std::size_t chunk = seed == 0 ? bytes.size() : 1 + rng % (seed & 1 ? 4 : 300);
        received += std::min(chunk, bytes.size() - received);
        st = p.scan(bytes.substr(0, received));
    }
    return {st, received};
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
    std::size_t hosts = 0;
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
        FUZZ_CHECK(!sse::detail::iequals(name, "transfer-encoding"));
        if (sse::detail::iequals(name, "host")) ++hosts;
    }
    FUZZ_CHECK(hosts <= 1 && (r.version_minor() == 0 || hosts == 1));
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
                        std::size_t max_headers)
{
    const auto [st, received] = scan_in_chunks(p, bytes, seed);
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
        FUZZ_CHECK(p.status() == status);
        return 0;
    }
    check_request(r, head, p, max_headers);

    // the canonical form of what was understood parses to the same request
    request_parser again(max_head, max_headers);
    sse::request r2;
    FUZZ_CHECK(again.parse(canonical_head(r), r2) == 0);
    FUZZ_CHECK(same_request(r, r2) && again.content_length() == p.content_length());

    const std::size_t body = p.content_length();
    return body <= bytes.size() - head.size() ? head.size() + body : 0;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 2) return 0;
    const std::uint8_t seed = data[0];
    const std::size_t max_head = 64 + 128 * (data[1] & 0x0F), max_headers = data[1] >> 4;
    std::string_view bytes(reinterpret_cast<const char*>(data) + 2, size - 2);

    // pipelined requests on one keep-alive connection: one parser, reset between requests
    request_parser p(max_head, max_headers);
    while (!bytes.empty()) {
        const std::size_t used = one_request(p, bytes, seed, max_head, max_headers);
        if (used == 0) break;
        bytes.remove_prefix(used);
        p.reset();
        FUZZ_CHECK(p.status() == 0 && p.head_size() == 0 && p.content_length() == 0);
    }
    return 0;
}
