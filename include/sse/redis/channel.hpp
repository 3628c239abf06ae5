// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_REDIS_CHANNEL_HPP
#define ASIO_SSE_REDIS_CHANNEL_HPP

#include <sse/channel.hpp>
#include <sse/detail/fanout.hpp>
#include <sse/detail/redis_log.hpp>
#include <sse/detail/redis_scripts.hpp>
#include <sse/redis/client.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace sse {

/// How a `sse::redis_channel` carries events between nodes.
enum class redis_delivery {
    /// Through a Redis stream (the log) and pub/sub: ids are positions in the log, a client
    /// resumes on any node, a node repairs what it missed.
    replayable,
    /// Through pub/sub only: the highest publish rate, but no ids, no replay, and a node that
    /// misses a message (its connection dropped) does not get it back.
    live_only,
};

/** @brief A channel's counters (see `redis_channel::stats()`); `published` counts this node's
    publishes that Redis took, and its filtered (node-local) publishes. */
struct redis_channel_stats : channel_stats {
    std::uint64_t delivered = 0;      ///< events this node received (from any node) and fanned out
    std::uint64_t publish_failed = 0; ///< this node's publishes that failed (see `async_publish`)
    std::uint64_t lost = 0;           ///< times this node found events missing from the log
    std::uint64_t fetches = 0;        ///< reads of the log (catching up, repairing a gap, replay)
    std::uint64_t bad_messages = 0;   ///< messages or records not in the nodes' format (ignored)
    /// This node knows where the log is (its first read of it, one round trip after the channel
    /// is made and Redis reached, returned): from then on it delivers every event published.
    bool following = false;
};

/** @brief A `sse::channel` whose topic spans every node that has one of the same name on the
    same Redis: an event published on any node reaches the subscribers of all of them, each
    node in the same order.

    Publishing appends the event to the channel's Redis stream (trimmed to about
    `history_events`) and publishes it, in one atomic script; every node delivers what it
    receives, serialized once per node. An event's id is its place in the log
    (`epoch:ms-seq`), so a client that reconnects to any node with `Last-Event-ID` gets exactly
    the events after it (from this node's recent history, else from Redis), then live ones.
    Pub/sub delivers at most once: a node that misses messages (its connection dropped) sees
    the gap (each event names its predecessor) and reads what it missed from the log. History
    that is gone (trimmed, or lost by Redis: a new epoch) is signalled as the local channel
    does: `missed_event` and `on_missed`, to a reconnecting client or, when the node itself lost
    events, to its subscribers.

    Moving from `sse::channel`: construct it with a client and a name; `subscribe`,
    `unsubscribe`, `size`, `stats` and the options are the same. What differs: `publish()`
    returns nothing (use `async_publish` for the id or the error); a publish with a filter
    reaches this node's subscribers only (a filter cannot cross processes) and is neither
    logged nor given an id; `assign_ids` is ignored (ids are log positions); `history_bytes`
    and `history_age` bound only the node's copy of recent events.

    `redis_channel` is a handle: copies refer to the same channel.
    @par Thread Safety
    Every member function may be called from any thread.
*/
class redis_channel {
public:
    using filter = channel::filter;

    /// @throws std::invalid_argument as `sse::channel` does.
    redis_channel(redis_client& client, std::string name, channel_options options = {},
                  redis_delivery delivery = redis_delivery::replayable)
        : impl_(std::make_shared<impl>(client.link_, std::move(name), std::move(options), delivery))
    {
        asio::dispatch(impl_->link->strand(), [p = impl_] { p->link->listen(p->names.feed, p); });
    }

    /// Adds `s`, first queueing what it missed according to its request's `Last-Event-ID`.
    void subscribe(const stream_ptr& s) { subscribe(s, s->request().last_event_id()); }

    /// Adds `s`, first queueing what the log holds after `last_event_id` (none if empty). The
    /// events it missed may come from Redis: then `s` joins once they are queued.
    void subscribe(const stream_ptr& s, std::string_view last_event_id) { impl_->add(s, last_event_id); }

    /// Removes `s` (it stays open).
    void unsubscribe(const stream_ptr& s) { impl_->remove_stream(*s); }

    /// Publishes `e` to every node (its id, if any, is replaced). A failure is counted in
    /// `stats().publish_failed`; `async_publish` reports it.
    void publish(event e) { impl_->append(std::move(e), nullptr); }

    /// Sends `e` to this node's subscribers that `to` accepts, without an id, and not to other
    /// nodes: a filter cannot cross processes (for an audience on every node, give it a channel).
    void publish(event e, const filter& to)
    {
        auto bytes = detail::serialized(without_id(std::move(e)));
        std::lock_guard<std::mutex> lock(impl_->mu);
        ++impl_->counts.published;
        impl_->deliver(bytes, nullptr, to, impl_->options.overflow);
    }

    /** @brief Publishes `e` to every node.
        @param token completes with `void(std::error_code, std::string id)`: the event's id once
        Redis has it (empty for `live_only`), or why not: `sse::error::queue_overflow` (the
        outbox is full), `redis_unreachable` (Redis did not come back within `outbox_wait`, or
        the connection dropped after the command was sent: the event may then have been
        published), `redis_timeout`, `redis_refused`, `shutting_down`. It runs on its associated
        executor (default: the client's strand), never inside this call. */
    template <class CompletionToken = asio::default_completion_token_t<redis_client::executor_type>>
    auto async_publish(event e, CompletionToken&& token = asio::default_completion_token_t<redis_client::executor_type>())
    {
        return asio::async_initiate<CompletionToken, void(detail::asio_error_code, std::string)>(
            [](auto handler, std::shared_ptr<impl> p, event ev) {
                auto ex = asio::prefer(asio::get_associated_executor(handler, p->link->strand()),
                                       asio::execution::outstanding_work.tracked);
                auto held = std::make_shared<decltype(handler)>(std::move(handler));
                p->append(std::move(ev), [held, ex](std::error_code ec, std::string id) {
                    asio::post(ex, [held, ec, id = std::move(id)]() mutable { std::move(*held)(ec, std::move(id)); });
                });
            },
            token, impl_, std::move(e));
    }

    /// The number of this node's subscribed streams.
    std::size_t size() const
    {
        std::lock_guard<std::mutex> lock(impl_->mu);
        return impl_->size();
    }

    /// The channel's counters on this node, now.
    redis_channel_stats stats() const
    {
        std::lock_guard<std::mutex> lock(impl_->mu);
        auto s = impl_->counts;
        s.subscribers = impl_->size();
        s.history_events = impl_->past.entries().size();
        s.history_bytes = impl_->past.bytes();
        s.bad_messages += impl_->follower.bad_messages();
        s.following = impl_->follower.started();
        return s;
    }

    const std::string& name() const noexcept { return impl_->name; }

private:
    static event without_id(event e)
    {
        event out(e.data());
        if (!e.type().empty()) out.type(e.type());
        if (e.retry()) out.retry(*e.retry());
        if (!e.comment().empty()) out.comment(e.comment());
        return out;
    }

    using done_fn = std::function<void(std::error_code, std::string)>;

    // A client resuming from the log: where it is, and whether its id was checked against it.
    struct resume {
        stream_ptr s;
        std::string last_event_id;
        std::optional<detail::log_position> at; // none: from the start of the log
        bool checked = false;
        int errors = 0, waits = 0; // failed reads in a row; waits for this node to catch up
    };

    struct impl final : detail::fanout,
                        detail::redis_link::listener,
                        detail::redis_follower::sink,
                        std::enable_shared_from_this<impl> {
        impl(std::shared_ptr<detail::redis_link> l, std::string n, channel_options o, redis_delivery d)
            : link(std::move(l)), name(std::move(n)), options(std::move(o)), live_only(d == redis_delivery::live_only),
              names(link->options().key_prefix, name, live_only),
              past(options.history_events, options.history_bytes, detail::checked_duration(options.history_age, "history_age"))
        {
            if (!options.missed_event.empty()) event().type(options.missed_event); // validates
            std::random_device rd;
            epoch_base = (std::uint64_t{rd()} << 32) ^ rd() ^
                         static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
        }

        // A new epoch for the log, should it have none (never published to, or lost by Redis):
        // different for every publish, so that a lost log never comes back under its old epoch.
        std::string new_epoch()
        {
            const std::uint64_t r = epoch_base + 0x9E3779B97F4A7C15ull * epochs_made.fetch_add(1, std::memory_order_relaxed);
            std::string hex(16, '0');
            for (int i = 0; i < 16; ++i) hex[static_cast<std::size_t>(i)] = "0123456789abcdef"[(r >> (4 * i)) & 15];
            return hex;
        }

        // ---- publishing (any thread)

        void append(event e, done_fn done)
        {
            const auto record = detail::encode_record(e);
            std::string cmd;
            if (live_only) {
                cmd = detail::redis_command({"PUBLISH", names.feed, record});
            } else {
                const auto maxlen = std::to_string(options.history_events ? options.history_events : 1);
                cmd = detail::redis_command({"EVAL", detail::redis_append_script, "2", names.log, names.epoch, maxlen,
                                             record, new_epoch(), names.feed});
            }
            run(std::move(cmd), [self = shared_from_this(), done = std::move(done)](std::error_code ec, const detail::redis_reply* r) {
                std::string id;
                if (!ec && !self->live_only) {
                    if (auto at = detail::parse_appended(*r))
                        id = at->str();
                    else
                        ec = make_error_code(error::redis_protocol);
                }
                {
                    std::lock_guard<std::mutex> lock(self->mu);
                    ++(ec ? self->counts.publish_failed : self->counts.published);
                }
                if (done) done(ec, std::move(id));
            });
        }

        // ---- subscribing (any thread)

        void add(const stream_ptr& s, std::string_view last_event_id)
        {
            std::unique_lock<std::mutex> lock(mu);
            if (resuming_now(*s)) return; // subscribed already, in effect
            if (live_only || last_event_id.empty()) return fanout::add(s, shared_from_this(), [](stream&) {});
            auto at = detail::log_position::parse(last_event_id);
            if (at && at->epoch == follower.epoch()) {
                if (at->id == follower.last()) return fanout::add(s, shared_from_this(), [](stream&) {});
                past.expire(detail::history::clock::now());
                if (auto from = past.after(last_event_id, false)) {
                    fanout::add(s, shared_from_this(), [&](stream& st) { counts.replayed += fanout::replay(st, past, *from); });
                    return;
                }
            }
            resume r{s, std::string(last_event_id), at};
            if (!at) {
                tell_missed(r);
                if (options.on_missed == missed_policy::live_only) return fanout::add(s, shared_from_this(), [](stream&) {});
                r.checked = true; // from the start of the log
            }
            resuming.push_back(s.get());
            lock.unlock();
            fetch_for(std::move(r));
        }

        void remove_stream(stream& s)
        {
            std::lock_guard<std::mutex> lock(mu);
            drop(s, shared_from_this());
            forget(s);
        }

        // Under mu: whether `s` waits for its replay from the log.
        bool resuming_now(const stream& s) const
        {
            return std::find(resuming.begin(), resuming.end(), &s) != resuming.end();
        }
        // Under mu: `s` no longer waits for its replay; returns whether it did.
        bool forget(const stream& s)
        {
            auto it = std::find(resuming.begin(), resuming.end(), &s);
            if (it == resuming.end()) return false;
            *it = resuming.back();
            resuming.pop_back();
            return true;
        }

        // Under mu: a resuming client joins (unless it was unsubscribed meanwhile).
        template <class Before>
        void join(resume& r, Before&& before)
        {
            if (forget(*r.s)) fanout::add(r.s, shared_from_this(), std::forward<Before>(before));
        }

        // Under mu: a client whose id is not (or no longer) in the log is told so.
        void tell_missed(resume& r)
        {
            ++counts.missed;
            if (!options.missed_event.empty())
                fanout::replay(*r.s, detail::serialized(event(r.last_event_id).type(options.missed_event)));
        }

        void fetch_for(resume r)
        {
            const auto from = r.at ? r.at->id.next() : detail::redis_id{};
            fetch(from, detail::redis_follower::fetch_count,
                  [self = shared_from_this(), r = std::move(r)](std::error_code ec, std::optional<detail::log_fetch> f) mutable {
                      if (ec == error::shutting_down) {
                          std::lock_guard<std::mutex> lock(self->mu);
                          self->forget(*r.s);
                          return;
                      }
                      if (ec || !f) {
                          if (++r.errors > 8) return self->give_up(r);
                          return self->later([self, r = std::move(r)]() mutable { self->fetch_for(std::move(r)); });
                      }
                      r.errors = 0;
                      self->resumed(std::move(r), *f);
                  });
        }

        // Under mu held by `lock`: reads again after a short wait (this node is not where the
        // log is yet), or gives up after ~6 s of that.
        void wait_and_retry(resume r, std::unique_lock<std::mutex>& lock)
        {
            if (++r.waits > 64) {
                lock.unlock();
                return give_up(r);
            }
            lock.unlock();
            later([self = shared_from_this(), r = std::move(r)]() mutable { self->fetch_for(std::move(r)); });
        }

        // A page of the log for a resuming client came back (on the strand).
        void resumed(resume r, const detail::log_fetch& f)
        {
            std::unique_lock<std::mutex> lock(mu);
            if (!resuming_now(*r.s)) return; // unsubscribed meanwhile
            if (!follower.started() || f.epoch != follower.epoch()) return wait_and_retry(std::move(r), lock);
            // Every page must follow the last: events lost in between (trimmed, or a new epoch)
            // are told; then the client gets what the log holds from there (or only live ones).
            if (r.at && !detail::resumes_cleanly(*r.at, f)) {
                const bool restart = !r.checked || f.epoch != r.at->epoch; // this page is not what follows
                tell_missed(r);
                if (options.on_missed == missed_policy::live_only) return join(r, [](stream&) {});
                r.at.reset();
                r.checked = true;
                if (restart) {
                    lock.unlock();
                    return fetch_for(std::move(r)); // everything the log holds
                }
            }
            r.checked = true;
            // Queue what this node has delivered already (up to its last), then join.
            const auto last = follower.last();
            std::uint64_t n = 0;
            for (const auto& e : f.entries) {
                if (last < e.id) break;
                r.at = detail::log_position{f.epoch, e.id};
                const auto id = r.at->str();
                if (auto bytes = serialized_at(id, e.record)) n += fanout::replay(*r.s, bytes, &id);
            }
            counts.replayed += n;
            fanout::count_replayed(*r.s, n);
            const auto reached = r.at ? r.at->id : detail::redis_id{};
            if (reached == last) return join(r, [](stream&) {});
            if (last < reached) return wait_and_retry(std::move(r), lock); // from a node ahead of this one
            if (f.entries.size() < detail::redis_follower::fetch_count && r.at) {
                if (auto from = past.after(r.at->str(), false)) {
                    join(r, [&](stream& st) { counts.replayed += fanout::replay(st, past, *from); });
                    return;
                }
            }
            lock.unlock();
            fetch_for(std::move(r)); // more than this node keeps: read on
        }

        // The log stays unreadable for a resuming client: it joins live, told it missed events.
        void give_up(resume& r)
        {
            std::lock_guard<std::mutex> lock(mu);
            if (!resuming_now(*r.s)) return;
            tell_missed(r);
            join(r, [](stream&) {});
        }

        // ---- the node's reading of the log (on the strand)

        void feed_up() override
        {
            bool go;
            {
                std::lock_guard<std::mutex> lock(mu);
                go = !live_only && follower.subscribed();
            }
            if (go) follow();
        }

        void feed_down() override
        {
            std::lock_guard<std::mutex> lock(mu);
            follower.unsubscribed();
        }

        void message(std::string_view payload) override
        {
            bool go;
            {
                std::lock_guard<std::mutex> lock(mu);
                if (live_only) {
                    auto e = detail::decode_record(payload);
                    if (!e) {
                        ++counts.bad_messages;
                        return;
                    }
                    ++counts.delivered;
                    deliver(detail::serialized(*e), nullptr, nullptr, options.overflow);
                    return;
                }
                go = follower.message(payload, *this);
            }
            if (go) follow();
        }

        // The follower wants the log from where this node is.
        void follow()
        {
            detail::redis_id from;
            std::size_t count;
            {
                std::lock_guard<std::mutex> lock(mu);
                from = follower.from();
                count = follower.tail_only() ? 0 : detail::redis_follower::fetch_count;
            }
            fetch(from, count, [self = shared_from_this()](std::error_code ec, std::optional<detail::log_fetch> f) {
                if (ec == error::shutting_down) return; // the client was closed
                bool again;
                {
                    std::lock_guard<std::mutex> lock(self->mu);
                    again = (ec || !f) ? self->follower.fetch_failed() : self->follower.fetched(*f, *self);
                }
                if (!again) return;
                if (ec || !f)
                    self->later([self] { self->follow(); });
                else
                    self->follow();
            });
        }

        // detail::redis_follower::sink (under mu)
        void deliver(const detail::log_position& at, std::string_view record) override
        {
            auto id = at.str();
            auto bytes = serialized_at(id, record);
            if (!bytes) {
                ++counts.bad_messages;
                return;
            }
            last_id = std::move(id);
            ++counts.delivered;
            fanout::deliver(bytes, &last_id, nullptr, options.overflow);
            past.add({++seq, last_id, std::move(bytes), detail::history::clock::now(), nullptr});
        }

        void lost() override
        {
            ++counts.lost;
            past.clear(); // what follows does not continue it: a client resuming from it must hear of the loss
            if (!options.missed_event.empty()) notify(detail::serialized(event(last_id.empty() ? "0" : last_id).type(options.missed_event)));
        }

        using fanout::deliver;

        // ---- reading the log

        void fetch(detail::redis_id from, std::size_t count,
                   std::function<void(std::error_code, std::optional<detail::log_fetch>)> done)
        {
            auto cmd = detail::redis_command({"EVAL", detail::redis_fetch_script, "2", names.log, names.epoch, from.str(),
                                              std::to_string(count)});
            {
                std::lock_guard<std::mutex> lock(mu);
                ++counts.fetches;
            }
            run(std::move(cmd), [self = shared_from_this(), done = std::move(done)](std::error_code ec, const detail::redis_reply* r) {
                if (ec) return done(ec, std::nullopt);
                auto f = detail::parse_fetch(*r);
                if (!f) {
                    std::lock_guard<std::mutex> lock(self->mu);
                    ++self->counts.bad_messages;
                }
                done(f ? std::error_code() : make_error_code(error::redis_protocol), std::move(f));
            });
        }

        // Sends `cmd` from the strand; `done` gets the reply, or an error (a Redis error reply is
        // `redis_refused`), on the strand.
        template <class Done>
        void run(std::string cmd, Done done)
        {
            asio::dispatch(link->strand(), [l = link, cmd = std::move(cmd), done = std::move(done)]() mutable {
                l->command(std::move(cmd), [done = std::move(done)](std::error_code ec, const detail::redis_reply* r) mutable {
                    if (!ec && r->type == detail::redis_reply::kind::error) ec = make_error_code(error::redis_refused);
                    done(ec, ec ? nullptr : r);
                });
            });
        }

        // The event a log entry holds, serialized with `id` (its place in the log); null if the
        // record is malformed.
        static detail::shared_buffer serialized_at(const std::string& id, std::string_view record)
        {
            auto e = detail::decode_record(record);
            return e ? detail::serialized(e->id(id)) : nullptr;
        }

        // Runs `f` on the strand after a short wait (a failed fetch is tried again).
        template <class F>
        void later(F f)
        {
            auto t = std::make_shared<asio::steady_timer>(link->strand(), std::chrono::milliseconds(100));
            t->async_wait([t, f = std::move(f)](std::error_code) mutable { f(); });
        }

        const std::shared_ptr<detail::redis_link> link;
        const std::string name;
        const channel_options options;
        const bool live_only;
        const detail::redis_names names;
        std::uint64_t epoch_base;
        std::atomic<std::uint64_t> epochs_made{0};
        // under mu:
        detail::history past; // this node's recent events, for resuming clients
        detail::redis_follower follower;
        std::vector<const stream*> resuming; // streams waiting for their replay from the log
        std::uint64_t seq = 0;
        std::string last_id;
        redis_channel_stats counts;
    };

    std::shared_ptr<impl> impl_;
};

} // namespace sse

#endif
