/**
 * Headers on the way to the upstream and back. Requests carry only what the upstream needs (the
 * client's own `Authorization`, cookies and hop-by-hop headers never leave); responses lose the
 * hop-by-hop headers and the framing headers the runtime sets again itself.
 */
import { isAlibabaHost } from "../accounts/providers.ts";
import type { UpstreamAuth } from "../credentials/types.ts";
import { VERSION } from "../version.ts";

/**
 * Our own User-Agent, in the official client's format (shared/qwen-upstream.md §6) but under our
 * own name: Alibaba's WAF wants one, and the upstream deserves to know who is calling.
 */
export function defaultUserAgent(platform: string, arch: string): string {
  return `qwen/${VERSION} (${platform}; ${arch})`;
}

/**
 * Built once per token (and, for keys, per client User-Agent): the OAuth header set of the
 * official client (shared doc §6); for API keys the bearer key, the calling client's own
 * User-Agent and, on Alibaba's hosts, `X-DashScope-CacheControl: enable`.
 */
export function authHeaders(
  auth: UpstreamAuth,
  userAgent: string,
  clientUserAgent: string | null,
): Record<string, string> {
  if (auth.kind === "oauth") {
    return {
      "authorization": `Bearer ${auth.token}`,
      "user-agent": userAgent,
      "x-dashscope-cachecontrol": "enable",
      "x-dashscope-useragent": userAgent,
      "x-dashscope-authtype": "qwen-oauth",
    };
  }
  // API-key plans (Coding Plan) only serve coding agents: the calling client speaks for itself.
  const headers: Record<string, string> = {
    "authorization": `Bearer ${auth.token}`,
    "user-agent": clientUserAgent ?? userAgent,
  };
  if (isAlibabaHost(auth.baseUrl)) headers["x-dashscope-cachecontrol"] = "enable";
  return headers;
}

const DROPPED_RESPONSE_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  // fetch() already decoded the body, so its encoding and length no longer describe our bytes.
  "content-encoding",
  "content-length",
  "set-cookie",
]);

/** The upstream's response headers that are safe and still true on our response. */
export function responseHeaders(upstream: Headers): Record<string, string> {
  // A plain object and forEach: on Deno several times cheaper than iterating into a Headers.
  const headers: Record<string, string> = {};
  upstream.forEach((value, name) => {
    if (!DROPPED_RESPONSE_HEADERS.has(name)) headers[name] = value;
  });
  return headers;
}
