/**
 * One 1-token chat call that tells whether an account can really be used, classified:
 *
 * | result                 | answer                                                             |
 * |------------------------|--------------------------------------------------------------------|
 * | `ok`                   | 2xx with a chat completion                                         |
 * | `oauth_discontinued`   | 401/403 to an OAuth token (the free tier ended on 2026-04-15)      |
 * | `invalid_key`          | 401 to an API key (wrong, revoked or expired)                      |
 * | `wrong_plan_or_region` | 403 "invalid api-key": a key of another plan or region             |
 * | `coding_plan_client`   | 405 "only available for Coding Agents"                             |
 * | `arrears`              | `Arrearage`: the Alibaba Cloud account is in arrears               |
 * | `quota`                | `insufficient_quota`, `Throttling.AllocationQuota`, quota exceeded |
 * | `throttled`            | any other 429                                                      |
 * | `unreachable`          | no answer: DNS, connection, TLS, timeout                           |
 * | `upstream_error`       | anything else (5xx, 400 unknown model, a redirect, HTML)           |
 * | `credentials_error`    | no call made: the file is unusable or the refresh was refused      |
 *
 * The key (or token) goes to the account's own base URL only: redirects are not followed.
 */
import type { Fetch } from "../lib/context.ts";
import type { TokenSource, UpstreamAuth } from "../credentials/types.ts";
import { QwenError } from "../lib/errors.ts";
import { hostOf } from "../oauth/client.ts";
import { parseUpstreamError } from "./classify.ts";
import { authHeaders } from "./headers.ts";
import { isAlibabaHost } from "../accounts/providers.ts";

export const PROBE_RESULTS = [
  "ok",
  "oauth_discontinued",
  "invalid_key",
  "wrong_plan_or_region",
  "coding_plan_client",
  "arrears",
  "quota",
  "throttled",
  "unreachable",
  "upstream_error",
  "credentials_error",
] as const;

export type ProbeResultName = (typeof PROBE_RESULTS)[number];

export interface ProbeOutcome {
  result: ProbeResultName;
  /** The upstream's HTTP status, or null when there was no answer. */
  status: number | null;
  /** One sentence for a person: what happened and what to do. Never contains the key. */
  message: string;
  /** True when the upstream answered and refused the credential or account (exit code 5). */
  refused: boolean;
  /** For `quota` and `throttled`: when the account should work again (ms), if known. */
  resetAt: number | null;
  /** For `credentials_error`: the token source's error code (`needs_login`, ...). */
  credentialsCode?: string;
}

/** The results where the upstream answered and refused the credential or the account. */
export const REFUSALS: ReadonlySet<ProbeResultName> = new Set<ProbeResultName>([
  "oauth_discontinued",
  "invalid_key",
  "wrong_plan_or_region",
  "coding_plan_client",
  "arrears",
  "quota",
  "throttled",
]);

export function isRefusal(result: ProbeResultName): boolean {
  return REFUSALS.has(result);
}

/** The commands that switch an OAuth user to an API key (shown by `oauth_discontinued`). */
export const SWITCH_COMMANDS = [
  'echo "$BAILIAN_CODING_PLAN_API_KEY" | qwen auth --provider coding-plan',
  'echo "$DASHSCOPE_API_KEY" | qwen auth --provider dashscope',
] as const;

export const OAUTH_DISCONTINUED_MESSAGE =
  "Qwen refused the OAuth token: the Qwen OAuth free tier was discontinued on 2026-04-15, so " +
  "OAuth logins no longer work for model calls. Switch to an API key from Alibaba Model " +
  `Studio: run '${SWITCH_COMMANDS[0]}' for a Coding Plan key (sk-sp-...), or '${
    SWITCH_COMMANDS[1]
  }' for a pay-as-you-go key`;

export interface ProbeTarget {
  /** The account name, for messages. */
  name: string;
  source: TokenSource;
  /** The model asked for: the account's `coder-model` mapping, `coder-model` on OAuth. */
  model: string;
}

export interface ProbeDeps {
  fetch: Fetch;
  /** Our own User-Agent (`defaultUserAgent`): a probe has no calling client to speak for. */
  userAgent: string;
  now(): number;
  signal?: AbortSignal;
  /** Give up on an answer after this long. Default 20 s. */
  timeoutMs?: number;
}

const QUOTA = /insufficient_quota|AllocationQuota|quota exceeded|quota has been exhausted/i;
const ARREARS = /Arrearage|overdue/i;
const CODING_AGENTS = /only available for Coding Agents/i;
const INVALID_API_KEY = /invalid api-key/i;

/** Makes the probe call for one account. Never throws for what the upstream does. */
export async function probe(target: ProbeTarget, deps: ProbeDeps): Promise<ProbeOutcome> {
  let auth: UpstreamAuth;
  try {
    auth = await target.source.getToken({ signal: deps.signal });
  } catch (error) {
    if (deps.signal?.aborted) throw error;
    return {
      result: "credentials_error",
      status: null,
      message: error instanceof Error ? error.message : String(error),
      refused: false,
      resetAt: null,
      credentialsCode: error instanceof QwenError ? error.code : undefined,
    };
  }
  const headers: Record<string, string> = {
    ...authHeaders(auth, deps.userAgent, null),
    "content-type": "application/json",
    "accept": "application/json",
  };
  if (auth.kind === "api_key" && isAlibabaHost(auth.baseUrl)) {
    headers["x-dashscope-cachecontrol"] = "enable";
  }
  const controller = new AbortController();
  const onAbort = () => controller.abort(deps.signal?.reason);
  deps.signal?.addEventListener("abort", onAbort, { once: true });
  const timeoutMs = deps.timeoutMs ?? 20_000;
  const timer = setTimeout(() => controller.abort(new Error("timeout")), timeoutMs);
  const host = hostOf(auth.baseUrl);
  try {
    let response: Response;
    try {
      response = await deps.fetch(`${auth.baseUrl}/chat/completions`, {
        method: "POST",
        headers,
        body: JSON.stringify({
          model: target.model,
          messages: [{ role: "user", content: "Say OK." }],
          max_tokens: 1,
          stream: false,
        }),
        // A redirect elsewhere would carry the key away from its host.
        redirect: "manual",
        signal: controller.signal,
      });
    } catch (error) {
      if (deps.signal?.aborted) throw error;
      const timedOut = controller.signal.aborted;
      return {
        result: "unreachable",
        status: null,
        message: timedOut
          ? `Cannot reach "${host}": no answer within ${Math.round(timeoutMs / 1000)} s`
          : `Cannot reach "${host}": ${describeFetchError(error)}`,
        refused: false,
        resetAt: null,
      };
    }
    // An upstream that quotes the key back (some do) must not get it into our output.
    const text = (await response.text().catch(() => "")).replaceAll(auth.token, "[key]");
    return classifyAnswer(response.status, text, response.headers, {
      kind: auth.kind,
      host,
      model: target.model,
      now: deps.now(),
    });
  } finally {
    clearTimeout(timer);
    deps.signal?.removeEventListener("abort", onAbort);
  }
}

export interface ClassifyContext {
  kind: UpstreamAuth["kind"];
  /** The upstream host, for messages. */
  host: string;
  model: string;
  now: number;
}

/** The classification table, on one answer (status, body text, headers). */
export function classifyAnswer(
  status: number,
  text: string,
  headers: Headers,
  context: ClassifyContext,
): ProbeOutcome {
  const { host, now } = context;
  const outcome = (
    result: ProbeResultName,
    message: string,
    extra: Partial<ProbeOutcome> = {},
  ): ProbeOutcome => ({
    result,
    status,
    message,
    refused: isRefusal(result),
    resetAt: null,
    ...extra,
  });

  if (status >= 200 && status < 300) {
    if (looksLikeCompletion(text)) {
      return outcome("ok", `"${host}" answered a 1-token chat call`);
    }
    return outcome(
      "upstream_error",
      `"${host}" answered HTTP ${status} without a chat completion: is the base URL right?`,
    );
  }
  if (status >= 300 && status < 400) {
    const location = headers.get("location");
    return outcome(
      "upstream_error",
      `"${host}" redirected the call${
        location ? ` to "${redactUrl(location)}"` : ""
      }; not followed, so the key stays with its host: check the base URL`,
    );
  }

  const error = parseUpstreamError(status, text);
  const detail = `${error.code ?? ""} ${error.message}`;
  const quoted = `HTTP ${status}${error.code ? ` ${error.code}` : ""}: "${clip(error.message)}"`;

  if (status === 405 || CODING_AGENTS.test(detail)) {
    return outcome(
      "coding_plan_client",
      `"${host}" refused the call (${quoted}): Coding Plan keys may only be used from interactive coding tools (coding agents); the key itself is accepted`,
    );
  }
  if (ARREARS.test(detail)) {
    return outcome(
      "arrears",
      `"${host}" refused the call (${quoted}): the Alibaba Cloud account is in arrears; top it up in the Alibaba Cloud console`,
    );
  }
  if (QUOTA.test(detail)) {
    const resetAt = retryAfterMs(headers, now) ?? dailyResetFor(host, now);
    return outcome(
      "quota",
      `"${host}" refused the call (${quoted}): the quota is exhausted${
        resetAt === null ? "" : `; it resets at ${new Date(resetAt).toISOString()}`
      }${resetAt !== null && !headers.has("retry-after") ? " (midnight Beijing time)" : ""}`,
      { resetAt },
    );
  }
  if (status === 429) {
    const resetAt = retryAfterMs(headers, now);
    return outcome(
      "throttled",
      `"${host}" is rate limiting the account (${quoted}): try again ${
        resetAt === null ? "in a minute" : `after ${new Date(resetAt).toISOString()}`
      }`,
      { resetAt },
    );
  }
  if (status === 403 && INVALID_API_KEY.test(detail)) {
    return outcome(
      "wrong_plan_or_region",
      `"${host}" does not know this key (${quoted}): it belongs to another plan or region; store it again with the matching --provider (a Coding Plan key "sk-sp-..." needs "coding-plan" or "coding-plan-cn")`,
    );
  }
  if (status === 401 || (status === 403 && error.failure === "auth" && context.kind === "oauth")) {
    if (context.kind === "oauth") {
      return outcome("oauth_discontinued", `${OAUTH_DISCONTINUED_MESSAGE} (${quoted})`);
    }
    return outcome(
      "invalid_key",
      `"${host}" refused the key (${quoted}): it is wrong, revoked or expired; create a new key and store it with "qwen auth --provider PRESET"`,
    );
  }
  if (error.failure === "server" || error.failure === "timeout") {
    return outcome("upstream_error", `"${host}" failed (${quoted}): try again later`);
  }
  const hint = status === 404 || /model/i.test(detail)
    ? `; is the model "${context.model}" available there?`
    : "";
  return outcome("upstream_error", `"${host}" refused the call (${quoted})${hint}`);
}

/** The next midnight in Beijing (UTC+8), when Qwen's daily quotas reset. */
export function nextBeijingMidnight(now: number): number {
  const offset = 8 * 3_600_000;
  const day = 86_400_000;
  return Math.floor((now + offset) / day) * day + day - offset;
}

/** Daily quotas reset at midnight Beijing time on Qwen's and Alibaba's hosts; elsewhere unknown. */
function dailyResetFor(host: string, now: number): number | null {
  return /(^|\.)(qwen\.ai|aliyuncs\.com|alibabacloud\.com)$/i.test(host)
    ? nextBeijingMidnight(now)
    : null;
}

/** `Retry-After` as seconds or an HTTP date, in ms since the epoch; null when absent. */
export function retryAfterMs(headers: Headers, now: number): number | null {
  const value = headers.get("retry-after")?.trim();
  if (!value) return null;
  if (/^\d+$/.test(value)) return now + Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : date;
}

function looksLikeCompletion(text: string): boolean {
  try {
    const json = JSON.parse(text) as Record<string, unknown> | null;
    return typeof json === "object" && json !== null && Array.isArray(json.choices);
  } catch {
    return false;
  }
}

function redactUrl(location: string): string {
  try {
    const url = new URL(location);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return clip(location);
  }
}

function clip(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  const code = (error.cause as { code?: string } | undefined)?.code ??
    (error as { code?: string }).code;
  return [cause ?? error.message, code && !(cause ?? error.message).includes(code) ? code : ""]
    .filter(Boolean).join(" ");
}
