/**
 * Headers on the way to the upstream and back. Requests carry only what the upstream needs (the
 * client's own `Authorization`, cookies and hop-by-hop headers never leave); responses lose the
 * hop-by-hop headers and the framing headers the runtime sets again itself.
 */
import { isAlibabaHost } from "../accounts/providers.ts";
import type { UpstreamAuth } from "../credentials/types.ts";
import { VERSION } from "../lib/version.ts";
import { fetchHeaderForm } from "../runtime/tactics.ts";

/**
 * Our own User-Agent, in the official client's format (docs/upstream.md#model-api) but under our
 * own name: Alibaba's WAF wants one, and the upstream deserves to know who is calling.
 */
export function defaultUserAgent(platform: string, arch: string): string {
  return `qwen/${VERSION} (${platform}; ${arch})`;
}

/**
 * Built once per token (and, for keys, per client User-Agent): the OAuth header set of the
 * official client (docs/upstream.md#model-api); for API keys the bearer key, the calling client's own
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

/** Distinct (content type, accept) pairs kept per account; clients choose the accept. */
const MAX_VARIANTS = 16;

/**
 * One account's request headers, built once per token (for keys, per client User-Agent) and
 * content type and accept: clients send the same few kinds of requests. A built set is never
 * changed, so concurrent calls share it.
 */
export class HeaderCache {
  #token?: string;
  #clientUserAgent: string | null = null;
  #base: Record<string, string> = {};
  readonly #variants = new Map<string, HeadersInit>();

  constructor(private readonly userAgent: string) {}

  get(
    auth: UpstreamAuth,
    clientUserAgent: string | null,
    contentType: string | null,
    accept: string | null,
  ): HeadersInit {
    if (
      auth.token !== this.#token ||
      (auth.kind === "api_key" && clientUserAgent !== this.#clientUserAgent)
    ) {
      this.#token = auth.token;
      this.#clientUserAgent = clientUserAgent;
      this.#base = authHeaders(auth, this.userAgent, clientUserAgent);
      this.#variants.clear();
    }
    const key = `${contentType}\n${accept}`;
    let headers = this.#variants.get(key);
    if (headers === undefined) {
      const record = { ...this.#base };
      if (contentType !== null) record["content-type"] = contentType;
      if (accept !== null) record["accept"] = accept;
      headers = fetchHeaderForm(record);
      if (this.#variants.size < MAX_VARIANTS) this.#variants.set(key, headers);
    }
    return headers;
  }
}

const DROPPED_RESPONSE_HEADERS = [
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
];

/**
 * Our response to the client: `body` with the upstream's status and those of its headers that
 * are safe and still true. The runtime copies the upstream's header list whole and the few
 * unwanted names are deleted from the copy (docs/performance.md).
 */
export function relayedResponse(
  body: BodyInit | null,
  status: number,
  upstream: Headers,
): Response {
  const response = new Response(body, { status, headers: upstream });
  const headers = response.headers;
  for (let i = 0; i < DROPPED_RESPONSE_HEADERS.length; i++) {
    headers.delete(DROPPED_RESPONSE_HEADERS[i]);
  }
  return response;
}
