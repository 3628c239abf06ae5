// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_REDIS_REPLY_HPP
#define ASIO_SSE_DETAIL_REDIS_REPLY_HPP

// Redis's wire protocol, through hiredis's own code (sans I/O): its reply reader, fed with our
// bytes and building our reply tree under bounds, and its command formatter.

#include <hiredis/hiredis.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sse::detail {

/// One Redis reply (RESP2): a string, status or error (`str`), an integer, nil, or an array.
struct redis_reply {
    enum class kind { string, array, integer, nil, status, error };
    kind type = kind::nil;
    long long integer = 0;
    std::string str;
    std::vector<std::unique_ptr<redis_reply>> elements;

    bool is_string() const noexcept { return type == kind::string || type == kind::status; }
    /// The `i`th element if this is an array that long, else null.
    const redis_reply* at(std::size_t i) const noexcept
    {
        return type == kind::array && i < elements.size() ? elements[i].get() : nullptr;
    }
};

/** @brief hiredis's reply reader under two bounds: a reply may not take more than `max_bytes`
    of input, nor hold an array of more than `max_elements`. Beyond either, or on a protocol
    error, the reader fails for good (the connection is to be closed). */
class redis_reader {
public:
    enum class status { ok, need_more, failed };

    redis_reader(std::size_t max_bytes, std::size_t max_elements)
        : max_bytes_(max_bytes), max_elements_(max_elements), reader_(redisReaderCreateWithFunctions(&functions()))
    {
        if (!reader_) throw std::bad_alloc();
        reader_->privdata = this;
    }
    redis_reader(const redis_reader&) = delete;
    redis_reader& operator=(const redis_reader&) = delete;
    ~redis_reader() { redisReaderFree(reader_); }

    /// Gives the reader bytes read from the connection.
    void feed(const char* data, std::size_t n)
    {
        if (failed_) return;
        pending_ += n;
        if (redisReaderFeed(reader_, data, n) != REDIS_OK) fail("cannot buffer the reply");
    }

    /// The next complete reply into `out`; `need_more` until one is complete; `failed` (for good)
    /// on malformed input or a reply over the bounds.
    status next(std::unique_ptr<redis_reply>& out)
    {
        if (failed_) return status::failed;
        void* r = nullptr;
        if (redisReaderGetReply(reader_, &r) != REDIS_OK) {
            fail(too_big_ ? "reply over the bounds" : reader_->errstr);
            return status::failed;
        }
        if (!r) {
            if (pending_ > max_bytes_) {
                fail("reply over the bounds");
                return status::failed;
            }
            return status::need_more;
        }
        out.reset(static_cast<redis_reply*>(r));
        pending_ = reader_->len - reader_->pos; // what the next reply has already received
        return status::ok;
    }

    /// Why the reader failed.
    const std::string& error() const noexcept { return error_; }

private:
    void fail(std::string why)
    {
        failed_ = true;
        error_ = std::move(why);
    }

    static redis_reader& of(const redisReadTask* t) { return *static_cast<redis_reader*>(t->privdata); }

    // A new reply node for `t`, attached to its parent array (which then owns it).
    static void* make(const redisReadTask* t, redis_reply::kind k)
    {
        auto* r = new (std::nothrow) redis_reply;
        if (!r) return nullptr;
        r->type = k;
        if (t->parent) static_cast<redis_reply*>(t->parent->obj)->elements[static_cast<std::size_t>(t->idx)].reset(r);
        return r;
    }

    static redis_reply::kind kind_of(int type) noexcept
    {
        switch (type) {
        case REDIS_REPLY_STATUS: return redis_reply::kind::status;
        case REDIS_REPLY_ERROR: return redis_reply::kind::error;
        default: return redis_reply::kind::string;
        }
    }

    static void* create_string(const redisReadTask* t, char* s, std::size_t n)
    {
        auto* r = static_cast<redis_reply*>(make(t, kind_of(t->type)));
        if (r) r->str.assign(s, n);
        return r;
    }

    // The element count's type is `int` in hiredis 0.14, `size_t` from 1.0.
    template <class Count>
    static void* create_array(const redisReadTask* t, Count n)
    {
        auto& self = of(t);
        if (n < 0 || static_cast<std::size_t>(n) > self.max_elements_) {
            self.too_big_ = true;
            return nullptr;
        }
        auto* r = static_cast<redis_reply*>(make(t, redis_reply::kind::array));
        if (r) r->elements.resize(static_cast<std::size_t>(n));
        return r;
    }

    static void* create_integer(const redisReadTask* t, long long v)
    {
        auto* r = static_cast<redis_reply*>(make(t, redis_reply::kind::integer));
        if (r) r->integer = v;
        return r;
    }

    static void* create_nil(const redisReadTask* t) { return make(t, redis_reply::kind::nil); }

    // hiredis frees only a reply's root (an unfinished one, when the reader goes or fails).
    static void free_object(void* r) { delete static_cast<redis_reply*>(r); }

    static redisReplyObjectFunctions& functions()
    {
        static redisReplyObjectFunctions fn = [] {
            redisReplyObjectFunctions f{};
            f.createString = &create_string;
            f.createArray = &create_array;
            f.createInteger = &create_integer;
            f.createNil = &create_nil;
            f.freeObject = &free_object;
            return f;
        }();
        return fn;
    }

    const std::size_t max_bytes_, max_elements_;
    redisReader* reader_;
    std::size_t pending_ = 0; // input bytes of the reply being read
    bool failed_ = false, too_big_ = false;
    std::string error_;
};

/// A command in Redis's wire format (hiredis formats it; every argument binary-safe).
inline std::string redis_command(const std::vector<std::string_view>& args)
{
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (auto a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    char* out = nullptr;
    const int n = redisFormatCommandArgv(&out, static_cast<int>(args.size()), argv.data(), lens.data());
    if (n < 0 || !out) throw std::bad_alloc();
    std::string cmd(out, static_cast<std::size_t>(n));
    redisFreeCommand(out);
    return cmd;
}

} // namespace sse::detail

#endif
