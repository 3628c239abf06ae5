// A reference event-stream parser, written from the WHATWG HTML "Server-sent events"
// interpretation rules, for asserting what a spec client would dispatch.
#ifndef ASIO_SSE_TESTS_SSE_PARSER_HPP
#define ASIO_SSE_TESTS_SSE_PARSER_HPP

#include <string>
#include <string_view>
#include <vector>

namespace test {

struct parsed_event {
    std::string type, data, last_event_id;
    bool operator==(const parsed_event& o) const
    {
        return type == o.type && data == o.data && last_event_id == o.last_event_id;
    }
};

class sse_parser {
public:
    /// Feeds bytes; complete events are appended to `events`.
    void feed(std::string_view bytes)
    {
        for (char c : bytes) {
            if (after_cr_ && c == '\n') {
                after_cr_ = false;
                continue;
            }
            after_cr_ = false;
            if (c == '\r' || c == '\n') {
                after_cr_ = c == '\r';
                line(line_);
                line_.clear();
            } else {
                line_.push_back(c);
            }
        }
    }

    std::vector<parsed_event> events;
    long long retry = -1;
    std::string last_event_id;

private:
    void line(std::string_view l)
    {
        if (l.empty()) return dispatch();
        if (l.front() == ':') return;
        std::string_view name = l, value;
        if (auto colon = l.find(':'); colon != std::string_view::npos) {
            name = l.substr(0, colon);
            value = l.substr(colon + 1);
            if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        }
        if (name == "event") {
            type_ = std::string(value);
        } else if (name == "data") {
            data_.append(value);
            data_.push_back('\n');
        } else if (name == "id") {
            if (value.find('\0') == std::string_view::npos) last_event_id = std::string(value);
        } else if (name == "retry") {
            if (!value.empty() && value.find_first_not_of("0123456789") == std::string_view::npos)
                retry = std::stoll(std::string(value));
        }
    }

    void dispatch()
    {
        if (data_.empty()) {
            type_.clear();
            return;
        }
        data_.pop_back();
        events.push_back({type_.empty() ? "message" : type_, data_, last_event_id});
        data_.clear();
        type_.clear();
    }

    std::string line_, type_, data_;
    bool after_cr_ = false;
};

} // namespace test

#endif
