// The Redis component's sans-I/O parts, without sockets: the bounded reply reader (hiredis's
// parser under our bounds), key names, records, messages, and the follower's gap repair.
#include "support/catch.hpp"

#include <sse/detail/redis_log.hpp>
#include <sse/detail/redis_reply.hpp>
#include <sse/detail/redis_scripts.hpp>

#include <string>
#include <vector>

using sse::detail::log_fetch;
using sse::detail::log_position;
using sse::detail::redis_follower;
using sse::detail::redis_id;
using sse::detail::redis_reader;
using sse::detail::redis_reply;

namespace {

redis_reader::status read_all(redis_reader& r, const std::string& bytes, std::vector<std::unique_ptr<redis_reply>>& out)
{
    r.feed(bytes.data(), bytes.size());
    for (;;) {
        std::unique_ptr<redis_reply> one;
        const auto st = r.next(one);
        if (st != redis_reader::status::ok) return st;
        out.push_back(std::move(one));
    }
}

// What the follower handed on.
struct recorder final : redis_follower::sink {
    std::vector<std::string> got;
    int losses = 0;
    void deliver(const log_position& at, std::string_view record) override { got.push_back(at.str() + "=" + std::string(record)); }
    void lost() override { ++losses; }
};

std::string message(const std::string& epoch, redis_id id, redis_id prev, const std::string& record)
{
    return epoch + "\n" + id.str() + "\n" + (prev.zero() ? std::string() : prev.str()) + "\n" + record;
}

log_fetch fetched(const std::string& epoch, redis_id tail, std::vector<log_fetch::entry> entries)
{
    log_fetch f;
    f.epoch = epoch;
    f.tail = tail;
    f.entries = std::move(entries);
    return f;
}

} // namespace

TEST_CASE("redis reader: replies of every kind, split anywhere", "[redis][unit]")
{
    const std::string bytes = "+OK\r\n-ERR bad\r\n:42\r\n$-1\r\n$5\r\nhe\r\no\r\n*2\r\n$1\r\na\r\n*1\r\n:7\r\n";
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
        redis_reader r(1024, 16);
        std::vector<std::unique_ptr<redis_reply>> got;
        REQUIRE(read_all(r, bytes.substr(0, cut), got) == redis_reader::status::need_more);
        REQUIRE(read_all(r, bytes.substr(cut), got) == redis_reader::status::need_more);
        REQUIRE(got.size() == 6);
        CHECK(got[0]->type == redis_reply::kind::status);
        CHECK(got[0]->str == "OK");
        CHECK(got[1]->type == redis_reply::kind::error);
        CHECK(got[2]->integer == 42);
        CHECK(got[3]->type == redis_reply::kind::nil);
        CHECK(got[4]->str == "he\r\no");
        REQUIRE(got[5]->elements.size() == 2);
        CHECK(got[5]->at(0)->str == "a");
        CHECK(got[5]->at(1)->at(0)->integer == 7);
    }
}

TEST_CASE("redis reader: malformed and oversized replies fail it for good", "[redis][unit]")
{
    std::vector<std::unique_ptr<redis_reply>> got;
    SECTION("not RESP")
    {
        redis_reader r(1024, 16);
        CHECK(read_all(r, "hello\r\n", got) == redis_reader::status::failed);
    }
    SECTION("a bulk string announced larger than the bound")
    {
        redis_reader r(1024, 16);
        CHECK(read_all(r, "$999999999\r\n" + std::string(600, 'x'), got) == redis_reader::status::need_more);
        CHECK(read_all(r, std::string(600, 'x'), got) == redis_reader::status::failed);
    }
    SECTION("an array longer than the bound, refused before any allocation for it")
    {
        redis_reader r(1024, 16);
        CHECK(read_all(r, "*2147483647\r\n", got) == redis_reader::status::failed);
        CHECK(r.error() == "reply over the bounds");
    }
    SECTION("arrays within the bound one by one, over it in all")
    {
        redis_reader r(1 << 20, 16);
        std::string two = "*2\r\n*10\r\n";
        for (int i = 0; i < 10; ++i) two += ":1\r\n";
        two += "*10\r\n";
        CHECK(read_all(r, two, got) == redis_reader::status::failed);
    }
    SECTION("after failing, it stays failed")
    {
        redis_reader r(1024, 16);
        CHECK(read_all(r, "?\r\n", got) == redis_reader::status::failed);
        CHECK(read_all(r, "+OK\r\n", got) == redis_reader::status::failed);
    }
    CHECK(got.empty());
}

TEST_CASE("redis reader: RESP3 types a server may send anyway are read or refused, never a bad pointer", "[redis][unit]")
{
    redis_reader r(1024, 16);
    std::vector<std::unique_ptr<redis_reply>> got;
    const auto st = read_all(r, ",1.5\r\n#t\r\n*2\r\n,2\r\n#f\r\n", got);
#if HIREDIS_MAJOR >= 1 // hiredis 1.x reads RESP3: a double keeps its text, a boolean is an integer
    REQUIRE(st == redis_reader::status::need_more);
    REQUIRE(got.size() == 3);
    CHECK(got[0]->str == "1.5");
    CHECK(got[1]->integer == 1);
    CHECK(got[2]->at(0)->str == "2");
    CHECK(got[2]->at(1)->integer == 0);
#else // hiredis 0.14 knows RESP2 only
    CHECK(st == redis_reader::status::failed);
    CHECK(got.empty());
#endif
}

TEST_CASE("redis command: every argument binary-safe", "[redis][unit]")
{
    CHECK(sse::detail::redis_command({"SET", "a b\r\n", std::string_view("\0x", 2)}) ==
          "*3\r\n$3\r\nSET\r\n$5\r\na b\r\n\r\n$2\r\n" + std::string("\0x", 2) + "\r\n");
}

TEST_CASE("redis names: a channel name cannot reach other keys, hash tags or patterns", "[redis][unit]")
{
    const sse::detail::redis_names n("app:", "room {1}*\r\n x", false);
    CHECK(n.log == "app:{room%20%7B1%7D%2A%0D%0A%20x}:log");
    CHECK(n.epoch == "app:{room%20%7B1%7D%2A%0D%0A%20x}:epoch");
    CHECK(n.feed == "app:{room%20%7B1%7D%2A%0D%0A%20x}:feed");
    CHECK(sse::detail::redis_names("", "a%b", true).feed == "{a%25b}:live");
    CHECK(sse::detail::redis_names("", "a", false).log != sse::detail::redis_names("", "a%", false).log);
}

TEST_CASE("redis ids and positions: canonical forms only", "[redis][unit]")
{
    CHECK(redis_id::parse("1-2") == redis_id{1, 2});
    CHECK(redis_id::parse("") == redis_id{});
    for (const char* bad : {"1", "-1", "1-", "01-2", "1-02", "a-1", "1-2-3", "99999999999999999999999-1"})
        CHECK_FALSE(redis_id::parse(bad));
    CHECK(redis_id{5, 9}.next() == redis_id{5, 10});
    CHECK(redis_id{1, 2} < redis_id{2, 0});
    const auto p = log_position::parse("0af3:17-4");
    REQUIRE(p);
    CHECK(p->epoch == "0af3");
    CHECK(p->id == redis_id{17, 4});
    CHECK(p->str() == "0af3:17-4");
    for (const char* bad : {"17-4", ":17-4", "XYZ:17-4", "0af3:0-0", "0af3:", "5", "0af3:17-4 "}) CHECK_FALSE(log_position::parse(bad));
}

TEST_CASE("redis records: an event's fields round-trip, bad records are refused", "[redis][unit]")
{
    auto e = sse::event("line 1\nline 2\r\n").type("tick").retry(std::chrono::milliseconds(1500)).comment("c\nd");
    const auto back = sse::detail::decode_record(sse::detail::encode_record(e));
    REQUIRE(back);
    CHECK(sse::to_string(*back) == sse::to_string(e));
    CHECK(sse::detail::decode_record(sse::detail::encode_record(sse::event(""))));
    for (const char* bad : {"", "t\n", "t\n\n", "t\n\nx\n", "t\n\n9\nabc", "open\n\n0\n", "a\rb\n\n0\n", "t\n-5\n0\n", "t\n99999999999\n0\n"})
        CHECK_FALSE(sse::detail::decode_record(bad));
}

TEST_CASE("redis messages: epoch, id, predecessor, record", "[redis][unit]")
{
    const auto m = sse::detail::log_message::parse("ab\n5-1\n5-0\nrec\nord");
    REQUIRE(m);
    CHECK(m->epoch == "ab");
    CHECK(m->id == redis_id{5, 1});
    CHECK(m->prev == redis_id{5, 0});
    CHECK(m->record == "rec\nord");
    for (const char* bad : {"ab\n5-1\n5-0", "\n5-1\n\nr", "ab\n5-1\n5-1\nr", "ab\n5-1\n6-0\nr", "ab\n0-0\n\nr", "AB\n5-1\n\nr"})
        CHECK_FALSE(sse::detail::log_message::parse(bad));
}

TEST_CASE("redis follower: live messages in order, duplicates skipped, gaps fetched", "[redis][unit]")
{
    redis_follower f;
    recorder out;
    REQUIRE(f.subscribed()); // learns where the log is first
    CHECK(f.tail_only());
    CHECK_FALSE(f.fetched(fetched("e1", {10, 0}, {}), out));
    CHECK(f.last() == redis_id{10, 0});

    CHECK_FALSE(f.message(message("e1", {11, 0}, {10, 0}, "a"), out));
    CHECK_FALSE(f.message(message("e1", {11, 0}, {10, 0}, "a"), out)); // again: skipped
    CHECK_FALSE(f.message(message("e1", {9, 0}, {8, 0}, "old"), out));
    CHECK(out.got == std::vector<std::string>{"e1:11-0=a"});

    // 12-0 never arrived: 13-0 shows the gap; the fetch repairs it, and what arrived meanwhile follows.
    REQUIRE(f.message(message("e1", {13, 0}, {12, 0}, "c"), out));
    CHECK(f.from() == redis_id{11, 1});
    CHECK_FALSE(f.message(message("e1", {14, 0}, {13, 0}, "d"), out)); // held
    CHECK_FALSE(f.fetched(fetched("e1", {13, 0}, {{{12, 0}, {11, 0}, "b"}, {{13, 0}, {12, 0}, "c"}}), out));
    CHECK(out.got == std::vector<std::string>{"e1:11-0=a", "e1:12-0=b", "e1:13-0=c", "e1:14-0=d"});
    CHECK(out.losses == 0);
    CHECK_FALSE(f.message("not a message", out));
    CHECK(f.bad_messages() == 1);
}

TEST_CASE("redis follower: a dropped feed is caught up from the log when it returns", "[redis][unit]")
{
    redis_follower f;
    recorder out;
    REQUIRE(f.subscribed());
    f.fetched(fetched("e1", {1, 0}, {}), out);
    f.unsubscribed();
    CHECK_FALSE(f.message(message("e1", {2, 0}, {1, 0}, "lost in transit"), out)); // not expected now
    REQUIRE(f.subscribed());
    CHECK(f.from() == redis_id{1, 1});
    CHECK_FALSE(f.fetched(fetched("e1", {2, 0}, {{{2, 0}, {1, 0}, "x"}}), out));
    CHECK(out.got == std::vector<std::string>{"e1:2-0=x"});
    // A failed fetch is asked for again.
    f.unsubscribed();
    REQUIRE(f.subscribed());
    CHECK(f.fetch_failed());
}

TEST_CASE("redis follower: a full page is followed by the next one", "[redis][unit]")
{
    redis_follower f;
    recorder out;
    f.subscribed();
    f.fetched(fetched("e", {}, {}), out);
    REQUIRE(f.message(message("e", {1000, 0}, {999, 0}, "z"), out));
    std::vector<log_fetch::entry> page;
    for (std::uint64_t i = 1; i <= redis_follower::fetch_count; ++i) page.push_back({{i, 0}, {i == 1 ? 0 : i - 1, 0}, "p"});
    CHECK(f.fetched(fetched("e", {1000, 0}, page), out));
    CHECK(f.from() == redis_id{redis_follower::fetch_count, 1});
    CHECK(out.got.size() == redis_follower::fetch_count);
}

TEST_CASE("redis follower: trimmed history and a new epoch are reported as lost", "[redis][unit]")
{
    redis_follower f;
    recorder out;
    f.subscribed();
    f.fetched(fetched("e1", {5, 0}, {}), out);
    SECTION("the entry after this node's last was trimmed")
    {
        REQUIRE(f.message(message("e1", {9, 0}, {8, 0}, "i"), out));
        f.fetched(fetched("e1", {9, 0}, {{{8, 0}, {7, 0}, "h"}, {{9, 0}, {8, 0}, "i"}}), out);
        CHECK(out.losses == 1);
        CHECK(out.got == std::vector<std::string>{"e1:8-0=h", "e1:9-0=i"});
    }
    SECTION("a log that began after this node started, trimmed before it read it")
    {
        redis_follower g;
        recorder o2;
        g.subscribed();
        g.fetched(fetched("", {}, {}), o2); // no log yet
        REQUIRE(g.message(message("e9", {50, 0}, {49, 0}, "x"), o2));
        g.fetched(fetched("e9", {50, 0}, {{{49, 0}, {48, 0}, "w"}, {{50, 0}, {49, 0}, "x"}}), o2);
        CHECK(o2.losses == 1);
        CHECK(o2.got == std::vector<std::string>{"e9:49-0=w", "e9:50-0=x"});
    }
    SECTION("Redis lost its data: a new epoch starts from its beginning")
    {
        REQUIRE(f.message(message("e2", {7, 0}, {6, 0}, "n2"), out));
        REQUIRE(f.fetched(fetched("e2", {7, 0}, {{{7, 0}, {6, 0}, "n2"}}), out)); // from the old place: again
        CHECK(out.losses == 1);
        CHECK(f.from() == redis_id{0, 1});
        CHECK_FALSE(f.fetched(fetched("e2", {7, 0}, {{{6, 0}, {}, "n1"}, {{7, 0}, {6, 0}, "n2"}}), out));
        CHECK(out.got == std::vector<std::string>{"e2:6-0=n1", "e2:7-0=n2"});
        CHECK(f.epoch() == "e2");
    }
}

TEST_CASE("redis resume: a client's id is followed cleanly, or it missed events", "[redis][unit]")
{
    const log_position at{"e", {5, 0}};
    CHECK(sse::detail::resumes_cleanly(at, fetched("e", {5, 0}, {})));
    CHECK(sse::detail::resumes_cleanly(at, fetched("e", {6, 0}, {{{6, 0}, {5, 0}, "r"}})));
    CHECK_FALSE(sse::detail::resumes_cleanly(at, fetched("e", {7, 0}, {{{7, 0}, {6, 0}, "r"}}))); // 6-0 trimmed
    CHECK_FALSE(sse::detail::resumes_cleanly(at, fetched("f", {5, 0}, {})));                        // another epoch
    CHECK_FALSE(sse::detail::resumes_cleanly(at, fetched("e", {4, 0}, {})));                        // an id from nowhere
}

TEST_CASE("redis script replies: decoded, malformed ones refused", "[redis][unit]")
{
    redis_reader r(1 << 20, 1024);
    std::vector<std::unique_ptr<redis_reply>> got;
    const std::string good = "*3\r\n$2\r\nab\r\n$3\r\n2-0\r\n*2\r\n"
                             "*2\r\n$3\r\n1-0\r\n*4\r\n$1\r\np\r\n$0\r\n\r\n$1\r\nr\r\n$5\r\nt\n\n0\n\r\n"
                             "*2\r\n$3\r\n2-0\r\n*4\r\n$1\r\np\r\n$3\r\n1-0\r\n$1\r\nr\r\n$6\r\nt\n\n0\nx\r\n"
                             "*2\r\n$2\r\nab\r\n$3\r\n3-1\r\n"
                             "*3\r\n$2\r\nab\r\n$3\r\n2-0\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nr\r\n$1\r\nx\r\n";
    REQUIRE(read_all(r, good, got) == redis_reader::status::need_more);
    REQUIRE(got.size() == 3);
    const auto f = sse::detail::parse_fetch(*got[0]);
    REQUIRE(f);
    CHECK(f->epoch == "ab");
    CHECK(f->tail == redis_id{2, 0});
    REQUIRE(f->entries.size() == 2);
    CHECK(f->entries[1].prev == redis_id{1, 0});
    CHECK(f->entries[1].record == "t\n\n0\nx");
    const auto a = sse::detail::parse_appended(*got[1]);
    REQUIRE(a);
    CHECK(a->str() == "ab:3-1");
    CHECK_FALSE(sse::detail::parse_fetch(*got[2])); // an entry without its predecessor
    CHECK_FALSE(sse::detail::parse_fetch(*got[1]));
}
