// fd_limit.hpp - raises the open-files limit of a benchmark process (sse-load, sse-bench-server).
//
// One socket per stream: 100,000 streams need 100,000 descriptors on each side, far above the
// usual soft limit (1024) and often above the hard one too. Linux only (fs.nr_open).
#ifndef ASIO_SSE_BENCH_FD_LIMIT_HPP
#define ASIO_SSE_BENCH_FD_LIMIT_HPP

#include <sys/resource.h>

#include <cstdint>
#include <cstdio>

namespace bench {

/** @brief Raises RLIMIT_NOFILE: the soft limit to the hard one and, if the hard limit is below
    `want`, the hard limit to `want` first (at most `fs.nr_open`; only a privileged process, e.g.
    root, may raise it: otherwise that step fails quietly). Says on stderr, prefixed `who`, what
    it got. @return the soft limit now (UINT64_MAX when unlimited, 0 when it cannot be read). */
inline std::uint64_t raise_fd_limit(const char* who, std::uint64_t want)
{
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        std::fprintf(stderr, "%s: cannot read RLIMIT_NOFILE\n", who);
        return 0;
    }
    const rlim_t soft_was = rl.rlim_cur, hard_was = rl.rlim_max;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        std::uint64_t cap = want;
        if (std::FILE* f = std::fopen("/proc/sys/fs/nr_open", "r")) { // the kernel's ceiling
            unsigned long long nr_open = 0;
            if (std::fscanf(f, "%llu", &nr_open) == 1 && nr_open < cap) cap = nr_open;
            std::fclose(f);
        }
        if (cap > rl.rlim_max) {
            rlimit raised{rlim_t(cap), rlim_t(cap)};
            if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
        }
    }
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    const auto shown = [](rlim_t v) { return v == RLIM_INFINITY ? UINT64_MAX : std::uint64_t(v); };
    std::fprintf(stderr, "%s: RLIMIT_NOFILE soft %llu hard %llu (was %llu/%llu, wanted %llu)\n", who,
                 static_cast<unsigned long long>(shown(rl.rlim_cur)), static_cast<unsigned long long>(shown(rl.rlim_max)),
                 static_cast<unsigned long long>(shown(soft_was)), static_cast<unsigned long long>(shown(hard_was)),
                 static_cast<unsigned long long>(want));
    return shown(rl.rlim_cur);
}

} // namespace bench

#endif
