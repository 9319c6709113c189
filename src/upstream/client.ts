/**
 * One call to the model API, with everything that may happen before the first byte reaches the
 * client: the token, the OAuth refresh-and-retry-once on 401/403, bounded retries with back-off
 * for throttling, 5xx and connection failures, and the first-byte timeout. Once an answer is
 * chosen, its body is passed through as it arrives (pass-through.ts) and never retried.
 */
import type { Fetch } from "../cli/context.ts";
import type { TokenSource, UpstreamAuth } from "../credentials/types.ts";
import { QwenError } from "../errors.ts";
import { openAIError, parseUpstreamError } from "./errors.ts";
import { authHeaders, responseHeaders } from "./headers.ts";
import { passThrough, type PassThroughOutcome } from "./pass-through.ts";
import { retryDelay, type RetryPolicy } from "./retry.ts";

export interface UpstreamClientOptions {
  fetch: Fetch;
  tokens: TokenSource;
  userAgent: string;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  retry: RetryPolicy;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  now(): number;
}

export interface ForwardRequest {
  method: string;
  /** Path below the upstream base (which ends in `/v1`), query included: `/chat/completions`. */
  path: string;
  /** The body to send; a function when it depends on the account (the default model). */
  body:
    | Uint8Array<ArrayBuffer>
    | string
    | null
    | ((auth: UpstreamAuth) => Uint8Array<ArrayBuffer> | string);
  contentType: string | null;
  accept: string | null;
  /** The calling client's User-Agent, forwarded for API-key accounts only. */
  userAgent: string | null;
  /** The client's request signal: when it aborts, so does the upstream call. */
  signal: AbortSignal;
}

/** What happened upstream, for the one log line of the request. */
export interface CallReport {
  upstreamStatus?: number;
  retries: number;
  /** The upstream's error message (never its body), for a failed call. */
  upstreamError?: string;
  /** True when the response body is still flowing; `onBodyEnd` fires when it is done. */
  streaming: boolean;
}

export const FREE_TIER_ENDED_MESSAGE =
  "Qwen refused the OAuth token even after a refresh: the Qwen OAuth free tier was discontinued " +
  "on 2026-04-15. Use an API key from Alibaba Model Studio or the Coding Plan instead " +
  '(see "qwen auth --help").';

/** Error bodies are small; an HTML error page is cut rather than held whole. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

class FirstByteTimeoutError extends Error {
  constructor() {
    super("first byte timeout");
    this.name = "FirstByteTimeoutError";
  }
}

export class UpstreamClient {
  private lastAuth?: UpstreamAuth;
  private lastClientUserAgent: string | null = null;
  private lastHeaders: Record<string, string> = {};

  constructor(private readonly options: UpstreamClientOptions) {}

  /** Headers for a token, rebuilt only when the token (or, for keys, the client's UA) changes. */
  headersFor(auth: UpstreamAuth, clientUserAgent: string | null): Record<string, string> {
    const last = this.lastAuth;
    if (
      last === undefined || last.token !== auth.token || last.kind !== auth.kind ||
      (auth.kind === "api_key" && clientUserAgent !== this.lastClientUserAgent)
    ) {
      this.lastAuth = auth;
      this.lastClientUserAgent = clientUserAgent;
      this.lastHeaders = authHeaders(auth, this.options.userAgent, clientUserAgent);
    }
    return this.lastHeaders;
  }

  async forward(
    request: ForwardRequest,
    report: CallReport,
    onBodyEnd: (outcome: PassThroughOutcome) => void,
  ): Promise<Response> {
    const { options } = this;
    const { signal } = request;
    let refreshed = false;
    let auth: UpstreamAuth;
    try {
      auth = await options.tokens.getToken({ signal });
    } catch (error) {
      return tokenErrorResponse(error, signal);
    }

    for (;;) {
      const controller = new AbortController();
      const onClientAbort = () => controller.abort(signal.reason);
      if (signal.aborted) return clientGone();
      signal.addEventListener("abort", onClientAbort, { once: true });
      const detach = () => signal.removeEventListener("abort", onClientAbort);
      const timer = setTimeout(
        () => controller.abort(new FirstByteTimeoutError()),
        options.firstByteTimeoutMs,
      );

      let response: Response;
      try {
        response = await options.fetch(auth.baseUrl + request.path, {
          method: request.method,
          headers: this.requestHeaders(auth, request),
          body: typeof request.body === "function" ? request.body(auth) : request.body,
          signal: controller.signal,
          redirect: "follow",
        });
      } catch (error) {
        clearTimeout(timer);
        detach();
        if (signal.aborted) return clientGone();
        if (controller.signal.reason instanceof FirstByteTimeoutError) {
          report.upstreamError = "no answer before the first-byte timeout";
          return firstByteTimeoutResponse(options.firstByteTimeoutMs);
        }
        const message = describeFetchError(error);
        report.upstreamError = message;
        const delay = report.retries < options.retry.maxRetries
          ? retryDelay(options.retry, report.retries, null, options.now())
          : undefined;
        if (delay !== undefined && await this.wait(delay, signal)) {
          report.retries++;
          continue;
        }
        if (signal.aborted) return clientGone();
        return jsonResponse(
          502,
          openAIError(
            502,
            `Cannot reach the upstream "${hostOf(auth.baseUrl)}": ${message}`,
            "upstream_unreachable",
          ),
        );
      }
      clearTimeout(timer);
      report.upstreamStatus = response.status;

      if (response.ok) {
        if (response.body === null) {
          detach();
          return new Response(null, {
            status: response.status,
            headers: responseHeaders(response.headers),
          });
        }
        const contentType = response.headers.get("content-type") ?? "";
        if (!contentType.startsWith("text/event-stream")) {
          // A JSON answer arrives in one piece once the model is done, so the first-byte wait
          // covered the time that matters. Handing the body over as is lets the runtime pipe it
          // natively; if the client leaves, the runtime cancels it and with it the fetch.
          detach();
          return new Response(response.body, {
            status: response.status,
            headers: responseHeaders(response.headers),
          });
        }
        report.streaming = true;
        const body = passThrough(response.body, {
          sse: true,
          idleTimeoutMs: options.idleTimeoutMs,
          abort: (reason) => controller.abort(reason),
          onEnd: (outcome) => {
            detach();
            if (outcome.kind === "broken") report.upstreamError = outcome.message;
            onBodyEnd(outcome);
          },
        });
        return new Response(body, {
          status: response.status,
          headers: responseHeaders(response.headers),
        });
      }

      const text = await readCapped(response, MAX_ERROR_BODY_BYTES).catch(() => "");
      detach();
      if (signal.aborted) return clientGone();
      const error = parseUpstreamError(response.status, text);
      report.upstreamError = error.message;

      if (error.failure === "auth" && auth.kind === "oauth") {
        if (refreshed) {
          return jsonResponse(401, openAIError(401, FREE_TIER_ENDED_MESSAGE, "oauth_rejected"));
        }
        refreshed = true;
        // Naming the refused token lets one refresh serve many requests refused at once, and
        // none run when the file already holds a newer token.
        try {
          auth = await options.tokens.getToken({
            forceRefresh: true,
            signal,
            rejectedToken: auth.token,
          });
        } catch (tokenError) {
          return tokenErrorResponse(tokenError, signal);
        }
        continue;
      }

      if (
        (error.failure === "throttle" || error.failure === "server") &&
        report.retries < options.retry.maxRetries
      ) {
        const delay = retryDelay(
          options.retry,
          report.retries,
          response.headers.get("retry-after"),
          options.now(),
        );
        if (delay !== undefined && await this.wait(delay, signal)) {
          report.retries++;
          continue;
        }
        if (signal.aborted) return clientGone();
      }

      const headers = new Headers({ "content-type": "application/json" });
      const retryAfter = response.headers.get("retry-after");
      if (retryAfter !== null) headers.set("retry-after", retryAfter);
      return new Response(error.body, { status: response.status, headers });
    }
  }

  private requestHeaders(auth: UpstreamAuth, request: ForwardRequest): Record<string, string> {
    const base = this.headersFor(auth, request.userAgent);
    if (request.contentType === null && request.accept === null) return base;
    const headers = { ...base };
    if (request.contentType !== null) headers["content-type"] = request.contentType;
    if (request.accept !== null) headers["accept"] = request.accept;
    return headers;
  }

  /** Sleeps before a retry; false when the client left meanwhile. */
  private async wait(ms: number, signal: AbortSignal): Promise<boolean> {
    try {
      await this.options.sleep(ms, signal);
      return !signal.aborted;
    } catch {
      return false;
    }
  }
}

/** A token that cannot be had: the token source's QwenError, with fixed wording for the client. */
export function tokenErrorResponse(error: unknown, signal: AbortSignal): Response {
  if (signal.aborted) return clientGone();
  if (!(error instanceof QwenError)) {
    return jsonResponse(
      500,
      openAIError(500, "Cannot get a token for the upstream", "token_error"),
    );
  }
  const message = TOKEN_ERROR_MESSAGES[error.code] ?? error.message;
  return jsonResponse(error.status, openAIError(error.status, message, error.code));
}

const TOKEN_ERROR_MESSAGES: Record<string, string> = {
  no_credentials: 'No Qwen credentials on this machine: run "qwen auth" to log in',
  needs_login: 'The Qwen login is no longer valid: run "qwen auth" to log in again',
  invalid_credentials: 'The Qwen credentials file cannot be used: run "qwen status" for details',
};

/** The client is gone; this answer is never read, it only ends the handler. */
export function clientGone(): Response {
  return new Response(null, { status: 499 });
}

function firstByteTimeoutResponse(ms: number): Response {
  return jsonResponse(
    504,
    openAIError(
      504,
      `The upstream sent no answer within ${Math.round(ms / 1000)} s: ` +
        'raise "--first-byte-timeout" if the model needs longer',
      "upstream_timeout",
    ),
  );
}

export function jsonResponse(status: number, body: unknown, headers?: HeadersInit): Response {
  const response = new Response(JSON.stringify(body), { status, headers });
  response.headers.set("content-type", "application/json");
  return response;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "upstream";
  }
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}

async function readCapped(response: Response, max: number): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= max) {
      await reader.cancel().catch(() => {});
      break;
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes.subarray(0, max));
}
