// libFuzzer target: arbitrary bytes from an HTTP/2 client into sse::detail::h2_session.
//
// Input: byte 0 seeds the sizes of the chunks the bytes arrive in (0: all at once); byte 1
// picks how requests are answered (bit 0: a body source that defers before each part; bit 1:
// reset every other stream; bits 2-3: the body's size, 0 to 48 KB); the rest follows the
// client preface, as the client's frames. After each chunk every complete request is checked
// (its head is a well-formed HTTP/1.1 head unless refused; its body within the limit) and
// answered, and the session's output is collected (bounded per round). Invariants: nothing
// crashes, leaks or loops; an error from feed() is final; a refusal is 431 or 413 only.
#include "check.hpp"

#include <sse/detail/h2_session.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

namespace {

using sse::detail::h2_session;

// A body in parts, deferring (once) before each part when asked.
struct body final : h2_session::source {
    body(std::size_t n, bool defer) : left(n), defers(defer) {}
    std::size_t left;
    bool defers, deferred = false;
    std::size_t read(std::uint8_t* out, std::size_t n, bool& eof) override
    {
        if (defers && !deferred) {
            deferred = true;
            return 0;
        }
        deferred = false;
        const std::size_t k = std::min(n, left);
        std::fill_n(out, k, std::uint8_t('x'));
        left -= k;
        eof = left == 0;
        return k;
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 2) return 0;
    const unsigned seed = data[0], mode = data[1];
    const std::string_view frames(reinterpret_cast<const char*>(data + 2), size - 2);
    sse::detail::h2_limits limits;
    limits.max_concurrent_streams = 8;
    limits.max_header_bytes = 1024;
    limits.max_headers = 16;
    limits.max_body_bytes = 2048;
    h2_session s(limits);
    std::deque<std::pair<std::int32_t, body>> bodies; // live until the session is gone (it reads them)
    std::string input = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    input.append(frames);
    std::string out;
    bool failed = false;
    std::size_t pos = 0, round = 0;
    std::size_t answered = 0;
    while (pos < input.size()) {
        std::size_t n = input.size() - pos;
        if (seed) n = std::min<std::size_t>(n, 1 + (seed * 31 + round * 17) % 97);
        const int rv = s.feed(input.data() + pos, n);
        pos += n;
        ++round;
        if (rv != 0) {
            failed = true;
            break;
        }
        for (auto [id, code] : s.take_closed()) {
            (void)code;
            FUZZ_CHECK(id > 0); // a closed stream has a client stream id
        }
        for (std::int32_t id : s.take_requests()) {
            h2_session::incoming* in = s.request(id);
            FUZZ_CHECK(in != nullptr); // a ready request is there
            FUZZ_CHECK(in->refusal == 0 || in->refusal == 431 || in->refusal == 413); // a refusal is 431 or 413
            FUZZ_CHECK(in->body.size() <= limits.max_body_bytes); // a body stays within its limit
            if (!in->refusal) {
                FUZZ_CHECK(in->complete); // a request given without a refusal is complete
                FUZZ_CHECK(in->head.size() >= 4 && in->head.compare(in->head.size() - 4, 4, "\r\n\r\n") == 0); // a head ends with an empty line
            }
            const bool reset = (mode & 2) && (answered++ % 2);
            if (reset) {
                s.reset(id, NGHTTP2_CANCEL);
            } else {
                bodies.emplace_back(std::piecewise_construct, std::forward_as_tuple(id),
                                    std::forward_as_tuple(static_cast<std::size_t>((mode >> 2) & 3) * 16 * 1024, (mode & 1) != 0));
                s.respond(id, in->refusal ? in->refusal : 200, {{"Content-Type", "text/event-stream"}, {"Connection", "x"}},
                          &bodies.back().second, !in->complete);
            }
            s.answered(id);
        }
        out.clear();
        FUZZ_CHECK(s.collect(out, 256 * 1024)); // collecting the output never fails
        for (auto& b : bodies)
            if (b.second.deferred) s.resume(b.first); // (a stream gone meanwhile: an error nghttp2 ignores)
    }
    if (failed) FUZZ_CHECK(s.feed("x", 1) != 0); // an error from feed() is final
    out.clear();
    s.collect(out, 1 << 20);
    return 0;
}
