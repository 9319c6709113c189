/**
 * One 1-token chat call that tells whether an account can really be used. Its answer is read by
 * classify.ts, as serve reads its answers; the probe names the result for a person or a script:
 *
 * | result                 | when                                                          |
 * |------------------------|---------------------------------------------------------------|
 * | `ok`                   | 2xx with a chat completion                                    |
 * | `oauth_discontinued`   | `invalid_credentials` to an OAuth token (free tier ended)     |
 * | `invalid_key`          | `invalid_credentials` to an API key                           |
 * | `wrong_plan_or_region` | `wrong_plan_or_region`                                        |
 * | `coding_plan_client`   | `coding_plan_client`                                          |
 * | `arrears`              | `arrears`                                                     |
 * | `quota`                | `quota`                                                       |
 * | `throttled`            | `throttled`                                                   |
 * | `unreachable`          | no answer: DNS, connection, TLS, timeout                      |
 * | `upstream_error`       | anything else (5xx, a model refused or unknown, a redirect)   |
 * | `credentials_error`    | no call made: the file is unusable or the refresh was refused |
 *
 * The key (or token) goes to the account's own base URL only: redirects are not followed.
 */
import type { TokenSource, UpstreamAuth } from "../credentials/types.ts";
import type { Fetch } from "../lib/context.ts";
import { describeError, QwenError } from "../lib/errors.ts";
import { readTextAtMost } from "../lib/bytes.ts";
import { clip, hostOf, withoutSecrets } from "../lib/text.ts";
import {
  arrearsAdvice,
  classifyAnswer,
  MAX_ERROR_BODY_BYTES,
  OAUTH_DISCONTINUED_MESSAGE,
  type UpstreamError,
} from "./classify.ts";
import { authHeaders } from "./headers.ts";

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

interface ProbeOutcome {
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

/**
 * Whether the upstream answered and refused the credential or the account: every result but an
 * answer, no answer, an error of another kind, or no call made.
 */
export function isRefusal(result: ProbeResultName): boolean {
  return !["ok", "unreachable", "upstream_error", "credentials_error"].includes(result);
}

interface ProbeTarget {
  source: TokenSource;
  /** The model asked for: the account's `coder-model` mapping, `coder-model` on OAuth. */
  model: string;
}

interface ProbeDeps {
  fetch: Fetch;
  /** Our own User-Agent (`defaultUserAgent`): a probe has no calling client to speak for. */
  userAgent: string;
  now(): number;
  signal?: AbortSignal;
  /** Give up on an answer after this long. Default 20 s. */
  timeoutMs?: number;
}

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
          : `Cannot reach "${host}": ${describeError(error)}`,
        refused: false,
        resetAt: null,
      };
    }
    // An upstream that quotes the key back (some do) must not get it into our output.
    const text = withoutSecrets(
      await readTextAtMost(response, MAX_ERROR_BODY_BYTES).catch(() => ""),
      [auth.token, ...auth.otherSecrets ?? []],
    );
    return probeOutcome(response.status, text, response.headers, {
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

interface ProbeContext {
  kind: UpstreamAuth["kind"];
  /** The upstream host, for messages. */
  host: string;
  model: string;
  now: number;
}

/** The probe's result for one answer (status, body text, headers): classify.ts decides. */
function probeOutcome(
  status: number,
  text: string,
  headers: Headers,
  context: ProbeContext,
): ProbeOutcome {
  const { host } = context;
  const outcome = (
    result: ProbeResultName,
    message: string,
    resetAt: number | null = null,
  ): ProbeOutcome => ({ result, status, message, refused: isRefusal(result), resetAt });

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

  const error = classifyAnswer(status, headers, text, context);
  const quoted = `HTTP ${status}${error.code ? ` ${error.code}` : ""}: "${
    clip(error.message, 160)
  }"`;
  const refused = `"${host}" refused the call (${quoted})`;
  const resetAt = error.resetAt ?? null;
  const at = (ms: number) => new Date(ms).toISOString();
  switch (error.failure) {
    case "coding_plan_client":
      return outcome(
        "coding_plan_client",
        `${refused}: Coding Plan keys may only be used from interactive coding tools (coding agents); the key itself is accepted`,
      );
    case "arrears":
      return outcome(
        "arrears",
        `${refused}: the account is in arrears; ${arrearsAdvice(host)}`,
      );
    case "quota":
      return outcome(
        "quota",
        `${refused}: the quota is exhausted${
          resetAt === null ? "" : `; it resets at ${at(resetAt)}`
        }${error.daily && !headers.has("retry-after") ? " (midnight Beijing time)" : ""}`,
        resetAt,
      );
    case "throttled":
      return outcome(
        "throttled",
        `"${host}" is rate limiting the account (${quoted}): try again ${
          resetAt === null ? "in a minute" : `after ${at(resetAt)}`
        }`,
        resetAt,
      );
    case "wrong_plan_or_region":
      return outcome(
        "wrong_plan_or_region",
        `"${host}" does not know this key (${quoted}): it belongs to another plan or region; store it again with the matching --provider (a Coding Plan key "sk-sp-..." needs "coding-plan" or "coding-plan-cn")`,
      );
    case "invalid_credentials":
      if (context.kind === "oauth") {
        return outcome("oauth_discontinued", `${OAUTH_DISCONTINUED_MESSAGE} (${quoted})`);
      }
      return outcome(
        "invalid_key",
        `"${host}" refused the key (${quoted}): it is wrong, revoked or expired; create a new key and store it with "qwen auth --provider PRESET"`,
      );
    case "server":
    case "timeout":
      return outcome("upstream_error", `"${host}" failed (${quoted}): try again later`);
  }
  return outcome("upstream_error", `${refused}${modelHint(error, context.model)}`);
}

function modelHint(error: UpstreamError, model: string): string {
  const words = `${error.code ?? ""} ${error.message}`;
  if (error.failure === "no_access") {
    return /AccessDenied|model/i.test(words)
      ? `; the account may not use the model "${model}"`
      : "; it does not say the credentials are wrong";
  }
  return error.failure === "unknown_model" || error.status === 404 || /model/i.test(words)
    ? `; is the model "${model}" available there?`
    : "";
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
    return clip(location, 160);
  }
}
