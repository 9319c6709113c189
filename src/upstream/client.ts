/**
 * One call to the model API through the account pool, with everything that may happen before
 * the first byte reaches the client: the token, the OAuth refresh-and-retry-once on a refused
 * token, failover to the next account, bounded retries with back-off when every account failed
 * in a way that passes, and the first-byte timeout. What an error answer means is decided by
 * classify.ts. Once an answer is chosen, its body is passed through as it arrives
 * (stream/pass-through.ts) and never retried.
 */
import type { UpstreamAuth } from "../credentials/types.ts";
import { readAtMost, readTextAtMost } from "../lib/bytes.ts";
import type { Fetch } from "../lib/context.ts";
import { describeError } from "../lib/errors.ts";
import { clip, hostOf, redact, withoutSecrets } from "../lib/text.ts";
import type { AccountPool, Member } from "../pool/pool.ts";
import {
  acceptsTheCredentials,
  ACCOUNT_EFFECT,
  classifyAnswer,
  codingPlanMessage,
  failureClass,
  MAX_ERROR_BODY_BYTES,
  OAUTH_DISCONTINUED_MESSAGE,
  passesWithTime,
  refusesTheRequest,
  triesNextAccount,
} from "./classify.ts";
import {
  CallFailure,
  tokenFailure,
  tokenProblem,
  unavailableFailure,
  upstreamFailure,
} from "./failure.ts";
import { HeaderCache, relayedResponse } from "./headers.ts";
import { retryDelay, type RetryPolicy } from "./retry.ts";
import {
  type BodyReading,
  type BodyTransform,
  IdleTimeoutError,
  passThrough,
  type PassThroughCall,
  type PassThroughOutcome,
  ShutdownError,
} from "./stream/pass-through.ts";
import { type Watch, Watchdog, type WatchHooks } from "./stream/watchdog.ts";
import { USAGE_TAIL_BYTES, usageFromBytes, usageFromChunks } from "./usage.ts";

/** What the client reports as it goes; the server's metrics implement it. */
export interface CallObserver {
  streamOpened(): void;
  streamClosed(): void;
  refresh(account: string, result: "ok" | "failed"): void;
}

interface UpstreamClientOptions {
  fetch: Fetch;
  pool: AccountPool;
  userAgent: string;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  /** The largest answer read whole (a JSON answer, decoded), `--max-response`. */
  maxResponseBytes: number;
  retry: RetryPolicy;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  now(): number;
  observer?: CallObserver;
}

export interface ForwardRequest {
  method: string;
  /** Path below the upstream base (which ends in `/v1`), query included: `/chat/completions`. */
  path: string;
  /** The model the client asked for, when it names one: refusals of it are remembered. */
  model?: string;
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
  /**
   * A generation call (chat completions, and the dialects over it): after a 5xx it goes to the
   * next account, and again after a wait. Other calls (files, batches, ...) may have done their
   * work before the upstream failed, and sending them again is not safe: their 5xx is relayed.
   */
  retryServerErrors?: boolean;
  /** Translates a streamed (SSE) answer on its way to the client (another API dialect). */
  transform?: BodyTransform;
}

/** The server side of the client's connection (the runtime's RequestInfo). */
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

class FirstByteTimeoutError extends Error {
  constructor() {
    super("first byte timeout");
    this.name = "FirstByteTimeoutError";
  }
}

/**
 * What can end one upstream fetch early: the client leaving, or a timeout (first byte, then
 * silence while the body arrives). Timeouts come from the shared watchdog; the client's signal is
 * subscribed to only once the call turns out slow, or looked at when it failed. Plain fields and
 * no closures: an in-flight call keeps this alive (docs/performance.md).
 */
class CallControl implements WatchHooks {
  readonly controller = new AbortController();
  readonly watch: Watch;
  /** Set once the first byte came: an expiry is then silence while the body arrives. */
  #idleTimeoutMs?: number;
  #clientSignal?: AbortSignal;
  #onClientAbort?: () => void;
  readonly #clientRequest: Request;
  readonly #connection: ClientConnection | undefined;
  /** The streamed body's reader, once the answer streams. */
  body?: BodyReading;

  constructor(request: ForwardRequest, dog: Watchdog, firstByteMs: number) {
    this.#clientRequest = request.clientRequest;
    this.#connection = request.connection;
    this.watch = dog.watch(firstByteMs, this);
  }

  /** The first byte came: from now on the watch measures silence. */
  receiving(idleTimeoutMs: number): void {
    this.#idleTimeoutMs = idleTimeoutMs;
    this.watch.restart(idleTimeoutMs);
  }

  expire(): void {
    this.abort(
      this.#idleTimeoutMs === undefined
        ? new FirstByteTimeoutError()
        : new IdleTimeoutError(this.#idleTimeoutMs),
    );
  }

  /** Aborts the fetch, and stops the read of its body when one is streaming. */
  abort(reason: unknown): void {
    this.controller.abort(reason);
    this.body?.stopReading(reason);
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
    private readonly open: Set<StreamedCall>,
  ) {
    this.watch = control.watch;
    this.signal = control.controller.signal;
    open.add(this);
  }

  abort(reason: unknown): void {
    this.control.abort(reason);
  }

  reading(body: BodyReading): void {
    this.control.body = body;
  }

  ended(outcome: PassThroughOutcome): void {
    const { pool, observer } = this.options;
    this.open.delete(this);
    this.control.release();
    observer?.streamClosed();
    if (outcome.kind === "broken") {
      this.report.upstreamError = outcome.message;
      pool.failed(this.member, "stream_broken");
    } else if (outcome.kind === "shutdown") {
      // Not the upstream's doing: the account is not blamed, but the log line says what happened.
      this.report.upstreamError = outcome.message;
    }
    const usage = outcome.usage ?? (outcome.tail && usageFromChunks(outcome.tail));
    if (usage) pool.usage(this.member, usage);
    this.report.bodyEnded(outcome);
  }
}

/**
 * How one attempt with one account ended when it brought no answer to relay. `final`: no other
 * account or retry can change the outcome (the request's own fault, the client left).
 */
interface Attempt {
  failure: CallFailure;
  final: boolean;
  /** Worth a retry after a wait when every account failed this way (throttling, 5xx, network). */
  passes: boolean;
  /** The upstream refused what was asked (a model), not the account: one more account may try. */
  refusal?: boolean;
  tokenError?: unknown;
}

export class UpstreamClient {
  readonly #watchdog: Watchdog;
  readonly #headers = new WeakMap<Member, HeaderCache>();
  /** The streamed answers still flowing to their clients, for the end of a shutdown. */
  readonly #streams = new Set<StreamedCall>();

  constructor(private readonly options: UpstreamClientOptions) {
    this.#watchdog = new Watchdog(Math.min(options.firstByteTimeoutMs, options.idleTimeoutMs));
  }

  /**
   * Sends the request with the pool's accounts in turn until one answers, in rounds: when every
   * account of a round failed in a way that passes with time, it waits and tries a new round.
   * Failover happens only before a byte reached the client, and nothing of a failed attempt ever
   * does. The answer is the upstream's response, or why there is none.
   */
  async forward(request: ForwardRequest, report: CallReport): Promise<Response | CallFailure> {
    const { pool, retry } = this.options;
    let last: Attempt | undefined;
    /** The first refusal of what was asked: what the client gets when nobody serves it. */
    let refusal: Attempt | undefined;
    let tokenErrors: Map<Member, string> | undefined;
    for (;;) {
      // A rejected account whose back-off has passed goes first, for this request alone.
      const trial = pool.takeTrial();
      const candidates = pool.candidates(request.model);
      const round = trial === undefined ? candidates : [trial, ...candidates];
      if (round.length === 0) break;
      let passes = false;
      let retryAfter: string | null = null;
      for (const member of round) {
        let outcome: Response | Attempt;
        try {
          outcome = await this.attempt(member, request, report);
        } finally {
          if (member === trial) pool.endTrial(member);
        }
        if (outcome instanceof Response) return outcome;
        if (clientLeft(request)) return clientGone();
        // A try is the request's detour: what it ends with does not decide for the others.
        if (outcome.final && member !== trial) return outcome.failure;
        last = outcome;
        if (outcome.refusal) {
          // Another account may own the model: the request goes on, those that refused it lately
          // being last; the first refusal is the answer when none serves it.
          pool.modelRefused(member, request.model);
          refusal ??= outcome;
        }
        if (outcome.tokenError !== undefined) {
          // The client's words: the token source's own message names files of the home folder.
          (tokenErrors ??= new Map()).set(member, tokenProblem(outcome.tokenError));
        }
        if (outcome.passes) {
          passes = true;
          retryAfter = outcome.failure.retryAfter ?? retryAfter;
        }
      }
      // Every account failed this round: wait and go again when that can help.
      if (!passes || report.retries >= retry.maxRetries) break;
      const delay = retryDelay(retry, report.retries, retryAfter, this.options.now());
      if (delay === undefined) break;
      // Waiting before a retry makes the call a long one whatever the attempts took.
      request.connection?.disableIdleTimeout();
      if (!await this.wait(delay, request.clientRequest.signal)) return clientGone();
      report.retries++;
    }
    // An account's own trouble (its key refused, its token lost) says nothing about the request.
    return refusal?.failure ?? this.lastFailure(last, tokenErrors);
  }

  /**
   * Ends every stream still open (the grace period of a shutdown is over): each client gets an
   * error event in its API's shape, as for a broken stream, and its response ends. Returns how
   * many there were.
   */
  cutStreams(): number {
    const open = [...this.#streams];
    for (const stream of open) stream.abort(new ShutdownError());
    return open.length;
  }

  /** What the client gets when no attempt brought an answer. */
  private lastFailure(
    last: Attempt | undefined,
    tokenErrors: Map<Member, string> | undefined,
  ): CallFailure {
    const { pool } = this.options;
    const now = this.options.now();
    if (last === undefined || (last.tokenError !== undefined && pool.size > 1)) {
      return unavailableFailure(pool.verdict(tokenErrors), now);
    }
    const failure = last.failure;
    if (failure.status === 429 && failure.retryAfter === null) {
      // A quota answer without Retry-After: when every account cools down, say until when.
      const soonest = pool.soonestRecovery();
      if (soonest !== undefined && pool.candidates().length === 0) {
        const seconds = String(Math.max(1, Math.ceil((soonest - now) / 1000)));
        return new CallFailure(
          failure.status,
          failure.code,
          failure.message,
          seconds,
          failure.upstream,
        );
      }
    }
    return failure;
  }

  /** One attempt with one account, the OAuth refresh-and-retry-once included. */
  private async attempt(
    member: Member,
    request: ForwardRequest,
    report: CallReport,
  ): Promise<Response | Attempt> {
    const { options } = this;
    const { pool } = options;
    report.account = member.name;
    let auth = member.source.peekToken?.();
    if (auth === undefined) {
      try {
        auth = await member.source.getToken({ signal: request.clientRequest.signal });
      } catch (error) {
        if (clientLeft(request)) return clientGone();
        return { failure: tokenFailure(error), final: false, passes: false, tokenError: error };
      }
    }

    for (let refreshed = false;; refreshed = true) {
      // Built outside the fetch's error handling: a body that cannot be built is this server's
      // failure, thrown to the route, not the network's (which would be retried and counted).
      const body = typeof request.body === "function" ? request.body(member, auth) : request.body;
      const call = new CallControl(request, this.#watchdog, options.firstByteTimeoutMs);
      pool.attempted(member);
      let response: Response;
      try {
        response = await options.fetch(auth.baseUrl + request.path, {
          method: request.method,
          headers: this.headersOf(member).get(
            auth,
            request.userAgent,
            request.contentType,
            request.accept,
          ),
          body,
          signal: call.controller.signal,
          redirect: "follow",
        });
      } catch (error) {
        call.release();
        if (clientLeft(request)) return clientGone();
        return this.unanswered(member, auth, call, error, report);
      }
      report.upstreamStatus = response.status;
      if (response.ok) {
        pool.succeeded(member);
        return await this.success(member, response, request, report, call);
      }

      // An error body is small and read at once: the client is followed from here on.
      call.follow();
      const text = await readTextAtMost(response, MAX_ERROR_BODY_BYTES).catch(() => "");
      call.release();
      if (clientLeft(request)) return clientGone();
      const error = classifyAnswer(
        response.status,
        response.headers,
        // An upstream that quotes a credential back must not get it into a log or to the client:
        // what is relayed (the body, the message) is made of this text only.
        withoutSecrets(text, [auth.token, ...auth.otherSecrets ?? []]),
        { kind: auth.kind, now: options.now() },
      );
      const message = redact(error.message);
      report.upstreamError = message;
      pool.failed(member, failureClass(error.failure));

      if (error.failure === "invalid_credentials" && auth.kind === "oauth" && !refreshed) {
        // Naming the refused token lets one refresh serve many requests refused at once, and
        // none runs when the file already holds a newer token.
        try {
          auth = await member.source.getToken({
            forceRefresh: true,
            signal: request.clientRequest.signal,
            rejectedToken: auth.token,
          });
          options.observer?.refresh(member.name, "ok");
          if (clientLeft(request)) return clientGone();
        } catch (tokenError) {
          options.observer?.refresh(member.name, "failed");
          if (clientLeft(request)) return clientGone();
          return { failure: tokenFailure(tokenError), final: false, passes: false, tokenError };
        }
        continue;
      }

      if (acceptsTheCredentials(error.failure)) pool.credentialsAccepted(member);
      switch (ACCOUNT_EFFECT[error.failure]) {
        case "reject":
          pool.rejected(
            member,
            error.failure === "arrears" ? "arrears" : "invalid_credentials",
            clip(message),
          );
          break;
        case "cool":
          pool.quota(member, { until: error.resetAt, message: clip(message) });
          break;
        case "throttle":
          pool.throttled(member, error.resetAt);
          break;
      }
      const retryAfter = response.headers.get("retry-after");
      let failure = upstreamFailure(error, retryAfter);
      if (error.failure === "coding_plan_client") {
        failure = new CallFailure(405, "coding_plan_client", codingPlanMessage(request.userAgent));
      } else if (error.failure === "invalid_credentials" && auth.kind === "oauth") {
        failure = new CallFailure(401, "oauth_rejected", OAUTH_DISCONTINUED_MESSAGE);
      }
      const relayNow = error.failure === "server" && !request.retryServerErrors;
      return {
        failure,
        final: relayNow || !triesNextAccount(error.failure),
        passes: !relayNow && passesWithTime(error.failure),
        refusal: refusesTheRequest(error.failure),
      };
    }
  }

  /** The fetch failed without an answer: a connection failure, or the first-byte timeout. */
  private unanswered(
    member: Member,
    auth: UpstreamAuth,
    call: CallControl,
    error: unknown,
    report: CallReport,
  ): Attempt {
    const { pool, firstByteTimeoutMs } = this.options;
    if (call.controller.signal.reason instanceof FirstByteTimeoutError) {
      report.upstreamError = "no answer before the first-byte timeout";
      pool.failed(member, "timeout");
      const failure = new CallFailure(
        504,
        "upstream_timeout",
        `The upstream sent no answer within ${Math.round(firstByteTimeoutMs / 1000)} s: ` +
          'raise "--first-byte-timeout" if the model needs longer',
      );
      return { failure, final: true, passes: false };
    }
    const message = describeError(error);
    report.upstreamError = message;
    pool.failed(member, "network");
    const failure = new CallFailure(
      502,
      "upstream_unreachable",
      `Cannot reach the upstream "${hostOf(auth.baseUrl)}": ${message}`,
    );
    return { failure, final: false, passes: true };
  }

  /** The 2xx answer as the client gets it, usage counted on the way. */
  private async success(
    member: Member,
    response: Response,
    request: ForwardRequest,
    report: CallReport,
    call: CallControl,
  ): Promise<Response | Attempt> {
    const { options } = this;
    const { pool } = options;
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
      // A JSON answer arrives in one piece once the model is done: read it whole (up to the
      // limit), find its usage near the end, and send the same bytes.
      call.receiving(options.idleTimeoutMs);
      let bytes: Uint8Array<ArrayBuffer> | undefined;
      try {
        bytes = await readWhole(response, options.maxResponseBytes);
      } catch (error) {
        if (clientLeft(request)) return clientGone();
        return { failure: this.cut(member, call, error, report), final: true, passes: false };
      } finally {
        call.release();
      }
      if (bytes === undefined) {
        const failure = responseTooLarge(options.maxResponseBytes);
        report.upstreamError = failure.message;
        return { failure, final: true, passes: false };
      }
      const usage = usageFromBytes(bytes);
      if (usage) pool.usage(member, usage);
      return relayedResponse(bytes, status, response.headers);
    }
    report.streaming = true;
    options.observer?.streamOpened();
    call.receiving(options.idleTimeoutMs);
    const piped = await passThrough(
      response.body!,
      new StreamedCall(call, options, member, report, this.#streams),
      {
        // A translation reads the usage itself.
        keepTailBytes: request.usage && request.transform === undefined ? USAGE_TAIL_BYTES : 0,
        transform: request.transform,
      },
    );
    return relayedResponse(piped, status, response.headers);
  }

  /** A JSON answer broke off while it was read. */
  private cut(member: Member, call: CallControl, error: unknown, report: CallReport): CallFailure {
    const { pool } = this.options;
    const reason = call.controller.signal.reason;
    if (reason instanceof IdleTimeoutError) {
      report.upstreamError = reason.message;
      pool.failed(member, "timeout");
      return new CallFailure(504, "upstream_idle_timeout", `${reason.message}: the answer was cut`);
    }
    const message = `The upstream connection broke mid-response: ${describeError(error)}`;
    report.upstreamError = message;
    pool.failed(member, "network");
    return new CallFailure(502, "upstream_stream_error", message);
  }

  private headersOf(member: Member): HeaderCache {
    let cache = this.#headers.get(member);
    if (cache === undefined) {
      cache = new HeaderCache(this.options.userAgent);
      this.#headers.set(member, cache);
    }
    return cache;
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

/**
 * Whether the client left. Asked only after something failed: on Bun, reading a request's
 * `signal` creates it, and a call that succeeds never needs it (docs/performance.md).
 */
function clientLeft(request: ForwardRequest): boolean {
  return request.clientRequest.signal.aborted;
}

/** The client is gone; this answer is never read, it only ends the handler. */
export function clientGone(): Response {
  return new Response(null, { status: 499 });
}

/**
 * A JSON answer read whole, or undefined when it is larger than `max` bytes once decoded, and
 * then the rest is not read (a gzip bomb is counted as it inflates). Read natively when its
 * declared length is its size: on Bun, `bytes()` beats a JS reader, which `response.body` makes.
 */
async function readWhole(
  response: Response,
  max: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const declared = response.headers.get("content-length");
  const encoding = response.headers.get("content-encoding");
  if (declared !== null && (encoding === null || encoding === "identity")) {
    if (!(Number(declared) <= max)) {
      await response.body?.cancel().catch(() => {});
      return undefined;
    }
    return await response.bytes();
  }
  if (response.body === null) return new Uint8Array(0);
  const { bytes, over } = await readAtMost(response.body, max);
  return over ? undefined : bytes;
}

/** What the client gets for an answer over `--max-response`. */
export function responseTooLarge(maxBytes: number): CallFailure {
  return new CallFailure(
    502,
    "upstream_response_too_large",
    `The upstream's answer is larger than ${maxBytes} bytes: raise "--max-response" to allow it`,
  );
}
