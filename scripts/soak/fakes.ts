/**
 * The soak's upstreams, on loopback in the driver's process: the project's fake OAuth server
 * (tests/helpers/fake-qwen.ts) and fake model API (tests/helpers/fake-upstream.ts), each behind
 * a wrapper that injects faults and writes down what it did.
 *
 * - OAuth: access tokens live 2 minutes; each refresh token's uses are counted (a second use of
 *   one already rotated is the failure that kills a login); some refreshes are slow or answered
 *   503 before the fake sees them, so nothing is rotated by a failed one.
 * - Model API: an account-wide fault window (throttling, quota, 5xx, refused credentials) answers
 *   every chat call of that account; a model may be denied to some accounts
 *   (`403 AccessDenied.Unpurchased`); and a client may ask, in its request's `user` field, for a
 *   fault on its own request (`soak-<id>-<fault>`): a 5xx, a throttle, a quota answer, a refused
 *   token or a denied model on the first attempt only, 5xx on every attempt, a stall before the
 *   answer or in the middle of it, a stream cut half way.
 * - An expired or unknown token gets the portal's 401, as the real one would answer.
 */
import { FakeQwen } from "../../tests/helpers/fake-qwen.ts";
import {
  FakeUpstream,
  PROVIDER_ANSWERS,
  type Scenario,
  UPSTREAM_ERRORS,
} from "../../tests/helpers/fake-upstream.ts";
import { type Ledger, REJECTION_RETRY_MS, type WindowKind } from "./ledger.ts";

/** Lifetime of every access token the fake OAuth server issues, in seconds. */
export const TOKEN_LIFETIME_S = 120;

/** DashScope's answer for a model the key or login has not bought. */
export const DENIED_BODY = JSON.stringify({
  code: "AccessDenied.Unpurchased",
  message: "Access to model denied.",
});

export const REQUEST_FAULTS = [
  "5xx-once",
  "5xx-all",
  "throttle-once",
  "quota-once",
  "auth-once",
  "denied-once",
  "stall-first",
  "stall-mid",
  "cut",
] as const;
export type RequestFault = typeof REQUEST_FAULTS[number];

/** What a client puts in its request's `user` (or `metadata.user_id`) field. */
export function markerOf(id: number, fault: RequestFault | undefined): string {
  return `soak-${id}-${fault ?? "none"}`;
}

function parseMarker(user: unknown): { id: string; fault: RequestFault | "none" } | undefined {
  if (typeof user !== "string") return undefined;
  const match = /^soak-(\d+)-(.+)$/.exec(user);
  if (!match) return undefined;
  return { id: match[1], fault: match[2] as RequestFault | "none" };
}

interface Answer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

function answer(a: Answer): Response {
  return new Response(a.body, {
    status: a.status,
    headers: {
      "content-type": a.body.startsWith("<") ? "text/html" : "application/json",
      ...a.headers,
    },
  });
}

// ---- OAuth ----

interface OAuthOptions {
  upstreamUrl: string;
  ledger: Ledger;
  random: () => number;
  /** Share of refreshes answered 503 before the fake sees them. */
  failRate: number;
  /** Refreshes wait up to this long before being answered. */
  maxDelayMs: number;
}

export interface Reuse {
  account: string;
  at: number;
  status: number;
}

export class SoakOAuth {
  readonly fake: FakeQwen;
  /** Every access token issued, with its account and end. */
  readonly accessTokens = new Map<string, { account: string; expiresAt: number }>();
  readonly #accountOfRefresh = new Map<string, string>();
  /** Refresh tokens rotated away by a successful refresh: one more use is a reuse. */
  readonly #spent = new Set<string>();
  readonly refreshes = new Map<string, number>();
  /** When each account's newest access token was issued. */
  readonly issuedAt = new Map<string, number>();
  readonly reused: Reuse[] = [];
  failedOnPurpose = 0;
  /** Refreshes the fake refused (400/401): a spent or unknown refresh token. */
  refused = 0;
  #seeds = 0;

  constructor(readonly options: OAuthOptions) {
    this.fake = new FakeQwen({
      tokenExpiresIn: TOKEN_LIFETIME_S,
      resourceUrl: options.upstreamUrl,
    });
  }

  get totalRefreshes(): number {
    let n = 0;
    for (const count of this.refreshes.values()) n += count;
    return n;
  }

  /** The credentials of a login made just now, as `qwen auth` would have saved them. */
  seed(account: string): Record<string, unknown> {
    const n = ++this.#seeds;
    const access = `access-seed-${n}-${crypto.randomUUID()}`;
    const refresh = `refresh-seed-${n}-${crypto.randomUUID()}`;
    const expiryDate = Date.now() + TOKEN_LIFETIME_S * 1000;
    this.fake.addRefreshToken(refresh);
    this.#accountOfRefresh.set(refresh, account);
    this.accessTokens.set(access, { account, expiresAt: expiryDate });
    this.issuedAt.set(account, Date.now());
    return {
      access_token: access,
      refresh_token: refresh,
      token_type: "Bearer",
      resource_url: this.options.upstreamUrl,
      expiry_date: expiryDate,
    };
  }

  readonly handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (request.method !== "POST" || !url.pathname.endsWith("/oauth2/token")) {
      return await this.fake.handler(request);
    }
    const text = await request.text();
    const form = new URLSearchParams(text);
    const again = () =>
      new Request(request.url, {
        method: "POST",
        headers: request.headers,
        body: text,
        signal: request.signal,
      });
    if (form.get("grant_type") !== "refresh_token") return await this.fake.handler(again());
    const token = form.get("refresh_token") ?? "";
    const account = this.#accountOfRefresh.get(token) ?? "(unknown)";
    const { random, failRate, maxDelayMs } = this.options;
    if (maxDelayMs > 0) await new Promise((r) => setTimeout(r, random() * maxDelayMs));
    if (random() < failRate) {
      this.failedOnPurpose++;
      this.options.ledger.count("oauth: refresh answered 503");
      return new Response("<html>503 Service Temporarily Unavailable</html>", {
        status: 503,
        headers: { "content-type": "text/html" },
      });
    }
    const spent = this.#spent.has(token);
    const response = await this.fake.handler(again());
    if (spent) this.reused.push({ account, at: Date.now(), status: response.status });
    if (response.status !== 200) {
      this.refused++;
      return response;
    }
    const body = await response.json() as {
      access_token: string;
      refresh_token: string;
      expires_in: number;
    };
    this.#spent.add(token);
    this.#accountOfRefresh.set(body.refresh_token, account);
    this.accessTokens.set(body.access_token, {
      account,
      expiresAt: Date.now() + body.expires_in * 1000,
    });
    this.refreshes.set(account, (this.refreshes.get(account) ?? 0) + 1);
    this.issuedAt.set(account, Date.now());
    return Response.json(body);
  };
}

// ---- model API ----

interface UpstreamOptions {
  ledger: Ledger;
  oauth: SoakOAuth;
  /** API key → account. */
  keys: ReadonlyMap<string, string>;
  /** Model → the accounts it is denied to. */
  denied: Readonly<Record<string, readonly string[]>>;
  random: () => number;
}

export interface TokenProblem {
  at: number;
  account: string;
  what: string;
}

export class SoakUpstream {
  readonly fake: FakeUpstream;
  readonly #attempts = new Map<string, number>();
  readonly calls = new Map<string, number>();
  /** Expired or unknown tokens sent upstream (qwen should never send one). */
  readonly badTokens: TokenProblem[] = [];

  constructor(readonly options: UpstreamOptions) {
    this.fake = new FakeUpstream({ record: false, defaultScenario: scenarioOf });
  }

  /** The request is over: its attempts need no counting any more. */
  forget(id: number): void {
    this.#attempts.delete(String(id));
  }

  readonly handler = async (request: Request): Promise<Response> => {
    const token = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1] ?? "";
    const account = this.#accountOf(token);
    if (account === undefined) return answer(UPSTREAM_ERRORS.invalidToken);
    const url = new URL(request.url);
    if (request.method !== "POST" || !url.pathname.endsWith("/chat/completions")) {
      return await this.fake.handler(request);
    }
    const text = await request.text();
    const again = () =>
      new Request(request.url, {
        method: "POST",
        headers: request.headers,
        body: text,
        signal: request.signal,
      });
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text);
    } catch {
      return await this.fake.handler(again());
    }
    this.calls.set(account, (this.calls.get(account) ?? 0) + 1);
    const { ledger } = this.options;
    const isKey = this.options.keys.has(token);

    const window = ledger.windowOn(account);
    if (window) return this.#windowAnswer(account, window.kind, window.to, isKey);

    const model = typeof body.model === "string" ? body.model : "";
    if (this.options.denied[model]?.includes(account)) {
      ledger.count("model denied (by model)");
      return answer({ status: 403, body: DENIED_BODY });
    }

    const marker = parseMarker(body.user);
    if (marker && marker.fault !== "none") {
      const attempt = this.#attempts.get(marker.id) ?? 0;
      this.#attempts.set(marker.id, attempt + 1);
      const fault = this.#requestFault(account, marker.fault, attempt, isKey);
      if (fault) return fault;
      if (marker.fault === "cut" && body.stream === true) {
        return cutAfter(await this.fake.handler(again()), 2);
      }
    }
    return await this.fake.handler(again());
  };

  #accountOf(token: string): string | undefined {
    const key = this.options.keys.get(token);
    if (key !== undefined) return key;
    const oauth = this.options.oauth.accessTokens.get(token);
    if (oauth === undefined) {
      this.badTokens.push({ at: Date.now(), account: "(unknown)", what: "an unknown token" });
      return undefined;
    }
    if (Date.now() >= oauth.expiresAt) {
      this.badTokens.push({ at: Date.now(), account: oauth.account, what: "an expired token" });
      return undefined;
    }
    return oauth.account;
  }

  #windowAnswer(account: string, kind: WindowKind, until: number, isKey: boolean): Response {
    const { ledger, random } = this.options;
    const label = `window answer: ${kind}`;
    switch (kind) {
      case "throttle": {
        const seconds = 1 + Math.floor(random() * 2);
        ledger.answered(account, "throttle", label, seconds * 1000);
        return answer({
          ...UPSTREAM_ERRORS.throttling,
          headers: { "retry-after": String(seconds) },
        });
      }
      case "quota": {
        const seconds = Math.max(1, Math.ceil((until - Date.now()) / 1000));
        ledger.answered(account, "quota", label, seconds * 1000);
        return answer({ ...UPSTREAM_ERRORS.quota, headers: { "retry-after": String(seconds) } });
      }
      case "server":
        ledger.answered(account, "server", label, 0);
        return answer(serverError(random));
      case "auth":
        ledger.answered(account, "auth", label, REJECTION_RETRY_MS);
        return answer(isKey ? PROVIDER_ANSWERS.invalidKey : UPSTREAM_ERRORS.invalidToken);
    }
  }

  #requestFault(
    account: string,
    fault: RequestFault,
    attempt: number,
    isKey: boolean,
  ): Response | undefined {
    const { ledger, random } = this.options;
    const label = `request fault: ${fault}`;
    if (fault === "5xx-all") {
      ledger.answered(account, "server", label, 0);
      return answer(serverError(random));
    }
    if (attempt > 0) return undefined;
    switch (fault) {
      case "5xx-once":
        ledger.answered(account, "server", label, 0);
        return answer(serverError(random));
      case "throttle-once":
        ledger.answered(account, "throttle", label, 1_000);
        return answer({ ...UPSTREAM_ERRORS.throttling, headers: { "retry-after": "1" } });
      case "quota-once":
        ledger.answered(account, "quota", label, 8_000);
        return answer({ ...UPSTREAM_ERRORS.quota, headers: { "retry-after": "8" } });
      case "auth-once":
        ledger.answered(account, "auth", label, REJECTION_RETRY_MS);
        return answer(isKey ? PROVIDER_ANSWERS.invalidKey : UPSTREAM_ERRORS.invalidToken);
      case "denied-once":
        ledger.count(label);
        return answer({ status: 403, body: DENIED_BODY });
      default:
        return undefined; // Stalls and cuts are scenarios of the fake (scenarioOf).
    }
  }
}

function serverError(random: () => number): Answer {
  const pick = random();
  if (pick < 0.4) return UPSTREAM_ERRORS.html; // 502
  if (pick < 0.7) {
    return { status: 503, body: "<html><body>503 Service Unavailable</body></html>" };
  }
  return {
    status: 500,
    body: JSON.stringify({
      error: {
        message: "Internal server error",
        type: "server_error",
        param: null,
        code: "internal_error",
      },
    }),
  };
}

/**
 * The answer's first `events` SSE events, then a broken connection. (The fake's own `breakAfter`
 * does the same, but fails the body with an Error, which Bun prints with its source on every
 * cut; a failure without a reason breaks the connection just as well, silently.)
 */
function cutAfter(response: Response, events: number): Response {
  const reader = response.body!.getReader();
  let seen = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (seen >= events) {
        // Let the events sent so far leave first.
        await new Promise((r) => setTimeout(r, 50));
        reader.cancel().catch(() => {});
        controller.error(undefined);
        return;
      }
      const { done, value } = await reader.read();
      if (done) return controller.close();
      seen += new TextDecoder().decode(value).split("\n\n").length - 1;
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, headers: response.headers });
}

/** Stalls and cuts, asked for by the request's marker; everything else is a normal answer. */
function scenarioOf(body: Record<string, unknown>): Scenario {
  const fault = parseMarker(body.user)?.fault;
  const stream = body.stream === true;
  switch (fault) {
    case "stall-first":
      return { kind: "hang" };
    case "stall-mid":
      return stream ? { kind: "ok", chunkDelayMs: 600_000 } : { kind: "ok", stallAfterBytes: 40 };
    case "cut":
      // A stream is cut by cutAfter(); a whole answer stalls instead.
      return stream ? { kind: "ok" } : { kind: "ok", stallAfterBytes: 40 };
    default:
      return { kind: "ok" };
  }
}
