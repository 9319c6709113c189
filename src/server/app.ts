/**
 * The proxy as a plain `(Request) => Promise<Response>`: security checks, routing, one log line
 * per request. Everything from outside (upstream fetch, token source, clock, logger) is injected,
 * so tests call it with `new Request(...)` and the runtime adapters only serve it.
 */
import { accountOf } from "../accounts/account.ts";
import type { TokenSource } from "../credentials/types.ts";
import { type Fetch, sleep as defaultSleep } from "../lib/context.ts";
import { AccountPool } from "../pool/pool.ts";
import type { RequestInfo } from "../runtime/types.ts";
import { type CallReport, type ForwardRequest, UpstreamClient } from "../upstream/client.ts";
import type { PassThroughOutcome } from "../upstream/stream/pass-through.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "../upstream/retry.ts";
import type { Logger, RequestLogEntry } from "./log.ts";
import {
  anthropicError,
  fromOpenAIError,
  unauthorized as anthropicUnauthorized,
} from "./anthropic/errors.ts";
import { chatCompletions } from "./routes/chat-completions.ts";
import type { DialectCall, RouteContext } from "./routes/context.ts";
import { countTokens, messages } from "./routes/messages.ts";
import {
  createResponse,
  deleteResponse,
  getResponse,
  webSocketRefused,
} from "./routes/responses.ts";
import { ResponseStore } from "./openai-responses/store.ts";
import { forwardOther } from "./routes/forward.ts";
import { health } from "./routes/health.ts";
import { listModels, ModelsCache } from "./routes/models.ts";
import type { Metrics } from "./metrics.ts";
import {
  failureResponse,
  forbidden,
  internalError,
  methodNotAllowed,
  notFound,
  requestTimeout,
  unauthorized,
} from "./responses.ts";
import { BodyDeadline, BodyTimeoutError } from "./body.ts";
import { Guard, type SecurityOptions } from "./security.ts";
import { KeepAlive } from "../upstream/stream/keep-alive.ts";

const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 300_000;
/**
 * A request body arrives within this: a client that trickles one in a byte at a time holds a
 * connection no runtime idle limit ends (docs/serve.md#limits). 32 MiB in 60 s is 4.5 Mbit/s.
 */
const DEFAULT_BODY_TIMEOUT_MS = 60_000;
const DEFAULT_RESPONSES_STORE = 1_000;
/** Anthropic's API pings every 15 s or so; clients expect no longer silences. */
const DEFAULT_PING_MS = 15_000;

interface AppDeps {
  /** The accounts to call with (qwen serve); or `tokens`, a pool of one. */
  pool?: AccountPool;
  /** One account, for callers without a pool. */
  tokens?: TokenSource;
  /** Counted per request and served on `GET /metrics` (behind the API keys). */
  metrics?: Metrics;
  fetch: Fetch;
  logger: Logger;
  security: SecurityOptions;
  userAgent: string;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  maxBodyBytes?: number;
  /** The largest upstream answer read whole (JSON answers, whole translated answers). */
  maxResponseBytes?: number;
  /** The longest a request body may take to arrive. */
  bodyTimeoutMs?: number;
  firstByteTimeoutMs?: number;
  idleTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  modelsCacheMs?: number;
  /** Upstream silence after which a translated stream sends a keep-alive event. */
  pingMs?: number;
  /** How many responses `/v1/responses` keeps for `previous_response_id` (0: none). */
  responsesStore?: number;
  /** True once shutdown began: `/health` turns 503 so balancers stop sending. */
  draining?: () => boolean;
  /**
   * Aborted when the shutdown's grace period is over: the streams still open end with an error
   * event in their API's shape instead of a connection closed under them.
   */
  cutStreams?: AbortSignal;
}

type App = (request: Request, info?: RequestInfo) => Promise<Response>;

export function createApp(deps: AppDeps): App {
  const now = deps.now ?? Date.now;
  const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxResponseBytes = deps.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const bodyDeadline = new BodyDeadline(deps.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS);
  const guard = new Guard(deps.security);
  const pool = deps.pool ?? poolOf(deps.tokens);
  const metrics = deps.metrics;
  const client = new UpstreamClient({
    fetch: deps.fetch,
    pool,
    observer: metrics,
    userAgent: deps.userAgent,
    firstByteTimeoutMs: deps.firstByteTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    idleTimeoutMs: deps.idleTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxResponseBytes,
    retry: { ...DEFAULT_RETRY_POLICY, ...deps.retry },
    sleep: deps.sleep ?? defaultSleep,
    now,
  });
  const models = new ModelsCache({
    fetch: deps.fetch,
    now,
    userAgent: deps.userAgent,
    ttlMs: deps.modelsCacheMs ?? 5 * 60_000,
    fallbackTtlMs: 30_000,
    maxBytes: maxResponseBytes,
  });
  deps.cutStreams?.addEventListener("abort", () => client.cutStreams(), { once: true });
  const recorder: Recorder = { now, metrics, logger: deps.logger };
  const keepAlive = new KeepAlive(deps.pingMs ?? DEFAULT_PING_MS);
  const store = new ResponseStore(deps.responsesStore ?? DEFAULT_RESPONSES_STORE);

  return async (request, info) => {
    const entry: RequestLogEntry = {
      method: request.method,
      path: "",
      status: 0,
      durationMs: 0,
      retries: 0,
    };
    const report = new Exchange(recorder, entry);

    const origin = request.headers.get("origin");
    let response: Response;
    let ownError = true;
    let anthropic = false;
    // One error handling around everything the request decides, its URL included: whatever it
    // holds, the client gets an answer of ours, never the runtime's error page.
    try {
      const url = splitUrl(request.url);
      entry.path = url.path;
      anthropic = isAnthropicPath(url.path);
      if (!guard.hostAllowed(request.headers.get("host"))) {
        response = forbidden(
          "This Host is not allowed: call the proxy as localhost or 127.0.0.1, or allow the " +
            'name with "--allow-host"',
          "host_not_allowed",
        );
      } else if (origin !== null && !guard.originAllowed(origin)) {
        response = forbidden(
          'Requests from web pages of this origin are not allowed: list it with "--cors-origin"',
          "origin_not_allowed",
        );
      } else if (request.method === "OPTIONS") {
        ownError = false;
        response = preflight(request, origin);
      } else {
        // Routes say what to send; the call is awaited here, in the one frame that has to wait
        // anyway: on Bun, each frame an in-flight request keeps alive costs CPU under load.
        const routed = await route(request, url, info, entry, report);
        ownError = false;
        if (routed instanceof Response) response = routed;
        else if ("forward" in routed) {
          const answer = await client.forward(routed.forward, report);
          response = answer instanceof Response
            ? await routed.answer(answer)
            : routed.failure(answer);
        } else {
          const answer = await client.forward(routed, report);
          response = answer instanceof Response ? answer : failureResponse(answer);
        }
      }
    } catch (error) {
      ownError = true;
      report.streaming = false;
      if (error instanceof BodyTimeoutError) response = requestTimeout(error.timeoutMs);
      else {
        report.upstreamError = `internal error: ${(error as Error)?.message ?? String(error)}`;
        response = internalError();
      }
    }
    // The server's own refusals speak the dialect of the path they answer.
    if (ownError && anthropic) response = await fromOpenAIError(response);
    if (origin !== null && response.status !== 403) {
      response.headers.set("access-control-allow-origin", origin);
      response.headers.append("vary", "Origin");
    }
    if (!report.streaming) report.finish(response.status);
    return response;
  };

  function route(
    request: Request,
    url: SplitUrl,
    info: RequestInfo | undefined,
    entry: RequestLogEntry,
    report: CallReport,
  ): Promise<Response | ForwardRequest | DialectCall> {
    const path = url.path;
    if (path === "/health") {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return Promise.resolve(methodNotAllowed("GET"));
      }
      return health(pool, deps.draining?.() ?? false, now());
    }
    if (path === "/metrics" && metrics) {
      if (request.method !== "GET") return Promise.resolve(methodNotAllowed("GET"));
      if (!guard.apiKeyAllowed(request)) return Promise.resolve(unauthorized());
      return Promise.resolve(
        new Response(metrics.render(pool.availability()), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        }),
      );
    }
    if (!path.startsWith("/v1/")) {
      return Promise.resolve(notFound(`Unknown path "${path}": the API is under /v1`));
    }
    if (!guard.apiKeyAllowed(request)) {
      return Promise.resolve(isAnthropicPath(path) ? anthropicUnauthorized() : unauthorized());
    }
    const ctx: RouteContext = {
      request,
      path,
      search: url.search,
      entry,
      report,
      client,
      pool,
      logger: deps.logger,
      maxBodyBytes,
      maxResponseBytes,
      bodyDeadline,
      keepAlive,
      now,
      // A model may think for minutes before its first byte, and a stream may pause: our own
      // timeouts bound those waits. Lifted only for calls that last (see watchdog.ts).
      connection: info ?? NO_CONNECTION,
    };
    if (path === "/v1/chat/completions") {
      if (request.method !== "POST") return Promise.resolve(methodNotAllowed("POST"));
      return chatCompletions(ctx);
    }
    if (path === "/v1/messages" || path === "/v1/messages/count_tokens") {
      if (request.method !== "POST") {
        return Promise.resolve(
          anthropicError(405, "Method not allowed: use POST", { allow: "POST" }),
        );
      }
      return path === "/v1/messages" ? messages(ctx) : countTokens(ctx);
    }
    if (path === "/v1/responses" || path.startsWith("/v1/responses/")) {
      return Promise.resolve(responsesRoute(request, path, ctx));
    }
    if (path === "/v1/models" && request.method === "GET") return listModels(ctx, models);
    return forwardOther(ctx);
  }

  function responsesRoute(
    request: Request,
    path: string,
    ctx: RouteContext,
  ): Response | Promise<Response | DialectCall> {
    if (path === "/v1/responses") {
      if (request.method === "POST") return createResponse(ctx, store);
      if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
        return webSocketRefused(ctx);
      }
      return methodNotAllowed("POST");
    }
    const id = path.slice("/v1/responses/".length);
    if (id === "" || id.includes("/")) return notFound(`Unknown path "${path}"`);
    if (request.method === "GET") return getResponse(store, id);
    if (request.method === "DELETE") return deleteResponse(store, id);
    return methodNotAllowed("GET, DELETE");
  }

  function preflight(request: Request, origin: string | null): Response {
    if (origin === null) return new Response(null, { status: 204, headers: { allow: ALLOW } });
    const requested = request.headers.get("access-control-request-headers");
    return new Response(null, {
      status: 204,
      headers: {
        "access-control-allow-methods": ALLOW,
        "access-control-allow-headers": requested ?? "authorization, content-type, x-api-key",
        "access-control-max-age": "600",
      },
    });
  }
}

const ALLOW = "GET, POST, DELETE, OPTIONS";

/** What every request's record writes to: shared, so a request holds one reference. */
interface Recorder {
  now: () => number;
  metrics: Metrics | undefined;
  logger: Logger;
}

/**
 * One request's record: what happened upstream (the CallReport the client fills in), and its
 * metrics and log line once it is answered or, for a stream, once the body ended. A class with
 * methods rather than closures per request: it is what an in-flight request keeps alive.
 */
class Exchange implements CallReport {
  upstreamStatus?: number;
  retries = 0;
  upstreamError?: string;
  streaming = false;
  account?: string;
  readonly #start: number;

  constructor(private readonly recorder: Recorder, private readonly entry: RequestLogEntry) {
    this.#start = recorder.now();
  }

  bodyEnded(outcome: PassThroughOutcome): void {
    // May run before the handler returned (the stream pulls ahead): the status is the upstream's.
    this.finish(outcome.kind === "cancelled" ? 499 : this.upstreamStatus ?? 200);
  }

  finish(status: number): void {
    const { entry, recorder } = this;
    entry.status = status;
    entry.durationMs = recorder.now() - this.#start;
    entry.retries = this.retries;
    if (this.upstreamStatus !== undefined) entry.upstreamStatus = this.upstreamStatus;
    if (this.upstreamError !== undefined) entry.upstreamError = this.upstreamError;
    if (this.account !== undefined) entry.account = this.account;
    recorder.metrics?.request(status, entry.model, this.account, entry.durationMs);
    // Monitors poll /health every few seconds: only its refusals are worth a line by default.
    const { logger } = recorder;
    if (entry.path !== "/health" || logger.verbose || (status !== 200 && status !== 503)) {
      logger.request(entry);
    }
  }
}

function isAnthropicPath(path: string): boolean {
  return path === "/v1/messages" || path.startsWith("/v1/messages/");
}

/** For callers without a runtime server (tests calling the app): no idle timeout to lift. */
const NO_CONNECTION = { disableIdleTimeout() {} };

interface SplitUrl {
  path: string;
  /** `?…`, or empty. */
  search: string;
}

/**
 * Path and query of a request URL by slicing the string: a `URL` object per request costs more
 * than everything else the router does. Paths a URL parser would rewrite (dot segments,
 * percent-escapes, backslashes) take the parser, so both ways agree. The URL is the runtime's:
 * absolute, except on Bun for a request without a usable `Host`, where it is the path as sent
 * (`/v1/models`).
 */
export function splitUrl(url: string): SplitUrl {
  const pathAt = url.charCodeAt(0) === SLASH ? 0 : url.indexOf("/", url.indexOf("//") + 2);
  if (pathAt < 0) return { path: "/", search: "" };
  const queryAt = url.indexOf("?", pathAt);
  const path = queryAt < 0 ? url.slice(pathAt) : url.slice(pathAt, queryAt);
  if (path.includes("/.") || path.includes("%") || path.includes("\\")) {
    // Under an origin of our own: the client's Host may be anything ("a:b:c", "[::1"), which
    // the parser refuses, and it says nothing about the path.
    const parsed = new URL(PARSING_ORIGIN + url.slice(pathAt));
    return { path: parsed.pathname, search: parsed.search };
  }
  return { path, search: queryAt < 0 ? "" : url.slice(queryAt) };
}

const SLASH = 0x2f;
const PARSING_ORIGIN = "http://localhost";

function poolOf(tokens: TokenSource | undefined): AccountPool {
  if (tokens === undefined) throw new TypeError("createApp needs a pool or a token source");
  return new AccountPool({ strategy: "fill-first", entries: [accountOf(tokens)] });
}
