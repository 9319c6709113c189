/**
 * The app wired to a fake upstream on loopback and a fake token source, called in-process with
 * `new Request(...)` as if it were served on 127.0.0.1:8080.
 */
import { accountOf } from "../../src/accounts/account.ts";
import { AccountPool } from "../../src/pool/pool.ts";
import { createApp } from "../../src/server/app.ts";
import { Metrics } from "../../src/server/metrics.ts";
import { createLogger, type RequestLogEntry } from "../../src/server/log.ts";
import type { SecurityOptions } from "../../src/server/security.ts";
import { type FakeUpstreamOptions, startFakeUpstream } from "../helpers/fake-upstream.ts";
import { FakeTokenSource } from "./fake-token-source.ts";

export const ORIGIN = "http://127.0.0.1:8080";

export interface HarnessOptions {
  upstream?: FakeUpstreamOptions;
  security?: Partial<SecurityOptions>;
  tokens?: ConstructorParameters<typeof FakeTokenSource>[0] extends infer T ? Partial<T>
    : never;
  app?: Partial<Parameters<typeof createApp>[0]>;
  /** Model map of the one account (default none, as on the OAuth portal). */
  modelMap?: Record<string, string>;
}

export async function setup(options: HarnessOptions = {}) {
  const upstream = await startFakeUpstream(options.upstream);
  const tokens = new FakeTokenSource({ baseUrl: upstream.baseUrl, ...options.tokens });
  const lines: string[] = [];
  const entries: RequestLogEntry[] = [];
  const text = createLogger({ format: "text", verbose: false, write: (l) => lines.push(l) });
  /** Milliseconds the client was asked to wait before each retry. */
  const sleeps: number[] = [];
  const entry = accountOf(tokens, { modelMap: options.modelMap });
  const metrics = new Metrics();
  const pool = new AccountPool({ strategy: "fill-first", entries: [entry], observer: metrics });
  const app = createApp({
    pool,
    metrics,
    fetch: (input, init) => fetch(input, init),
    logger: {
      verbose: false,
      request(entry) {
        entries.push({ ...entry });
        text.request(entry);
      },
      info: text.info,
    },
    security: {
      apiKeys: [],
      corsOrigins: [],
      allowHosts: [],
      loopback: true,
      port: () => 8080,
      ...options.security,
    },
    userAgent: "qwen/test (linux; x64)",
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    retry: { random: () => 0.5, baseDelayMs: 10, maxDelayMs: 100 },
    ...options.app,
  });
  return {
    upstream: upstream.fake,
    baseUrl: upstream.baseUrl,
    tokens,
    pool,
    metrics,
    app,
    lines,
    entries,
    sleeps,
    /** Calls the app; JSON bodies are serialized, Host defaults to 127.0.0.1:8080. */
    call(path: string, init: RequestInit & { json?: unknown } = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("host")) headers.set("host", "127.0.0.1:8080");
      let body = init.body;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        headers.set("content-type", "application/json");
      }
      return app(
        new Request(ORIGIN + path, {
          ...init,
          method: init.method ?? (body ? "POST" : "GET"),
          headers,
          body,
        }),
      );
    },
    close: () => upstream.close(),
  };
}

export type Harness = Awaited<ReturnType<typeof setup>>;

export const HELLO = { model: "coder-model", messages: [{ role: "user", content: "hi" }] };

/** Forgets every cooldown and rejection the pool learnt, between tests that share it. */
export function resetHealth(pool: AccountPool): void {
  for (const m of pool.members) {
    m.health = { state: "ok", changedAt: 0 };
    m.throttledUntil = 0;
    m.throttleStrikes = 0;
  }
}

/** Reads an SSE body and returns its `data:` payloads in order. */
export async function sseEvents(response: Response): Promise<string[]> {
  const text = await response.text();
  return text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
}
