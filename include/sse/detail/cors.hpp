// Copyright (c) 2026 asio-sse authors. Distributed under the Boost Software License, Version 1.0.
#ifndef ASIO_SSE_DETAIL_CORS_HPP
#define ASIO_SSE_DETAIL_CORS_HPP

#include <sse/options.hpp>
#include <sse/request.hpp>
#include <sse/response.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace sse::detail {

/// `names` as a header list: "a, b, c".
inline std::string joined(const std::vector<std::string>& names)
{
    std::string out;
    for (const auto& n : names) out.append(out.empty() ? "" : ", ").append(n);
    return out;
}

/// The CORS response headers `policy` grants to request `r` (none if it has no allowed `Origin`).
inline std::vector<std::pair<std::string, std::string>> cors_grant(const cors_policy& policy, const request& r)
{
    std::vector<std::pair<std::string, std::string>> out;
    const auto origin = r.header("Origin");
    if (!origin) return out;
    const bool any = std::find(policy.origins.begin(), policy.origins.end(), "*") != policy.origins.end();
    const bool listed = std::find(policy.origins.begin(), policy.origins.end(), *origin) != policy.origins.end();
    if (!any && !listed) return out;
    if (!response::valid_header("Access-Control-Allow-Origin", *origin)) return out;
    if (any && !policy.credentials) {
        out.emplace_back("Access-Control-Allow-Origin", "*");
    } else {
        out.emplace_back("Access-Control-Allow-Origin", std::string(*origin));
        if (policy.credentials) out.emplace_back("Access-Control-Allow-Credentials", "true");
        out.emplace_back("Vary", "Origin");
    }
    if (!policy.expose.empty()) out.emplace_back("Access-Control-Expose-Headers", joined(policy.expose));
    return out;
}

/// The answer to an `OPTIONS` preflight for a route allowing `methods`.
inline response cors_preflight(const cors_policy& policy, const request& r, const std::string& methods)
{
    auto grant = cors_grant(policy, r);
    if (grant.empty()) return response(403, "403 Forbidden: origin not allowed\n");
    response out(204);
    for (auto& h : grant) out.header(std::move(h.first), std::move(h.second));
    out.header("Access-Control-Allow-Methods", methods);
    std::string allowed = "Last-Event-ID";
    for (const auto& h : policy.headers) allowed.append(", ").append(h);
    out.header("Access-Control-Allow-Headers", std::move(allowed));
    out.header("Access-Control-Max-Age", std::to_string(policy.max_age.count()));
    return out;
}

} // namespace sse::detail

#endif
