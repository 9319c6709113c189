/**
 * API-key answers on top of the fake model API (fake-upstream.ts, owned by the serve tests):
 * each bearer key can be given a fixed answer from shared/qwen-upstream.md §7 (bad key, key of
 * another plan, Coding Plan 405, arrears, quota, throttling), so that several accounts probed at
 * once each get their own. Keys without one reach the FakeUpstream, which answers normally.
 * To be merged into fake-upstream.ts once both sides are done.
 */
import type { Server } from "../../src/runtime/mod.ts";
import { FakeUpstream, UPSTREAM_ERRORS } from "./fake-upstream.ts";
import { startServer } from "./with-server.ts";

export interface KeyAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/** §7 answers by name. */
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
  serverError: UPSTREAM_ERRORS.html,
} as const satisfies Record<string, KeyAnswer>;

export interface SeenRequest {
  path: string;
  authorization: string | null;
  headers: Headers;
  body: string;
}

export class FakeProvider {
  readonly upstream = new FakeUpstream();
  readonly seen: SeenRequest[] = [];
  readonly #answers = new Map<string, KeyAnswer>();
  readonly #once = new Map<string, KeyAnswer[]>();

  /** Every call with this bearer key gets `answer`. */
  answer(key: string, answer: KeyAnswer): this {
    this.#answers.set(key, answer);
    return this;
  }

  /** The next calls with this key get these answers, in order, before any fixed one. */
  once(key: string, ...answers: KeyAnswer[]): this {
    this.#once.set(key, [...(this.#once.get(key) ?? []), ...answers]);
    return this;
  }

  /** Forgets the answers of one key, or of all. */
  clear(key?: string): this {
    if (key === undefined) {
      this.#answers.clear();
      this.#once.clear();
    } else {
      this.#answers.delete(key);
      this.#once.delete(key);
    }
    return this;
  }

  /** The chat calls made with `key`. */
  callsWith(key: string): SeenRequest[] {
    return this.seen.filter((r) =>
      r.path.endsWith("/chat/completions") && r.authorization === `Bearer ${key}`
    );
  }

  readonly handler = async (request: Request): Promise<Response> => {
    const authorization = request.headers.get("authorization");
    const url = new URL(request.url);
    const body = request.method === "POST" ? await request.clone().text() : "";
    this.seen.push({ path: url.pathname, authorization, headers: request.headers, body });
    const key = /^Bearer (.+)$/.exec(authorization ?? "")?.[1];
    const chat = url.pathname.endsWith("/chat/completions");
    const answer = key === undefined || !chat
      ? undefined
      : (this.#once.get(key)?.shift() ?? this.#answers.get(key));
    if (answer) {
      return new Response(answer.body, {
        status: answer.status,
        headers: {
          "content-type": answer.body.startsWith("<") ? "text/html" : "application/json",
          ...answer.headers,
        },
      });
    }
    return await this.upstream.handler(request);
  };
}

export interface RunningFakeProvider {
  fake: FakeProvider;
  server: Server;
  /** `http://127.0.0.1:PORT/v1` */
  baseUrl: string;
  close(): Promise<void>;
}

export async function startFakeProvider(): Promise<RunningFakeProvider> {
  const fake = new FakeProvider();
  const server = await startServer(fake.handler);
  return { fake, server, baseUrl: `${server.url}/v1`, close: () => server.close(true) };
}
