/**
 * A strict fake of the Qwen model API (docs/upstream.md#model-api, #error-answers) for tests on loopback. It
 * refuses what the real one would (unknown tokens, non-JSON bodies, missing `model` or
 * `messages`, an OAuth call without the official header set) and answers chat completions as
 * JSON or SSE. Tests queue scenarios (errors, delays, a stream cut half way) with `next()`; every
 * request is recorded, and so is a client that went away (`aborted`).
 *
 * For API-key accounts, each bearer key can also be given a fixed answer of docs/upstream.md#error-answers (bad key, key
 * of another plan, Coding Plan 405, arrears, quota, throttling) with `answer()`/`once()`, so
 * that several accounts served or probed at once each get their own; keys without one are
 * answered as above.
 */
import type { Server } from "../../src/runtime/mod.ts";
import { startServer } from "./with-server.ts";

export type Scenario =
  /** The normal answer: JSON, or SSE when the body asks `stream: true`. */
  | {
    kind: "ok";
    /** Milliseconds before the response headers (and so before any byte). */
    firstByteDelayMs?: number;
    /** SSE only: milliseconds between events. */
    chunkDelayMs?: number;
    /** SSE only: the text pieces, one event each. */
    chunks?: string[];
    /** SSE only: stop after this many events and break the connection (no [DONE]). */
    breakAfter?: number;
    /** SSE only: add `"sent_at"` (epoch ms, sub-ms precision) to each event as it is sent. */
    stampChunks?: boolean;
    /**
     * SSE only: end each text piece with `@` and its send time (epoch ms), which outlives a
     * translation that keeps only the text (the `/v1/messages` route's).
     */
    stampText?: boolean;
    /** JSON only: send this many bytes of the answer, then nothing until the client leaves. */
    stallAfterBytes?: number;
  }
  | {
    kind: "error";
    status: number;
    body: string;
    contentType?: string;
    headers?: Record<string, string>;
  }
  /** Never answers; ends only when the client goes away. */
  | { kind: "hang" };

/** Bodies the real upstream sends (docs/upstream.md#error-answers). */
export const UPSTREAM_ERRORS = {
  invalidToken: {
    status: 401,
    body: JSON.stringify({
      error: {
        code: "invalid_api_key",
        message: "invalid access token or token expired",
        type: "invalid_request_error",
      },
    }),
  },
  throttling: {
    status: 429,
    body: JSON.stringify({
      error: {
        message: "Requests rate limit exceeded, please try again later.",
        type: "requests",
        param: null,
        code: "Throttling.RateQuota",
      },
    }),
  },
  quota: {
    status: 429,
    body: JSON.stringify({
      error: {
        message: "Free allocated quota exceeded.",
        type: "insufficient_quota",
        param: null,
        code: "insufficient_quota",
      },
    }),
  },
  flatDashScope: {
    status: 400,
    body: JSON.stringify({
      code: "InvalidParameter",
      message: "Range of input length should be [1, 98304]",
      request_id: "req-1",
    }),
  },
  bareString: {
    status: 405,
    body: JSON.stringify({ error: "Coding Plan is currently only available for Coding Agents" }),
  },
  html: {
    status: 502,
    body: "<html><body><h1>502 Bad Gateway</h1></body></html>",
    contentType: "text/html",
  },
  gatewayTimeout: {
    status: 504,
    body: "<html><body>504 Gateway Time-out</body></html>",
    contentType: "text/html",
  },
} as const;

/** A fixed answer to the chat calls made with one bearer key. */
export interface KeyAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/** Error answers to API keys, by name. */
export const PROVIDER_ANSWERS = {
  oauthRefused: UPSTREAM_ERRORS.invalidToken,
  invalidKey: {
    status: 401,
    body: JSON.stringify({
      error: {
        message: "Incorrect API key provided. ",
        type: "invalid_request_error",
        param: null,
        code: "invalid_api_key",
      },
    }),
  },
  wrongPlan: {
    status: 403,
    body: JSON.stringify({ code: "InvalidApiKey", message: "invalid api-key", request_id: "r-1" }),
  },
  codingPlanClient: UPSTREAM_ERRORS.bareString,
  arrears: {
    status: 400,
    body: JSON.stringify({
      error: {
        message: "Access denied, please make sure your account is in good standing.",
        type: "Arrearage",
        param: null,
        code: "Arrearage",
      },
    }),
  },
  quota: UPSTREAM_ERRORS.quota,
  allocationQuota: {
    status: 403,
    body: JSON.stringify({
      code: "Throttling.AllocationQuota",
      message: "Allocated quota exceeded, please increase your quota limit.",
      request_id: "r-2",
    }),
  },
  throttled: { ...UPSTREAM_ERRORS.throttling, headers: { "retry-after": "30" } },
  /** DashScope's answer for a model the key is not entitled to. */
  modelDenied: {
    status: 403,
    body: JSON.stringify({
      code: "AccessDenied.Unpurchased",
      message: "Access to model denied.",
      request_id: "r-3",
    }),
  },
  serverError: UPSTREAM_ERRORS.html,
} as const satisfies Record<string, KeyAnswer>;

export interface UpstreamRequest {
  path: string;
  method: string;
  headers: Headers;
  /** The `Authorization` header, or null. */
  authorization: string | null;
  body: string;
  /** Set when the client went away before the answer was complete. */
  aborted: boolean;
}

export interface FakeUpstreamOptions {
  /** Bearer tokens accepted (a list or a test); others get the portal's 401. Default: any token. */
  acceptTokens?: Iterable<string> | ((token: string) => boolean);
  /** Whether `GET /models` has a list (else 404). */
  models?: boolean;
  /** The ids `GET /models` lists (default `coder-model`, `qwen3-coder-plus`). */
  modelIds?: string[];
  /** Keep every request in `requests` (default true); a benchmark turns it off. */
  record?: boolean;
  /** The answer when none is queued (default `{ kind: "ok" }`), or a choice by request body. */
  defaultScenario?: Scenario | ((body: Record<string, unknown>) => Scenario);
}

export const DEFAULT_CHUNKS = ["Hel", "lo", "!"];

/** The placeholder that `stampText` leaves in the rendered events, replaced by the send time. */
const TEXT_STAMP = "@{sent_at}";

export class FakeUpstream {
  readonly requests: UpstreamRequest[] = [];
  private readonly queue: Scenario[] = [];
  readonly #keyAnswers = new Map<string, KeyAnswer>();
  readonly #keyOnce = new Map<string, KeyAnswer[]>();
  acceptTokens?: Set<string> | ((token: string) => boolean);
  models: boolean;
  modelIds: string[];
  private readonly record: boolean;
  private readonly defaultScenario: NonNullable<FakeUpstreamOptions["defaultScenario"]>;
  private counter = 0;

  constructor(options: FakeUpstreamOptions = {}) {
    const accept = options.acceptTokens;
    this.acceptTokens = typeof accept === "function" || accept === undefined
      ? accept
      : new Set(accept);
    this.models = options.models ?? true;
    this.modelIds = options.modelIds ?? ["coder-model", "qwen3-coder-plus"];
    this.record = options.record ?? true;
    this.defaultScenario = options.defaultScenario ?? { kind: "ok" };
  }

  /** Queues the answer to the next chat completion (first in, first out). */
  next(...scenarios: Scenario[]): this {
    this.queue.push(...scenarios);
    return this;
  }

  get chatRequests(): UpstreamRequest[] {
    return this.requests.filter((r) => r.path.endsWith("/chat/completions"));
  }

  /** Every chat call with this bearer key gets `answer`. */
  answer(key: string, answer: KeyAnswer): this {
    this.#keyAnswers.set(key, answer);
    return this;
  }

  /** The next chat calls with this key get these answers, in order, before any fixed one. */
  once(key: string, ...answers: KeyAnswer[]): this {
    this.#keyOnce.set(key, [...(this.#keyOnce.get(key) ?? []), ...answers]);
    return this;
  }

  /** Forgets the answers of one key, or of all. */
  clear(key?: string): this {
    if (key === undefined) {
      this.#keyAnswers.clear();
      this.#keyOnce.clear();
    } else {
      this.#keyAnswers.delete(key);
      this.#keyOnce.delete(key);
    }
    return this;
  }

  /** The chat calls made with `key`. */
  callsWith(key: string): UpstreamRequest[] {
    return this.chatRequests.filter((r) => r.authorization === `Bearer ${key}`);
  }

  readonly handler = async (request: Request): Promise<Response> => {
    let answered = false;
    const response = await this.respond(request, () => answered);
    answered = true;
    return response;
  };

  private async respond(request: Request, answered: () => boolean): Promise<Response> {
    const url = new URL(request.url);
    const body = request.method === "GET" || request.method === "HEAD" ? "" : await request.text();
    const record: UpstreamRequest = {
      path: url.pathname + url.search,
      method: request.method,
      headers: request.headers,
      authorization: request.headers.get("authorization"),
      body,
      aborted: false,
    };
    if (this.record) this.requests.push(record);
    // Deno (legacy mode) also aborts request.signal after a response was delivered in full:
    // only an abort before the answer, or a cancelled body, means the client went away.
    request.signal.addEventListener("abort", () => {
      if (!answered()) record.aborted = true;
    }, { once: true });

    const keyAnswer = this.#keyAnswerFor(url, record.authorization);
    if (keyAnswer) return keyAnswer;
    const authError = this.checkAuth(request.headers);
    if (authError) return authError;

    if (url.pathname === "/v1/models" && request.method === "GET") {
      if (!this.models) return Response.json({ error: "not found" }, { status: 404 });
      return Response.json({
        object: "list",
        data: this.modelIds.map((id) => ({ id, object: "model", created: 1, owned_by: "qwen" })),
      });
    }
    if (url.pathname === "/v1/embeddings" && request.method === "POST") {
      return Response.json({
        object: "list",
        data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2] }],
        echo: { contentType: request.headers.get("content-type"), body },
      });
    }
    if (url.pathname !== "/v1/chat/completions") {
      return Response.json({ error: { message: "not found", type: "invalid_request_error" } }, {
        status: 404,
      });
    }
    if (request.method !== "POST") return new Response(null, { status: 405 });
    if (!(request.headers.get("content-type") ?? "").startsWith("application/json")) {
      return openAIError(400, "content-type must be application/json", "invalid_request");
    }
    let json: {
      model?: unknown;
      messages?: unknown;
      stream?: unknown;
      stream_options?: { include_usage?: unknown };
    };
    try {
      json = JSON.parse(body);
    } catch {
      return openAIError(400, "body is not JSON", "invalid_request");
    }
    if (typeof json.model !== "string") {
      return openAIError(400, "model is required", "invalid_request");
    }
    if (!Array.isArray(json.messages) || json.messages.length === 0) {
      return openAIError(400, "messages is required", "invalid_request");
    }

    const fallback = this.defaultScenario;
    const scenario = this.queue.shift() ??
      (typeof fallback === "function" ? fallback(json as Record<string, unknown>) : fallback);
    if (scenario.kind === "error") {
      return new Response(scenario.body, {
        status: scenario.status,
        headers: {
          "content-type": scenario.contentType ?? "application/json",
          ...scenario.headers,
        },
      });
    }
    if (scenario.kind === "hang") {
      await new Promise<void>((resolve) => {
        if (request.signal.aborted) resolve();
        request.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      record.aborted = true;
      return new Response(null, { status: 499 });
    }
    if (scenario.firstByteDelayMs) {
      const waited = await delay(scenario.firstByteDelayMs, request.signal);
      if (!waited) {
        record.aborted = true;
        return new Response(null, { status: 499 });
      }
    }
    const id = `chatcmpl-${++this.counter}`;
    const model = json.model;
    if (json.stream !== true) {
      const answer = {
        id,
        object: "chat.completion",
        created: 1,
        model,
        choices: [{
          index: 0,
          message: { role: "assistant", content: (scenario.chunks ?? DEFAULT_CHUNKS).join("") },
          finish_reason: "stop",
        }],
        usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 },
      };
      if (scenario.stallAfterBytes === undefined) {
        return Response.json(answer, { headers: { "x-request-id": id } });
      }
      const bytes = new TextEncoder().encode(JSON.stringify(answer));
      const signal = request.signal;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes.slice(0, scenario.stallAfterBytes));
          const gone = () => {
            record.aborted = true;
            controller.close();
          };
          if (signal.aborted) gone();
          else signal.addEventListener("abort", gone, { once: true });
        },
        cancel() {
          record.aborted = true;
        },
      });
      return new Response(body, {
        headers: { "content-type": "application/json", "x-request-id": id },
      });
    }
    const usage = json.stream_options?.include_usage === true;
    return this.sse(id, model, scenario, record, request.signal, usage);
  }

  /** The fixed answer of a chat call's bearer key, if it has one. */
  #keyAnswerFor(url: URL, authorization: string | null): Response | undefined {
    if (this.#keyAnswers.size === 0 && this.#keyOnce.size === 0) return undefined;
    const key = /^Bearer (.+)$/.exec(authorization ?? "")?.[1];
    if (key === undefined || !url.pathname.endsWith("/chat/completions")) return undefined;
    const answer = this.#keyOnce.get(key)?.shift() ?? this.#keyAnswers.get(key);
    if (!answer) return undefined;
    return new Response(answer.body, {
      status: answer.status,
      headers: {
        "content-type": answer.body.startsWith("<") ? "text/html" : "application/json",
        ...answer.headers,
      },
    });
  }

  private checkAuth(headers: Headers): Response | undefined {
    const authorization = headers.get("authorization") ?? "";
    const token = /^Bearer (.+)$/.exec(authorization)?.[1];
    const refused = () =>
      new Response(UPSTREAM_ERRORS.invalidToken.body, {
        status: 401,
        headers: { "content-type": "application/json" },
      });
    if (!token) return refused();
    const accept = this.acceptTokens;
    if (typeof accept === "function" ? !accept(token) : accept && !accept.has(token)) {
      return refused();
    }
    if (!headers.get("user-agent")) return new Response("<html>blocked</html>", { status: 403 });
    if (headers.get("x-dashscope-authtype") === "qwen-oauth") {
      if (
        headers.get("x-dashscope-cachecontrol") !== "enable" ||
        headers.get("x-dashscope-useragent") !== headers.get("user-agent")
      ) return openAIError(400, "incomplete DashScope header set", "invalid_request");
    }
    return undefined;
  }

  private sse(
    id: string,
    model: string,
    scenario: Extract<Scenario, { kind: "ok" }>,
    record: UpstreamRequest,
    signal: AbortSignal,
    includeUsage = false,
  ): Response {
    const encoder = new TextEncoder();
    const stampText = scenario.stampText === true;
    const events = (scenario.chunks ?? DEFAULT_CHUNKS).map((piece, i) => {
      const content = stampText ? piece + TEXT_STAMP : piece;
      return {
        id,
        object: "chat.completion.chunk",
        created: 1,
        model,
        choices: [{
          index: 0,
          delta: i === 0 ? { role: "assistant", content } : { content },
          finish_reason: null,
        }],
      };
    });
    const lines = events.map((e) => `data: ${JSON.stringify(e)}\n\n`);
    if (scenario.breakAfter === undefined) {
      lines.push(
        `data: ${
          JSON.stringify({
            id,
            object: "chat.completion.chunk",
            created: 1,
            model,
            choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
          })
        }\n\n`,
      );
      if (includeUsage) {
        // OpenAI's `stream_options.include_usage`: one last event with the usage, no choices.
        lines.push(
          `data: ${
            JSON.stringify({
              id,
              object: "chat.completion.chunk",
              created: 1,
              model,
              choices: [],
              usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
            })
          }\n\n`,
        );
      }
      lines.push("data: [DONE]\n\n");
    }
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent > 0 && scenario.chunkDelayMs) {
          if (!await delay(scenario.chunkDelayMs, signal)) {
            record.aborted = true;
            return;
          }
        }
        if (scenario.breakAfter !== undefined && sent >= scenario.breakAfter) {
          // Let the runtime flush the events sent so far: Bun sends nothing, not even the
          // headers, when the body fails in the same tick.
          await delay(50, signal);
          controller.error(new Error("connection reset by the fake upstream"));
          return;
        }
        if (sent >= lines.length) {
          controller.close();
          return;
        }
        let line = lines[sent++];
        if (scenario.stampChunks || stampText) {
          const sentAt = performance.timeOrigin + performance.now();
          if (scenario.stampChunks && line.startsWith("data: {")) {
            line = `data: {"sent_at":${sentAt},${line.slice("data: {".length)}`;
          }
          if (stampText) line = line.replace(TEXT_STAMP, `@${sentAt}`);
        }
        controller.enqueue(encoder.encode(line));
      },
      cancel() {
        record.aborted = true;
      },
    });
    return new Response(stream, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  }
}

function openAIError(status: number, message: string, code: string): Response {
  return Response.json(
    { error: { message, type: "invalid_request_error", param: null, code } },
    { status },
  );
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export interface RunningFakeUpstream {
  fake: FakeUpstream;
  server: Server;
  /** The model API base, as a token source gives it: `http://127.0.0.1:PORT/v1`. */
  baseUrl: string;
  close(): Promise<void>;
}

export async function startFakeUpstream(
  options: FakeUpstreamOptions = {},
): Promise<RunningFakeUpstream> {
  const fake = new FakeUpstream(options);
  const server = await startServer(fake.handler);
  return { fake, server, baseUrl: `${server.url}/v1`, close: () => server.close(true) };
}
