/**
 * The OAuth 2.0 device authorization grant (RFC 8628) with PKCE S256, as Qwen runs it
 * (docs/upstream.md#oauth-device-flow, #polling): ask for a device code, show it, then poll the token
 * endpoint until the person approves, refuses, or the code runs out.
 *
 * Polling rules: wait `interval` seconds between polls (2 s when the server gives none, as
 * the official client); `authorization_pending` → keep going; `slow_down` → add 5 s to the
 * interval for good; `access_denied`, `expired_token` or `expires_in` elapsed → stop with a
 * message of its own. Unlike the official client we do not keep polling after a refusal.
 *
 * The clock and sleep are injected so tests run the whole schedule instantly.
 */
import { CancelledError, QwenError } from "../lib/errors.ts";
import { hostOf } from "../lib/text.ts";
import {
  type DeviceCode,
  type OAuthClientOptions,
  pollDeviceToken,
  requestDeviceCode,
  type TokenResponse,
} from "./client.ts";
import { createPkce, type Pkce } from "./pkce.ts";

/** The official client's interval when the device answer has none. */
const DEFAULT_INTERVAL_MS = 2_000;
/** RFC 8628 §3.5: on `slow_down` the interval grows by 5 seconds. */
const SLOW_DOWN_STEP_MS = 5_000;

/** What to show the person while the flow waits for them. */
export interface DeviceCodePrompt {
  userCode: string;
  /** Where to go and type the code. */
  verificationUri: string;
  /** Same page with the code filled in, when the server gave one (the URL to open / QR). */
  verificationUriComplete?: string;
  /** Seconds the code stays valid. */
  expiresIn: number;
  /** Milliseconds between polls, as first announced. */
  intervalMs: number;
}

interface DeviceFlowOptions {
  client: Omit<OAuthClientOptions, "signal">;
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Ctrl+C: aborting it ends the flow with a CancelledError. */
  signal?: AbortSignal;
  /** Called once with the code to show, before the first poll. */
  onCode(prompt: DeviceCodePrompt): void | Promise<void>;
  /** Called after each `slow_down` with the new interval. */
  onSlowDown?(intervalMs: number): void;
  /** Called before each poll (for progress output or tests). */
  onPoll?(attempt: number): void;
  /** Only for tests: a fixed PKCE pair. */
  pkce?: Pkce;
}

/** Runs the whole flow and returns the token answer; throws a QwenError on every failure. */
export async function runDeviceFlow(options: DeviceFlowOptions): Promise<TokenResponse> {
  const { signal } = options;
  try {
    return await deviceFlow(options);
  } catch (error) {
    // Whatever was in flight when Ctrl+C came (a fetch, a sleep) ends as one cancellation.
    if (signal?.aborted && !(error instanceof CancelledError)) {
      throw new CancelledError("Login cancelled");
    }
    throw error;
  }
}

async function deviceFlow(options: DeviceFlowOptions): Promise<TokenResponse> {
  const { signal, now, sleep } = options;
  const client: OAuthClientOptions = { ...options.client, signal };
  const host = hostOf(client.baseUrl);
  const pkce = options.pkce ?? await createPkce();
  throwIfAborted(signal);

  const device: DeviceCode = await requestDeviceCode(client, pkce);
  const startedAt = now();
  const deadline = startedAt + device.expires_in * 1000;
  let intervalMs = device.interval !== undefined ? device.interval * 1000 : DEFAULT_INTERVAL_MS;

  await options.onCode({
    userCode: device.user_code,
    verificationUri: device.verification_uri,
    verificationUriComplete: device.verification_uri_complete,
    expiresIn: device.expires_in,
    intervalMs,
  });

  for (let attempt = 1;; attempt++) {
    throwIfAborted(signal);
    const remaining = deadline - now();
    if (remaining <= 0) throw timedOut(device.expires_in);
    // Never sleep past the deadline: there is no point polling a dead code.
    await sleep(Math.min(intervalMs, remaining), signal);
    throwIfAborted(signal);
    if (now() >= deadline) throw timedOut(device.expires_in);

    options.onPoll?.(attempt);
    const result = await pollDeviceToken(client, device.device_code, pkce.verifier);
    switch (result.kind) {
      case "token":
        return result.token;
      case "pending":
        continue;
      case "slow_down":
        intervalMs += SLOW_DOWN_STEP_MS;
        options.onSlowDown?.(intervalMs);
        continue;
      case "denied":
        throw new QwenError(
          `Login refused at "${host}": the request was denied in the browser${
            detail(result.description)
          }; run "qwen auth" to try again`,
          { code: "access_denied", status: 401, type: "authentication_error" },
        );
      case "expired":
        throw new QwenError(
          `Login code expired at "${host}" before it was approved${
            detail(result.description)
          }; run "qwen auth" for a new code`,
          { code: "expired_token", status: 401, type: "authentication_error" },
        );
    }
  }
}

function detail(description: string | undefined): string {
  return description ? ` ("${description}")` : "";
}

function timedOut(expiresIn: number): QwenError {
  return new QwenError(
    `Login not approved within ${
      formatSeconds(expiresIn)
    }: the code has expired; run "qwen auth" for a new code`,
    { code: "device_code_timeout", status: 401, type: "authentication_error" },
  );
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError("Login cancelled");
}

/** "10 minutes", "90 seconds", "1 minute 30 seconds". */
export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} second${s === 1 ? "" : "s"}`;
  const m = Math.floor(s / 60);
  const rest = s % 60;
  const minutes = `${m} minute${m === 1 ? "" : "s"}`;
  return rest === 0 ? minutes : `${minutes} ${rest} second${rest === 1 ? "" : "s"}`;
}
