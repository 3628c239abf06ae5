// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_TLS13_RECORDS_HPP
#define ASIO_SSE_DETAIL_TLS13_RECORDS_HPP

// TLS 1.3 application-data records from the server, sans I/O (included by
// <sse/detail/tls_stream.hpp> only): what lets an HTTPS stream, which only sends once its
// request is read, let OpenSSL's session go (see `tls_stream::send_only()`).
//
// How: OpenSSL reports the server's application traffic secret as the handshake derives it
// (the key-log callback, `hook()`); once it has sent a KeyUpdate (RFC 8446, 4.6.3), the next
// secret and its key and IV follow from that one alone (7.2, 7.3), and the record sequence
// starts again at 0 (5.3), so nothing of OpenSSL's record layer is needed to go on.

#include <sse/request.hpp> // detail::hex_value

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

namespace sse::detail::tls13 {

/// The secret the server protects its application data with, as the handshake derived it.
struct secret {
    unsigned char bytes[EVP_MAX_MD_SIZE];
    std::size_t size = 0;
    ~secret() { OPENSSL_cleanse(bytes, sizeof bytes); }
};

namespace impl {

inline int ssl_index()
{
    static const int i = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return i;
}

// OpenSSL's key-log line for the server's first application secret, into the `secret` its
// SSL was given (`capture()`); every other line is ignored.
inline void keylog(const SSL* ssl, const char* line)
{
    auto* out = static_cast<secret*>(SSL_get_ex_data(ssl, ssl_index()));
    constexpr std::string_view tag = "SERVER_TRAFFIC_SECRET_0 ";
    const std::string_view l(line);
    if (!out || l.substr(0, tag.size()) != tag) return;
    const std::string_view value = l.substr(l.rfind(' ') + 1); // after the client random
    out->size = 0;
    if (value.size() % 2 != 0 || value.size() / 2 > sizeof out->bytes) return;
    for (std::size_t i = 0; i < value.size() / 2; ++i) {
        const int hi = hex_value(value[2 * i]), lo = hex_value(value[2 * i + 1]);
        if (hi < 0 || lo < 0) return;
        out->bytes[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    out->size = value.size() / 2;
}

// HKDF-Expand-Label(secret, label, "", n) for n no longer than the hash (RFC 8446, 7.1): one
// HMAC block.
inline bool expand_label(const EVP_MD* md, const unsigned char* key, std::size_t key_len, std::string_view label,
                         unsigned char* out, std::size_t n)
{
    unsigned char info[2 + 1 + 6 + 32 + 1 + 1];
    constexpr std::string_view prefix = "tls13 ";
    if (label.size() > 32 || n > static_cast<std::size_t>(EVP_MD_size(md))) return false;
    std::size_t k = 0;
    info[k++] = static_cast<unsigned char>(n >> 8);
    info[k++] = static_cast<unsigned char>(n);
    info[k++] = static_cast<unsigned char>(prefix.size() + label.size());
    std::memcpy(info + k, prefix.data(), prefix.size());
    k += prefix.size();
    std::memcpy(info + k, label.data(), label.size());
    k += label.size();
    info[k++] = 0; // no context
    info[k++] = 1; // T(1)
    unsigned char block[EVP_MAX_MD_SIZE];
    unsigned int got = 0;
    if (!HMAC(md, key, static_cast<int>(key_len), info, k, block, &got)) return false;
    std::memcpy(out, block, n);
    OPENSSL_cleanse(block, sizeof block);
    return true;
}

struct ctx_free {
    void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};

} // namespace impl

/// Makes `ctx`'s handshakes report the server's application secret to `capture()`d SSLs.
/// A context that has a key-log callback of its own (e.g. for SSLKEYLOGFILE) keeps it, and
/// its connections keep OpenSSL's record layer.
inline void hook(SSL_CTX* ctx)
{
    if (!SSL_CTX_get_keylog_callback(ctx)) SSL_CTX_set_keylog_callback(ctx, &impl::keylog);
}

/// `ssl`'s secret goes to `*into` (which must outlive its handshake), if its context is hooked.
inline void capture(SSL* ssl, secret* into) { SSL_set_ex_data(ssl, impl::ssl_index(), into); }

/** @brief Protects the server's records after its KeyUpdate: AES-128-GCM, AES-256-GCM or
    ChaCha20-Poly1305 (the cipher suites of TLS 1.3 but the CCM ones), one record of up to
    16 KB at a time, with a sequence of its own from 0. Keeps its traffic secret, key, IV and
    sequence only: the cipher context is the thread's, keyed for each record. It sends
    KeyUpdates of its own (`seal_key_update()`): when the client may have asked for one (RFC
    8446, 4.6.3) and before a key has protected `rekey_after` records (5.5). */
class sealer {
public:
    static constexpr std::size_t max_plaintext = 16 * 1024;
    static constexpr std::size_t overhead = 5 + 1 + 16; ///< header, content type, tag
    static constexpr std::size_t key_update_size = 4 + 1 + overhead; ///< a KeyUpdate's record
    static constexpr std::uint64_t rekey_after = std::uint64_t(1) << 23; ///< records per key, well under AES-GCM's 2^24.5

    /// For cipher suite `suite` (its IANA number), the generation after `current`; none if the
    /// suite is not one of the three, or `current` is not a secret of its hash.
    static std::optional<sealer> after_key_update(std::uint16_t suite, const secret& current)
    {
        sealer s;
        switch (suite) {
        case 0x1301: s.cipher_ = EVP_aes_128_gcm(), s.md_ = EVP_sha256(), s.key_len_ = 16; break;
        case 0x1302: s.cipher_ = EVP_aes_256_gcm(), s.md_ = EVP_sha384(), s.key_len_ = 32; break;
        case 0x1303: s.cipher_ = EVP_chacha20_poly1305(), s.md_ = EVP_sha256(), s.key_len_ = 32; break;
        default: return std::nullopt;
        }
        if (!s.cipher_ || current.size != static_cast<std::size_t>(EVP_MD_size(s.md_))) return std::nullopt;
        std::memcpy(s.secret_.bytes, current.bytes, current.size);
        s.secret_.size = current.size;
        if (!s.next_generation()) return std::nullopt;
        return std::optional<sealer>(std::move(s));
    }

    // Never two with one key and sequence (a nonce used twice would give GCM's keys away): a
    // sealer moves, and the one it moved from seals nothing.
    sealer(sealer&& o) noexcept
        : cipher_(std::exchange(o.cipher_, nullptr)), md_(o.md_), key_len_(o.key_len_), seq_(o.seq_)
    {
        std::memcpy(key_, o.key_, sizeof key_);
        std::memcpy(iv_, o.iv_, sizeof iv_);
        std::memcpy(secret_.bytes, o.secret_.bytes, sizeof secret_.bytes);
        secret_.size = o.secret_.size;
        OPENSSL_cleanse(o.key_, sizeof o.key_);
        OPENSSL_cleanse(o.secret_.bytes, sizeof o.secret_.bytes);
    }
    sealer(const sealer&) = delete;
    sealer& operator=(const sealer&) = delete;
    sealer& operator=(sealer&&) = delete;
    ~sealer() { OPENSSL_cleanse(key_, sizeof key_); }

    /** @brief Seals one record of application data in place: `record` holds `n` (at most
        `max_plaintext`) bytes of plaintext at `record + 5`, and room for `overhead` bytes in
        all; on return it is the whole record, `n + overhead` bytes. False if the cipher failed
        (nothing is usable). */
    bool seal(unsigned char* record, std::size_t n) { return seal(record, n, 23); }

    /** @brief Writes a KeyUpdate (update_not_requested) to `record` (`key_update_size` bytes),
        sealed with the current key, and goes on with the next generation's, from sequence 0.
        False if that failed (nothing is usable). */
    bool seal_key_update(unsigned char* record)
    {
        const unsigned char message[] = {24, 0, 0, 1, 0}; // key_update, length 1, update_not_requested
        std::memcpy(record + 5, message, sizeof message);
        return seal(record, sizeof message, 22) && next_generation();
    }

    /// Whether the current key has protected enough records that the next write should change it.
    bool rekey_due() const noexcept { return seq_ >= rekey_after; }

private:
    sealer() = default;

    // The traffic secret after this one, its key and IV; the sequence starts again (RFC 8446,
    // 7.2 and 5.3).
    bool next_generation()
    {
        secret next;
        next.size = secret_.size;
        if (!impl::expand_label(md_, secret_.bytes, secret_.size, "traffic upd", next.bytes, next.size) ||
            !impl::expand_label(md_, next.bytes, next.size, "key", key_, key_len_) ||
            !impl::expand_label(md_, next.bytes, next.size, "iv", iv_, sizeof iv_)) {
            cipher_ = nullptr;
            return false;
        }
        std::memcpy(secret_.bytes, next.bytes, next.size);
        seq_ = 0;
        return true;
    }

    // One record of `n` bytes at `record + 5` with inner content type `type`, sealed in place.
    bool seal(unsigned char* record, std::size_t n, unsigned char type)
    {
        if (!cipher_ || n > max_plaintext || seq_ == UINT64_MAX) return false;
        const std::size_t len = n + 1 + 16;
        record[0] = 23; // opaque_type: application_data
        record[1] = 3;  // legacy_record_version 0x0303
        record[2] = 3;
        record[3] = static_cast<unsigned char>(len >> 8);
        record[4] = static_cast<unsigned char>(len);
        unsigned char* body = record + 5;
        body[n] = type;
        unsigned char nonce[sizeof iv_];
        std::memcpy(nonce, iv_, sizeof nonce);
        for (int i = 0; i < 8; ++i) nonce[sizeof nonce - 1 - i] ^= static_cast<unsigned char>(seq_ >> (8 * i));
        ++seq_;
        EVP_CIPHER_CTX* c = context(cipher_);
        int out = 0;
        return c && EVP_EncryptInit_ex(c, nullptr, nullptr, key_, nonce) == 1 &&
               EVP_EncryptUpdate(c, nullptr, &out, record, 5) == 1 &&
               EVP_EncryptUpdate(c, body, &out, body, static_cast<int>(n + 1)) == 1 &&
               EVP_EncryptFinal_ex(c, body + n + 1, &out) == 1 &&
               EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, body + n + 1) == 1;
    }

    // The thread's cipher context, set to `cipher` (keyed per record by seal()).
    static EVP_CIPHER_CTX* context(const EVP_CIPHER* cipher)
    {
        thread_local std::unique_ptr<EVP_CIPHER_CTX, impl::ctx_free> ctx(EVP_CIPHER_CTX_new());
        thread_local const EVP_CIPHER* current = nullptr;
        if (!ctx) return nullptr;
        if (current != cipher) {
            current = nullptr;
            if (EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr) != 1) return nullptr;
            current = cipher;
        }
        return ctx.get();
    }

    const EVP_CIPHER* cipher_ = nullptr;
    const EVP_MD* md_ = nullptr;
    secret secret_; // the current generation's
    unsigned char key_[32]{};
    unsigned char iv_[12]{};
    std::size_t key_len_ = 0;
    std::uint64_t seq_ = 0;
};

} // namespace sse::detail::tls13

#endif
