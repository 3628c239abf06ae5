// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_REDIS_LINK_HPP
#define ASIO_SSE_DETAIL_REDIS_LINK_HPP

#include <sse/detail/redis_connection.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sse::detail {

/** @brief A process's link to Redis: one connection for commands, one subscribed to the feeds
    of the channels that listen, both on one strand. Every member but the constructor and
    `stats()` runs on the strand. */
class redis_link : public std::enable_shared_from_this<redis_link> {
public:
    using strand_type = redis_connection::strand_type;

    /// A channel's side of the link (called on the strand).
    struct listener {
        virtual void feed_up() = 0;   ///< its feed is subscribed (again): catch up
        virtual void feed_down() = 0; ///< its feed stopped (messages may be missed)
        virtual void message(std::string_view payload) = 0;
    protected:
        ~listener() = default;
    };

    redis_link(const asio::any_io_executor& ex, redis_options options)
        : strand_(asio::make_strand(ex)), options_(std::move(options))
    {
    }

    strand_type strand() const { return strand_; }
    const redis_options& options() const noexcept { return options_; }

    redis_stats stats() const
    {
        auto s = counters_.snapshot();
        s.connected = up_.load() == 2;
        return s;
    }

    void start()
    {
        commands_ = std::make_shared<redis_connection>(strand_, options_, counters_, false, hooks(false));
        feeds_ = std::make_shared<redis_connection>(strand_, options_, counters_, true, hooks(true));
        commands_->start();
        feeds_->start();
    }

    void stop()
    {
        stopped_ = true;
        if (commands_) commands_->stop();
        if (feeds_) feeds_->stop();
        listeners_.clear();
        up_ = 0;
    }

    bool stopped() const noexcept { return stopped_; }

    /// Sends a command (see `redis_connection::send`); after `stop()`, it fails.
    void command(std::string cmd, redis_connection::reply_handler done, bool waits = true)
    {
        if (!commands_) {
            asio::post(strand_, [done = std::move(done)] { done(make_error_code(error::shutting_down), nullptr); });
            return;
        }
        commands_->send(std::move(cmd), std::move(done), waits);
    }

    /// `l` listens to `feed` (subscribed now if it is the feed's first listener).
    void listen(const std::string& feed, std::weak_ptr<listener> l)
    {
        if (stopped_) return;
        auto& f = listeners_[feed];
        f.members.push_back(l);
        if (f.members.size() == 1) {
            subscribe(feed);
        } else if (f.subscribed) {
            if (auto p = l.lock()) p->feed_up();
        }
        sweep(feed);
    }

private:
    // Forgets the feeds of channels that are gone, two per `listen` (so they cannot pile up,
    // e.g. with a channel per user), resuming where the last sweep stopped.
    void sweep(const std::string& except)
    {
        for (int n = 0; n < 2 && !listeners_.empty(); ++n) {
            auto it = listeners_.upper_bound(swept_);
            if (it == listeners_.end()) it = listeners_.begin();
            swept_ = it->first;
            if (it->first != except && !each(it->second, [](listener&) {})) forget(it);
        }
    }

    struct feed {
        std::vector<std::weak_ptr<listener>> members;
        bool subscribed = false;
    };

    // Calls `fn` for each listener of `f` still there, forgetting those that are gone (no copy:
    // a callback may add a listener, never remove one). Returns whether any is left.
    template <class F>
    bool each(feed& f, F fn)
    {
        auto& m = f.members;
        for (std::size_t i = 0; i < m.size();) {
            if (auto p = m[i].lock()) {
                fn(*p);
                ++i;
            } else {
                m[i] = std::move(m.back());
                m.pop_back();
            }
        }
        return !m.empty();
    }

    // A feed nobody listens to any more: unsubscribed and forgotten.
    void forget(std::map<std::string, feed>::iterator it)
    {
        if (feeds_ && feeds_->up()) feeds_->send(redis_command({"UNSUBSCRIBE", it->first}), nullptr, false);
        listeners_.erase(it);
    }

    void subscribe(const std::string& name)
    {
        if (!feeds_ || !feeds_->up()) return; // when it comes up
        feeds_->send(redis_command({"SUBSCRIBE", name}),
                     [w = weak_from_this(), name](std::error_code ec, const redis_reply* r) {
                         auto self = w.lock();
                         if (!self || ec) return; // the connection failed: it subscribes again once back
                         if (r->type == redis_reply::kind::error) {
                             // Refused (e.g. an ACL without this channel): reported, tried again after the backoff.
                             if (self->feeds_) self->feeds_->reset(make_error_code(error::redis_refused));
                             return;
                         }
                         auto it = self->listeners_.find(name);
                         if (it == self->listeners_.end() || it->second.subscribed) return;
                         it->second.subscribed = true;
                         self->each(it->second, [](listener& l) { l.feed_up(); });
                     },
                     false);
    }

    redis_connection::hooks hooks(bool subscriber)
    {
        redis_connection::hooks h;
        std::weak_ptr<redis_link> w = weak_from_this();
        h.up = [w, subscriber] {
            auto self = w.lock();
            if (!self) return;
            self->connection_up_[subscriber] = true;
            if (++self->up_ == 2) self->tell(true, {});
            if (subscriber)
                for (auto& kv : self->listeners_) self->subscribe(kv.first);
        };
        h.down = [w, subscriber](std::error_code ec) {
            auto self = w.lock();
            if (!self) return;
            if (self->connection_up_[subscriber]) {
                self->connection_up_[subscriber] = false;
                --self->up_;
            }
            self->tell(false, ec);
            if (!subscriber) return;
            for (auto& kv : self->listeners_) {
                kv.second.subscribed = false;
                self->each(kv.second, [](listener& l) { l.feed_down(); });
            }
        };
        h.push = [w](const redis_reply& r) {
            auto self = w.lock();
            if (!self) return;
            const auto *name = r.at(1), *payload = r.at(2);
            if (!name || !payload || !name->is_string() || !payload->is_string()) return;
            auto it = self->listeners_.find(name->str);
            if (it == self->listeners_.end() || !it->second.subscribed) return;
            if (!self->each(it->second, [payload](listener& l) { l.message(payload->str); })) self->forget(it);
        };
        return h;
    }

    void tell(bool up, std::error_code why)
    {
        if (!options_.on_state) return;
        try {
            options_.on_state(up, why);
        } catch (...) { // a throwing hook does not stop the link
        }
    }

    strand_type strand_;
    const redis_options options_;
    redis_counters counters_;
    std::atomic<int> up_{0};
    bool connection_up_[2] = {false, false};
    std::shared_ptr<redis_connection> commands_, feeds_;
    std::map<std::string, feed> listeners_;
    std::string swept_; // where the last sweep stopped
    bool stopped_ = false;
};

} // namespace sse::detail

#endif
