/**
 * The three HTTP calls of Qwen's OAuth server, each validated with zod. Anything that is not
 * the documented JSON (a WAF's HTML page, an empty 200, a 5xx) becomes a QwenError naming the
 * host and status: never a crash, never a stack trace.
 */
import type { Fetch } from "../lib/context.ts";
import { hostOf } from "../lib/text.ts";
import { describeError, QwenError } from "../lib/errors.ts";
import { VERSION } from "../lib/version.ts";
import { z } from "../lib/zod.ts";
import {
  DEVICE_CODE_PATH,
  DEVICE_GRANT_TYPE,
  QWEN_OAUTH_CLIENT_ID,
  QWEN_OAUTH_SCOPE,
  TOKEN_PATH,
} from "./constants.ts";

const deviceCodeSchema = z.looseObject({
  device_code: z.string().check(z.minLength(1)),
  user_code: z.string().check(z.minLength(1)),
  verification_uri: z.string().check(z.minLength(1)),
  verification_uri_complete: z.optional(z.string().check(z.minLength(1))),
  expires_in: z.number().check(z.positive()),
  interval: z.optional(z.number().check(z.positive())),
});
export type DeviceCode = z.infer<typeof deviceCodeSchema>;

const tokenSchema = z.looseObject({
  access_token: z.string().check(z.minLength(1)),
  refresh_token: z.optional(z.string().check(z.minLength(1))),
  token_type: z._default(z.string().check(z.minLength(1)), "Bearer"),
  expires_in: z.number().check(z.positive()),
  resource_url: z.optional(z.string().check(z.minLength(1))),
  scope: z.optional(z.string()),
});
export type TokenResponse = z.infer<typeof tokenSchema>;

const oauthErrorSchema = z.looseObject({
  error: z.string(),
  error_description: z.optional(z.string()),
});

export interface OAuthClientOptions {
  baseUrl: string;
  fetch: Fetch;
  signal?: AbortSignal;
}

/** How long a refresh may take: well inside the lock's 10 s staleness (docs/upstream.md#refresh-lock). */
const REFRESH_TIMEOUT_MS = 8_000;

type PollResult =
  | { kind: "token"; token: TokenResponse }
  | { kind: "pending" }
  | { kind: "slow_down" }
  | { kind: "denied"; description?: string }
  | { kind: "expired"; description?: string };

/** The refresh token was refused (400/401): only a new login helps. */
export class RefreshRejectedError extends QwenError {
  constructor(message: string) {
    super(message, { code: "refresh_rejected", status: 401, type: "authentication_error" });
    this.name = "RefreshRejectedError";
  }
}

export async function requestDeviceCode(
  options: OAuthClientOptions,
  pkce: { challenge: string; method: "S256" },
): Promise<DeviceCode> {
  const body = new URLSearchParams([
    ["client_id", QWEN_OAUTH_CLIENT_ID],
    ["scope", QWEN_OAUTH_SCOPE],
    ["code_challenge", pkce.challenge],
    ["code_challenge_method", pkce.method],
  ]);
  const { response, json } = await post(options, DEVICE_CODE_PATH, body, {
    "x-request-id": crypto.randomUUID(),
  });
  if (!response.ok) throw httpError(options, "request a device code", response, json);
  return validate(options, "request a device code", response, deviceCodeSchema, json);
}

export async function pollDeviceToken(
  options: OAuthClientOptions,
  deviceCode: string,
  codeVerifier: string,
): Promise<PollResult> {
  const body = new URLSearchParams([
    ["grant_type", DEVICE_GRANT_TYPE],
    ["client_id", QWEN_OAUTH_CLIENT_ID],
    ["device_code", deviceCode],
    ["code_verifier", codeVerifier],
  ]);
  const { response, json } = await post(options, TOKEN_PATH, body);
  if (response.ok) {
    return {
      kind: "token",
      token: validate(options, "poll for the token", response, tokenSchema, json),
    };
  }
  const error = oauthErrorSchema.safeParse(json);
  if (error.success) {
    const description = error.data.error_description;
    switch (error.data.error) {
      case "authorization_pending":
        return { kind: "pending" };
      case "slow_down":
        return { kind: "slow_down" };
      case "access_denied":
        return { kind: "denied", description };
      case "expired_token":
        return { kind: "expired", description };
    }
  }
  // Qwen has answered 429 without a body while throttling polls; treat it as slow_down.
  if (response.status === 429) return { kind: "slow_down" };
  throw httpError(options, "poll for the token", response, json);
}

export async function refreshAccessToken(
  options: OAuthClientOptions,
  refreshToken: string,
): Promise<TokenResponse> {
  const body = new URLSearchParams([
    ["grant_type", "refresh_token"],
    ["refresh_token", refreshToken],
    ["client_id", QWEN_OAUTH_CLIENT_ID],
  ]);
  const timeout = AbortSignal.timeout(REFRESH_TIMEOUT_MS);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const { response, json } = await post({ ...options, signal }, TOKEN_PATH, body);
  if (response.status === 400 || response.status === 401) {
    const error = oauthErrorSchema.safeParse(json);
    const reason = error.success
      ? (error.data.error_description ?? error.data.error)
      : `HTTP ${response.status}`;
    throw new RefreshRejectedError(`The refresh token was refused: ${reason}`);
  }
  if (!response.ok) throw httpError(options, "refresh the token", response, json);
  return validate(options, "refresh the token", response, tokenSchema, json);
}

async function post(
  options: OAuthClientOptions,
  path: string,
  body: URLSearchParams,
  extraHeaders: Record<string, string> = {},
): Promise<{ response: Response; json: unknown }> {
  const url = options.baseUrl + path;
  let response: Response;
  try {
    response = await options.fetch(url, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Accept: "application/json",
        // Alibaba's WAF blocks requests without a User-Agent.
        "User-Agent": `qwen/${VERSION}`,
        ...extraHeaders,
      },
      body,
      redirect: "follow",
      signal: options.signal,
    });
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw new QwenError(`Cannot reach "${hostOf(url)}": ${describeError(error)}`, {
      code: "upstream_unreachable",
      status: 502,
      cause: error,
    });
  }
  const text = await response.text();
  try {
    return { response, json: text === "" ? undefined : JSON.parse(text) };
  } catch {
    return { response, json: undefined };
  }
}

function validate<T extends z.ZodMiniType>(
  options: OAuthClientOptions,
  action: string,
  response: Response,
  schema: T,
  json: unknown,
): z.infer<T> {
  if (json === undefined) {
    const type = response.headers.get("content-type") ?? "no content type";
    throw new QwenError(
      `Cannot ${action} at "${
        hostOf(options.baseUrl)
      }": HTTP ${response.status} answered with ${type}, not JSON`,
      { code: "upstream_bad_response", status: 502 },
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => `"${issue.path.join(".")}"`).join(", ");
    throw new QwenError(
      `Cannot ${action} at "${
        hostOf(options.baseUrl)
      }": unexpected answer (HTTP ${response.status}), bad or missing ${fields}`,
      { code: "upstream_bad_response", status: 502 },
    );
  }
  return parsed.data;
}

function httpError(
  options: OAuthClientOptions,
  action: string,
  response: Response,
  json: unknown,
): QwenError {
  const error = oauthErrorSchema.safeParse(json);
  const detail = error.success
    ? `: ${error.data.error}${
      error.data.error_description ? ` (${error.data.error_description})` : ""
    }`
    : json === undefined
    ? ` (${response.headers.get("content-type") ?? "no content type"}, not JSON)`
    : "";
  return new QwenError(
    `Cannot ${action} at "${hostOf(options.baseUrl)}": HTTP ${response.status}${detail}`,
    { code: "upstream_error", status: 502 },
  );
}
