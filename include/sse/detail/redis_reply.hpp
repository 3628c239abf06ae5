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
#include <type_traits>
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
    of input, nor hold more than `max_elements` array elements in all. Beyond either, or on a protocol
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
        elements_ = 0;
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

    // A new reply node for `t`, attached to its parent array (which then owns it). Nothing
    // throws through hiredis's C frames: a failure is a null (hiredis then fails the reader).
    template <class Fill>
    static void* make(const redisReadTask* t, redis_reply::kind k, Fill fill) noexcept
    {
        try {
            auto r = std::make_unique<redis_reply>();
            r->type = k;
            fill(*r);
            if (!t->parent) return r.release(); // the root: hiredis hands it back (or frees it with free_object)
            redis_reply* raw = r.get();
            static_cast<redis_reply*>(t->parent->obj)->elements[static_cast<std::size_t>(t->idx)] = std::move(r);
            return raw;
        } catch (...) {
            return nullptr;
        }
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
        return make(t, kind_of(t->type), [&](redis_reply& r) { r.str.assign(s, n); });
    }

    // The element count's type is `int` in hiredis 0.14, `size_t` from 1.0. Every array of a
    // reply counts against one bound, checked before anything is allocated for it.
    template <class Count>
    static void* create_array(const redisReadTask* t, Count n)
    {
        auto& self = of(t);
        if constexpr (std::is_signed_v<Count>) {
            if (n < 0) return nullptr;
        }
        const auto count = static_cast<std::size_t>(n);
        if (count > self.max_elements_ - self.elements_) {
            self.too_big_ = true;
            return nullptr;
        }
        self.elements_ += count;
        return make(t, redis_reply::kind::array, [&](redis_reply& r) { r.elements.resize(count); });
    }

    static void* create_integer(const redisReadTask* t, long long v)
    {
        return make(t, redis_reply::kind::integer, [&](redis_reply& r) { r.integer = v; });
    }

    static void* create_nil(const redisReadTask* t)
    {
        return make(t, redis_reply::kind::nil, [](redis_reply&) {});
    }

#if HIREDIS_MAJOR >= 1
    // RESP3 types (hiredis 1.x reads them; we never ask for RESP3): a double keeps its text, a
    // boolean is an integer. Without these, hiredis would hand back a non-pointer sentinel.
    static void* create_double(const redisReadTask* t, double, char* s, std::size_t n)
    {
        return make(t, redis_reply::kind::string, [&](redis_reply& r) { r.str.assign(s, n); });
    }

    static void* create_bool(const redisReadTask* t, int v)
    {
        return make(t, redis_reply::kind::integer, [&](redis_reply& r) { r.integer = v != 0; });
    }
#endif

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
#if HIREDIS_MAJOR >= 1
            f.createDouble = &create_double;
            f.createBool = &create_bool;
#endif
            f.freeObject = &free_object;
            return f;
        }();
        return fn;
    }

    const std::size_t max_bytes_, max_elements_;
    redisReader* reader_;
    std::size_t pending_ = 0;  // input bytes of the reply being read
    std::size_t elements_ = 0; // array elements of the reply being read
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
