/**
 * One call to the model API through the account pool, with everything that may happen before
 * the first byte reaches the client: the token, the OAuth refresh-and-retry-once on 401/403,
 * failover to the next account (quota, throttling, refused credentials, 5xx, connection
 * failures), bounded retries with back-off when every account failed in a way that passes, and
 * the first-byte timeout. Client errors (400, 404, 413, 422) and gateway timeouts go to the
 * client as they are. Once an answer is chosen, its body is passed through as it arrives
 * (pass-through.ts) and never retried.
 */
import { concatBytes } from "../lib/bytes.ts";
import type { Fetch } from "../lib/context.ts";
import type { UpstreamAuth } from "../credentials/types.ts";
import { QwenError } from "../lib/errors.ts";
import type { AccountPool, Member } from "../pool/pool.ts";
import { USAGE_TAIL_BYTES, usageFromBytes, usageFromChunks } from "./usage.ts";
import { redact } from "../server/log.ts";
import type { Metrics } from "../server/metrics.ts";
import { openAIError, parseUpstreamError } from "./classify.ts";
import { authHeaders, relayedResponse } from "./headers.ts";
import {
  IdleTimeoutError,
  passThrough,
  type PassThroughCall,
  type PassThroughOutcome,
} from "./stream/pass-through.ts";
import { parseRetryAfter, retryDelay, type RetryPolicy } from "./retry.ts";
import { type Watch, Watchdog, type WatchHooks } from "./stream/watchdog.ts";

export interface UpstreamClientOptions {
  fetch: Fetch;
  /** The form of a fixed header set that `fetch` takes fastest; a record by default. */
  fetchHeaders?: (headers: Record<string, string>) => HeadersInit;
  pool: AccountPool;
  userAgent: string;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  retry: RetryPolicy;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  now(): number;
  metrics?: Metrics;
}

export interface ForwardRequest {
  method: string;
  /** Path below the upstream base (which ends in `/v1`), query included: `/chat/completions`. */
  path: string;
  /** The body to send; a function when it depends on the account (the model map). */
  body:
    | Uint8Array<ArrayBuffer>
    | string
    | null
    | ((member: Member, auth: UpstreamAuth) => Uint8Array<ArrayBuffer> | string);
  contentType: string | null;
  accept: string | null;
  /** The calling client's User-Agent, forwarded for API-key accounts only. */
  userAgent: string | null;
  /**
   * The client's request: when its signal aborts, so does the upstream call. The signal is read
   * only when a call lasts past the watchdog's first tick or fails, so short calls never create
   * it.
   */
  clientRequest: Request;
  /** The client's connection: a call that outlives the watchdog's first tick lifts its idle timeout. */
  connection?: ClientConnection;
  /** Count the tokens of a successful answer (chat completions). */
  usage?: boolean;
}

/**
 * The server side of the client's connection (the runtime's RequestInfo). An object rather than
 * a callback: nothing is allocated per request for it.
 */
export interface ClientConnection {
  disableIdleTimeout(): void;
}

/** What happened upstream, for the one log line of the request. */
export interface CallReport {
  upstreamStatus?: number;
  retries: number;
  /** The upstream's error message (never its body), for a failed call. */
  upstreamError?: string;
  /** True when the response body is still flowing; `bodyEnded` is called when it is done. */
  streaming: boolean;
  /** The account of the last call. */
  account?: string;
  /** A streamed body ended, broke or was cancelled (after `forward` returned). */
  bodyEnded(outcome: PassThroughOutcome): void;
}

export const FREE_TIER_ENDED_MESSAGE =
  "Qwen refused the OAuth token even after a refresh: the Qwen OAuth free tier was discontinued " +
  "on 2026-04-15. Use an API key from Alibaba Model Studio or the Coding Plan instead " +
  '(see "qwen auth --help").';

/** Distinct (content type, accept) header sets kept per account; clients choose the accept. */
const MAX_HEADER_VARIANTS = 16;

/** Error bodies are small; an HTML error page is cut rather than held whole. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

const CODING_AGENTS = /only available for Coding Agents/i;
/** Quota messages that speak of a day: Qwen's daily quotas reset at midnight Beijing time. */
const DAILY = /\b(daily|per day|today)\b/i;

class FirstByteTimeoutError extends Error {
  constructor() {
    super("first byte timeout");
    this.name = "FirstByteTimeoutError";
  }
}

/**
 * What can end one upstream fetch early: the client leaving, or a timeout (first byte, then
 * silence while the body arrives). Timeouts come from the shared watchdog; the client's signal is
 * subscribed to only once the call turns out slow, or looked at when it failed.
 */
class CallControl implements WatchHooks {
  readonly controller = new AbortController();
  readonly watch: Watch;
  /** Set once the first byte came: an expiry is then silence while the body arrives. */
  #idleTimeoutMs?: number;
  #clientSignal?: AbortSignal;
  #onClientAbort?: () => void;
  // Plain fields and no closures: the watchdog's set is long-lived, and on Bun whatever it
  // reaches costs more than its size. Holding the ForwardRequest (and through its body closure
  // the whole route's scope) cost ~10 µs of CPU per request (pinned, tiny JSON at c=16).
  readonly #clientRequest: Request;
  readonly #connection: ClientConnection | undefined;

  constructor(request: ForwardRequest, dog: Watchdog, firstByteMs: number) {
    this.#clientRequest = request.clientRequest;
    this.#connection = request.connection;
    this.watch = dog.watch(firstByteMs, this);
  }

  /**
   * The first byte came: from now on the watch measures silence, and an expiry aborts the fetch
   * with an IdleTimeoutError (a body being read fails with it).
   */
  receiving(idleTimeoutMs: number): void {
    this.#idleTimeoutMs = idleTimeoutMs;
    this.watch.restart(idleTimeoutMs);
  }

  expire(): void {
    this.controller.abort(
      this.#idleTimeoutMs === undefined
        ? new FirstByteTimeoutError()
        : new IdleTimeoutError(this.#idleTimeoutMs),
    );
  }

  slow(): void {
    this.follow();
  }

  /** From now on a client abort aborts the call at once. */
  follow(): void {
    if (this.#clientSignal !== undefined) return;
    this.#connection?.disableIdleTimeout();
    const signal = this.#clientSignal = this.#clientRequest.signal;
    if (signal.aborted) {
      this.controller.abort(signal.reason);
      return;
    }
    this.#onClientAbort = () => this.controller.abort(signal.reason);
    signal.addEventListener("abort", this.#onClientAbort, { once: true });
  }

  /** The call is over (or its body is handed over as is): nothing watches it any more. */
  release(): void {
    this.watch.stop();
    if (this.#onClientAbort !== undefined) {
      this.#clientSignal!.removeEventListener("abort", this.#onClientAbort);
      this.#onClientAbort = undefined;
    }
  }
}

/** A streamed answer's call, as the pass-through sees it; its end tells the pool and the report. */
class StreamedCall implements PassThroughCall {
  readonly watch: Watch;
  readonly signal: AbortSignal;

  constructor(
    private readonly control: CallControl,
    private readonly options: UpstreamClientOptions,
    private readonly member: Member,
    private readonly report: CallReport,
  ) {
    this.watch = control.watch;
    this.signal = control.controller.signal;
  }

  abort(reason: unknown): void {
    this.control.controller.abort(reason);
  }

  ended(outcome: PassThroughOutcome): void {
    const { pool, metrics } = this.options;
    this.control.release();
    if (metrics) metrics.openStreams--;
    if (outcome.kind === "broken") {
      this.report.upstreamError = outcome.message;
      pool.failed(this.member, "stream_broken");
    }
    if (outcome.tail) {
      const usage = usageFromChunks(outcome.tail);
      if (usage) pool.usage(this.member, usage);
    }
    this.report.bodyEnded(outcome);
  }
}

/** A failed attempt: try the next account; `error` is what the client gets if none is left. */
interface Failure {
  error?: { status: number; body: string; retryAfter: string | null };
  tokenError?: unknown;
  /** Worth a retry after a wait when every account failed this way (throttling, 5xx, network). */
  retryable: boolean;
}

/**
 * One request's way through the pool: the accounts of this round, the one being tried, and what
 * the failures so far ask for. Plain fields: an in-flight request keeps it alive (see `forward`).
 */
class Forwarding {
  index = 0;
  /** Some attempt of this round failed in a way a retry may fix. */
  retryable = false;
  retryAfter: string | null = null;
  tokenErrors?: Map<Member, string>;

  constructor(
    readonly request: ForwardRequest,
    readonly report: CallReport,
    public round: readonly Member[],
  ) {}
}

export class UpstreamClient {
  readonly #watchdog: Watchdog;

  constructor(private readonly options: UpstreamClientOptions) {
    this.#watchdog = new Watchdog(Math.min(options.firstByteTimeoutMs, options.idleTimeoutMs));
  }

  /** Headers for a token, rebuilt only when the token (or, for keys, the client's UA) changes. */
  headersFor(
    member: Member,
    auth: UpstreamAuth,
    clientUserAgent: string | null,
  ): Record<string, string> {
    if (
      member.headerToken !== auth.token || member.headerKind !== auth.kind ||
      (auth.kind === "api_key" && clientUserAgent !== member.headerUserAgent)
    ) {
      member.headerToken = auth.token;
      member.headerKind = auth.kind;
      member.headerUserAgent = clientUserAgent;
      member.headers = authHeaders(auth, this.options.userAgent, clientUserAgent);
      member.headerVariants.clear();
    }
    return member.headers;
  }

  /**
   * Sends the request with the pool's accounts in turn until one answers: failover happens only
   * before a byte reached the client, and nothing of a failed attempt ever does.
   */
  forward(request: ForwardRequest, report: CallReport): Promise<Response> {
    const { pool } = this.options;
    const round = pool.candidates();
    if (round.length === 0) return Promise.resolve(pool.unavailableResponse());
    // While the upstream answers, the attempt's frame is the client's only one: the failover steps
    // run only after a failure. On Bun each frame an in-flight request keeps alive (a function, its
    // scope, a generator, a promise) is promoted by every young collection: CPU under load.
    return this.attempt(new Forwarding(request, report, round));
  }

  /** The attempt with `f.round[f.index]` failed: the next account, a retry, or the last error. */
  private async failedOver(f: Forwarding, failure: Failure): Promise<Response> {
    const { options } = this;
    const { pool } = options;
    const { request, report } = f;
    if (request.clientRequest.signal.aborted) return clientGone();
    if (failure.retryable) {
      f.retryable = true;
      if (failure.error?.retryAfter) f.retryAfter = failure.error.retryAfter;
    }
    if (failure.tokenError !== undefined) {
      (f.tokenErrors ??= new Map()).set(f.round[f.index], describeTokenError(failure.tokenError));
    }
    if (++f.index < f.round.length) return this.attempt(f);

    // Every account failed this round: wait and go again when that can help.
    if (f.retryable && report.retries < options.retry.maxRetries) {
      const delay = retryDelay(options.retry, report.retries, f.retryAfter, options.now());
      if (delay !== undefined) {
        // Waiting before a retry makes the call a long one whatever the attempts took.
        request.connection?.disableIdleTimeout();
        if (!await this.wait(delay, request.clientRequest.signal)) return clientGone();
        report.retries++;
        f.round = pool.candidates();
        f.index = 0;
        f.retryable = false;
        f.retryAfter = null;
        if (f.round.length > 0) return this.attempt(f);
      }
    }

    if (failure.error) {
      let after = failure.error.retryAfter;
      if (after === null && failure.error.status === 429) {
        const soonest = pool.soonestRecovery();
        if (soonest !== undefined && pool.candidates().length === 0) {
          after = String(Math.max(1, Math.ceil((soonest - options.now()) / 1000)));
        }
      }
      return errorResponse({ ...failure.error, retryAfter: after });
    }
    if (failure.tokenError !== undefined && pool.size === 1) {
      return tokenErrorResponse(failure.tokenError, request.clientRequest.signal);
    }
    return pool.unavailableResponse(f.tokenErrors);
  }

  /** One attempt with `f.round[f.index]`, the OAuth refresh-and-retry-once included. */
  private async attempt(f: Forwarding): Promise<Response> {
    const { options } = this;
    const { pool, metrics } = options;
    const { request, report } = f;
    const member = f.round[f.index];
    report.account = member.name;
    let auth = member.source.peekToken?.();
    if (auth === undefined) {
      try {
        auth = await member.source.getToken({ signal: request.clientRequest.signal });
      } catch (error) {
        return this.failedOver(f, { tokenError: error, retryable: false });
      }
    }
    let refreshed = false;

    for (;;) {
      if (refreshed && request.clientRequest.signal.aborted) {
        return clientGone();
      }
      const call = new CallControl(request, this.#watchdog, options.firstByteTimeoutMs);
      pool.attempted(member);
      let response: Response;
      try {
        response = await options.fetch(auth.baseUrl + request.path, {
          method: request.method,
          headers: this.requestHeaders(member, auth, request),
          body: typeof request.body === "function" ? request.body(member, auth) : request.body,
          signal: call.controller.signal,
          redirect: "follow",
        });
      } catch (error) {
        call.release();
        if (request.clientRequest.signal.aborted) return clientGone();
        if (call.controller.signal.reason instanceof FirstByteTimeoutError) {
          report.upstreamError = "no answer before the first-byte timeout";
          pool.failed(member, "timeout");
          return firstByteTimeoutResponse(options.firstByteTimeoutMs);
        }
        const message = describeFetchError(error);
        report.upstreamError = message;
        pool.failed(member, "network");
        const body = JSON.stringify(openAIError(
          502,
          `Cannot reach the upstream "${hostOf(auth.baseUrl)}": ${message}`,
          "upstream_unreachable",
        ));
        return this.failedOver(f, {
          error: { status: 502, body, retryAfter: null },
          retryable: true,
        });
      }
      report.upstreamStatus = response.status;

      if (response.ok) {
        pool.succeeded(member);
        return await this.success(member, response, request, report, call);
      }

      // An error body is small and read at once: the client is followed from here on.
      call.follow();
      const text = await readCapped(response, MAX_ERROR_BODY_BYTES).catch(() => "");
      call.release();
      if (request.clientRequest.signal.aborted) return clientGone();
      const error = parseUpstreamError(response.status, text);
      const message = redact(error.message).replaceAll(auth.token, "[redacted]");
      report.upstreamError = message;
      pool.failed(member, error.failure);
      const retryAfter = response.headers.get("retry-after");
      const upstreamError = { status: response.status, body: error.body, retryAfter };

      switch (error.failure) {
        case "auth": {
          if (auth.kind === "oauth" && !refreshed) {
            refreshed = true;
            // Naming the refused token lets one refresh serve many requests refused at once,
            // and none run when the file already holds a newer token.
            try {
              auth = await member.source.getToken({
                forceRefresh: true,
                signal: request.clientRequest.signal,
                rejectedToken: auth.token,
              });
              metrics?.refresh(member.name, "ok");
            } catch (tokenError) {
              metrics?.refresh(member.name, "failed");
              if (request.clientRequest.signal.aborted) {
                return clientGone();
              }
              return this.failedOver(f, { tokenError, retryable: false });
            }
            continue;
          }
          pool.rejected(member, "invalid_credentials", clip(message));
          if (auth.kind === "oauth") {
            const body = JSON.stringify(
              openAIError(401, FREE_TIER_ENDED_MESSAGE, "oauth_rejected"),
            );
            return this.failedOver(f, {
              error: { status: 401, body, retryAfter: null },
              retryable: false,
            });
          }
          return this.failedOver(f, { error: upstreamError, retryable: false });
        }
        case "arrears":
          pool.rejected(member, "arrears", clip(message));
          return this.failedOver(f, { error: upstreamError, retryable: false });
        case "quota": {
          const now = options.now();
          const asked = parseRetryAfter(retryAfter, now);
          pool.quota(member, {
            until: asked === undefined ? undefined : now + asked,
            daily: auth.kind === "oauth" || DAILY.test(message),
            message: clip(message),
          });
          return this.failedOver(f, { error: upstreamError, retryable: false });
        }
        case "throttle": {
          const asked = parseRetryAfter(retryAfter, options.now());
          pool.throttled(member, asked === undefined ? undefined : options.now() + asked);
          return this.failedOver(f, { error: upstreamError, retryable: true });
        }
        case "server":
          return this.failedOver(f, { error: upstreamError, retryable: true });
        default:
          if (response.status === 405 && CODING_AGENTS.test(error.message)) {
            return jsonResponse(
              405,
              openAIError(405, codingPlanMessage(request.userAgent), "coding_plan_client"),
            );
          }
          // The request itself (400, 404, 413, 422) or a gateway timeout: another account
          // would answer the same.
          return errorResponse(upstreamError);
      }
    }
  }

  /** The 2xx answer as the client gets it, usage counted on the way. */
  private async success(
    member: Member,
    response: Response,
    request: ForwardRequest,
    report: CallReport,
    call: CallControl,
  ): Promise<Response> {
    const { options } = this;
    const { pool, metrics } = options;
    const status = response.status;
    // `response.body` is not read unless needed: on Bun it turns a native body into a JS stream,
    // and bytes() below would then read through that instead of natively.
    const sse = (response.headers.get("content-type") ?? "").startsWith("text/event-stream");
    if (status === 204 || status === 205 || status === 304 || (sse && response.body === null)) {
      call.release();
      return relayedResponse(null, status, response.headers);
    }
    if (!sse) {
      if (!request.usage) {
        // Handing the body over as is lets the runtime pipe it natively; if the client leaves,
        // the runtime cancels it and with it the fetch.
        call.release();
        return relayedResponse(response.body, status, response.headers);
      }
      // A JSON answer arrives in one piece once the model is done: read it whole (natively),
      // find its usage near the end, and send the same bytes.
      call.receiving(options.idleTimeoutMs);
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await response.bytes();
      } catch (error) {
        if (request.clientRequest.signal.aborted) return clientGone();
        const reason = call.controller.signal.reason;
        if (reason instanceof IdleTimeoutError) {
          report.upstreamError = reason.message;
          pool.failed(member, "timeout");
          return jsonResponse(
            504,
            openAIError(504, `${reason.message}: the answer was cut`, "upstream_idle_timeout"),
          );
        }
        const message = `The upstream connection broke mid-response: ${describeFetchError(error)}`;
        report.upstreamError = message;
        pool.failed(member, "network");
        return jsonResponse(502, openAIError(502, message, "upstream_stream_error"));
      } finally {
        call.release();
      }
      const usage = usageFromBytes(bytes);
      if (usage) pool.usage(member, usage);
      return relayedResponse(bytes, status, response.headers);
    }
    report.streaming = true;
    if (metrics) metrics.openStreams++;
    call.receiving(options.idleTimeoutMs);
    const piped = await passThrough(
      response.body!,
      new StreamedCall(call, options, member, report),
      { sse: true, keepTailBytes: request.usage ? USAGE_TAIL_BYTES : 0 },
    );
    return relayedResponse(piped, status, response.headers);
  }

  /**
   * The headers of a call, built once per account, token and (content type, accept): clients
   * send the same few kinds of requests. Kept in the form the runtime's fetch copies fastest (on
   * Bun a Headers object: ~2 us of CPU per request less than a record, pinned, tiny JSON at
   * c=16). Never changed once built, so calls share it.
   */
  private requestHeaders(
    member: Member,
    auth: UpstreamAuth,
    request: ForwardRequest,
  ): HeadersInit {
    const base = this.headersFor(member, auth, request.userAgent);
    const { contentType, accept } = request;
    const key = `${contentType}\n${accept}`;
    let headers = member.headerVariants.get(key);
    if (headers === undefined) {
      const record = { ...base };
      if (contentType !== null) record["content-type"] = contentType;
      if (accept !== null) record["accept"] = accept;
      headers = this.options.fetchHeaders?.(record) ?? record;
      if (member.headerVariants.size < MAX_HEADER_VARIANTS) member.headerVariants.set(key, headers);
    }
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

/** Coding Plan's 405 to a client that is not a coding agent, explained. */
export function codingPlanMessage(userAgent: string | null): string {
  const ua = userAgent === null ? "none" : `"${clip(userAgent, 80)}"`;
  return "The Coding Plan refused this call: Alibaba's terms allow Coding Plan keys only from " +
    "coding agents (interactive coding tools such as Qwen Code, Claude Code, Cline or opencode). " +
    `qwen forwards your client's own User-Agent (${ua}) and never makes one up; call it from a ` +
    'coding agent, or use a pay-as-you-go key ("qwen auth --provider dashscope")';
}

function errorResponse(error: { status: number; body: string; retryAfter: string | null }) {
  const headers = new Headers({ "content-type": "application/json" });
  if (error.retryAfter !== null) headers.set("retry-after", error.retryAfter);
  return new Response(error.body, { status: error.status, headers });
}

function describeTokenError(error: unknown): string {
  if (error instanceof QwenError) return error.message;
  return "cannot get a token";
}

function clip(text: string, max = 300): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
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
  return new TextDecoder().decode(concatBytes(chunks, size).subarray(0, max));
}
