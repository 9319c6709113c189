/**
 * A strict fake of Qwen's OAuth server (docs/upstream.md#oauth-device-flow, #polling), for tests on loopback.
 * It checks what the real one would need (form encoding, key order, client id, PKCE verifier
 * against challenge, grant types) and answers 400 with a descriptive error otherwise, so a
 * sloppy client fails its tests instead of passing against a lenient fake.
 */
import { codeChallengeFor } from "../../src/oauth/pkce.ts";
import type { Server } from "../../src/runtime/mod.ts";
import { startServer } from "./with-server.ts";

export const CLIENT_ID = "f0304373b74a44d2b584a3fb70ca9e56";
const SCOPE = "openid profile email model.completion";

/** What the token endpoint answers to successive polls of one device code. */
export type PollStep = "pending" | "slow_down" | "approve" | "deny" | "expire";

export interface FakeQwenOptions {
  /** Seconds, as sent in the device response; omit to leave `interval` out. */
  interval?: number;
  expiresIn?: number;
  /** Poll answers in order; the last one repeats. Default: pending once, then approve. */
  polls?: PollStep[];
  /** Lifetime of issued access tokens, seconds. */
  tokenExpiresIn?: number;
  /** `resource_url` put in token answers (undefined: left out). */
  resourceUrl?: string | undefined;
  /** Milliseconds to wait before answering a refresh. */
  refreshDelayMs?: number;
}

export interface RecordedRequest {
  path: string;
  method: string;
  headers: Headers;
  /** Form keys in the order they came. */
  keys: string[];
  form: URLSearchParams;
  at: number;
}

export interface OverrideResponse {
  status: number;
  body: string;
  contentType?: string;
}

export class FakeQwen {
  readonly options: Required<Omit<FakeQwenOptions, "interval" | "resourceUrl">> & {
    interval?: number;
    resourceUrl?: string;
  };
  readonly requests: RecordedRequest[] = [];
  /** Answers to give instead of the normal ones, first in first out, per path. */
  readonly overrides = new Map<string, OverrideResponse[]>();
  private readonly devices = new Map<
    string,
    { challenge: string; polls: number; issued: boolean }
  >();
  /** Refresh tokens that may still be used once; rotation removes them. */
  readonly liveRefreshTokens = new Set<string>();
  readonly issuedAccessTokens: string[] = [];
  private counter = 0;

  constructor(options: FakeQwenOptions = {}) {
    this.options = {
      expiresIn: 600,
      polls: ["pending", "approve"],
      tokenExpiresIn: 21600,
      refreshDelayMs: 0,
      ...options,
    };
    if (!("resourceUrl" in options)) this.options.resourceUrl = "portal.qwen.ai";
  }

  get refreshRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.form.get("grant_type") === "refresh_token");
  }

  get pollRequests(): RecordedRequest[] {
    return this.requests.filter((r) =>
      r.form.get("grant_type") === "urn:ietf:params:oauth:grant-type:device_code"
    );
  }

  /** Seeds a refresh token as if issued earlier, e.g. for a credentials file a test writes. */
  addRefreshToken(token: string): void {
    this.liveRefreshTokens.add(token);
  }

  override(path: string, response: OverrideResponse): void {
    const queue = this.overrides.get(path) ?? [];
    queue.push(response);
    this.overrides.set(path, queue);
  }

  readonly handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const text = request.method === "POST" ? await request.text() : "";
    const form = new URLSearchParams(text);
    this.requests.push({
      path: url.pathname,
      method: request.method,
      headers: request.headers,
      keys: [...form.keys()],
      form,
      at: Date.now(),
    });
    const override = this.overrides.get(url.pathname)?.shift();
    if (override) {
      return new Response(override.body, {
        status: override.status,
        headers: { "content-type": override.contentType ?? "application/json" },
      });
    }
    if (request.method !== "POST") return oauthError(405, "invalid_request", "POST only");
    if (
      !(request.headers.get("content-type") ?? "").startsWith("application/x-www-form-urlencoded")
    ) {
      return oauthError(400, "invalid_request", "expected application/x-www-form-urlencoded");
    }
    if (!request.headers.get("user-agent")) {
      return new Response("<html>blocked</html>", { status: 403 });
    }
    if (form.get("client_id") !== CLIENT_ID) {
      return oauthError(400, "invalid_client", "unknown client_id");
    }
    switch (url.pathname) {
      case "/api/v1/oauth2/device/code":
        return await this.deviceCode(request, form);
      case "/api/v1/oauth2/token":
        return await this.token(form);
      default:
        return oauthError(404, "not_found", url.pathname);
    }
  };

  private async deviceCode(request: Request, form: URLSearchParams): Promise<Response> {
    const expected = ["client_id", "scope", "code_challenge", "code_challenge_method"];
    if ([...form.keys()].join() !== expected.join()) {
      return oauthError(400, "invalid_request", `expected keys ${expected.join(",")}`);
    }
    if (form.get("scope") !== SCOPE) return oauthError(400, "invalid_scope", "wrong scope");
    if (form.get("code_challenge_method") !== "S256") {
      return oauthError(400, "invalid_request", "S256 only");
    }
    const challenge = form.get("code_challenge") ?? "";
    if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
      return oauthError(400, "invalid_request", "bad challenge");
    }
    if (!request.headers.get("x-request-id")) {
      return oauthError(400, "invalid_request", "no x-request-id");
    }
    const deviceCode = `dev-${++this.counter}-${crypto.randomUUID()}`;
    const userCode = `USER${this.counter}CODE`.slice(0, 8);
    this.devices.set(deviceCode, { challenge, polls: 0, issued: false });
    const body: Record<string, unknown> = {
      device_code: deviceCode,
      user_code: userCode,
      verification_uri: "https://chat.qwen.ai/authorize",
      verification_uri_complete:
        `https://chat.qwen.ai/authorize?user_code=${userCode}&client=qwen-code`,
      expires_in: this.options.expiresIn,
    };
    if (this.options.interval !== undefined) body.interval = this.options.interval;
    await Promise.resolve();
    return Response.json(body);
  }

  private async token(form: URLSearchParams): Promise<Response> {
    const grant = form.get("grant_type");
    if (grant === "urn:ietf:params:oauth:grant-type:device_code") {
      const expected = ["grant_type", "client_id", "device_code", "code_verifier"];
      if ([...form.keys()].join() !== expected.join()) {
        return oauthError(400, "invalid_request", `expected keys ${expected.join(",")}`);
      }
      const device = this.devices.get(form.get("device_code") ?? "");
      if (!device || device.issued) return oauthError(400, "invalid_grant", "unknown device_code");
      if (await codeChallengeFor(form.get("code_verifier") ?? "") !== device.challenge) {
        return oauthError(400, "invalid_grant", "code_verifier does not match code_challenge");
      }
      const steps = this.options.polls;
      const step = steps[Math.min(device.polls++, steps.length - 1)];
      switch (step) {
        case "pending":
          return oauthError(400, "authorization_pending", "The user has not yet approved");
        case "slow_down":
          return oauthError(429, "slow_down", "Polling too fast");
        case "deny":
          return oauthError(400, "access_denied", "The user denied the request");
        case "expire":
          return oauthError(400, "expired_token", "The device code expired");
        case "approve":
          device.issued = true;
          return Response.json(this.issueToken());
      }
    }
    if (grant === "refresh_token") {
      const expected = ["grant_type", "refresh_token", "client_id"];
      if ([...form.keys()].join() !== expected.join()) {
        return oauthError(400, "invalid_request", `expected keys ${expected.join(",")}`);
      }
      if (this.options.refreshDelayMs > 0) {
        await new Promise((r) => setTimeout(r, this.options.refreshDelayMs));
      }
      const token = form.get("refresh_token") ?? "";
      // Rotation: a refresh token works once; reusing it is what kills accounts in real life.
      if (!this.liveRefreshTokens.delete(token)) {
        return oauthError(400, "invalid_grant", "Invalid refresh token or client_id");
      }
      return Response.json(this.issueToken());
    }
    return oauthError(400, "unsupported_grant_type", String(grant));
  }

  private issueToken(): Record<string, unknown> {
    const n = ++this.counter;
    const access = `access-${n}-${crypto.randomUUID()}`;
    const refresh = `refresh-${n}-${crypto.randomUUID()}`;
    this.liveRefreshTokens.add(refresh);
    this.issuedAccessTokens.push(access);
    const body: Record<string, unknown> = {
      access_token: access,
      refresh_token: refresh,
      token_type: "Bearer",
      expires_in: this.options.tokenExpiresIn,
    };
    if (this.options.resourceUrl !== undefined) body.resource_url = this.options.resourceUrl;
    return body;
  }
}

function oauthError(status: number, error: string, description: string): Response {
  return Response.json({ error, error_description: description }, { status });
}

export interface RunningFakeQwen {
  fake: FakeQwen;
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startFakeQwen(options: FakeQwenOptions = {}): Promise<RunningFakeQwen> {
  const fake = new FakeQwen(options);
  const server = await startServer(fake.handler);
  return { fake, server, url: server.url, close: () => server.close(true) };
}
