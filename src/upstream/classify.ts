/**
 * What an upstream's error answer means, decided once for everyone who calls the model API:
 * `qwen serve` (fail over, cool down, reject, retry), `qwen status --probe` (the result it
 * reports) and every API route (the error its client gets). The table of real bodies this
 * follows is in docs/upstream.md#error-answers.
 */
import { nextBeijingMidnight, parseRetryAfter } from "../lib/time.ts";
import { clip } from "../lib/text.ts";

type Failure =
  /** The token or key was refused: a 401, or a 403 whose words blame the credentials. */
  | "invalid_credentials"
  /** 403 "invalid api-key": the key belongs to another plan or region than the URL. */
  | "wrong_plan_or_region"
  /**
   * Any other 403: the account may not use this model (`AccessDenied.*`) or do what was asked,
   * its credentials accepted. Another account may.
   */
  | "no_access"
  /** A 4xx saying the model does not exist (`model_not_found`): another account's upstream may have it. */
  | "unknown_model"
  /** The Coding Plan serves coding agents only (its 405 says so). */
  | "coding_plan_client"
  /** The Alibaba Cloud account is in arrears, or the OpenRouter one out of credits (402). */
  | "arrears"
  /** The quota is used up: calling again before `resetAt` only burns requests. */
  | "quota"
  /** A rate limit that passes within seconds. */
  | "throttled"
  /** 500, 502, 503: transient on the upstream's side. */
  | "server"
  /** 504 after minutes on a long context: trying again would wait minutes again. */
  | "timeout"
  /**
   * Anything else, typically the request itself (400, 404, 413, 422, a content filter): the
   * client's to fix.
   */
  | "request";

export interface UpstreamError {
  status: number;
  failure: Failure;
  /** The upstream's own message (what a person reads), quoted as it came. */
  message: string;
  code: string | null;
  /** When the account can be expected to work again (ms since the epoch), if the answer says. */
  resetAt: number | undefined;
  /** For `quota`: a daily quota, which resets at midnight Beijing time. */
  daily: boolean;
  /** The body for an OpenAI client: the upstream's own bytes when already OpenAI-shaped. */
  body: string;
}

interface AnswerContext {
  /** The kind of credential that was sent: the OAuth portal's quotas are daily. */
  kind: "oauth" | "api_key";
  now: number;
}

interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const QUOTA = /insufficient_quota|AllocationQuota|quota exceeded|quota has been exhausted/i;
const ARREARS = /Arrearage|overdue|insufficient credits/i;
const CODING_AGENTS = /only available for Coding Agents/i;
const WRONG_PLAN = /invalid api-key/i;
const NO_ACCESS = /AccessDenied/;
/** Words that blame the credentials themselves; a 403 without them leaves the account alone. */
const CREDENTIALS =
  /invalid[ _-]?(api[ _-]?key|access[ _-]?token|token|credentials?)|incorrect api[ _-]?key|\b(token|key|credentials?) (has |have )?(expired|been revoked)|\bexpired (api[ _-]?)?(key|token)|unauthori[sz]ed|not authenticated|authentication (failed|required)|no auth credentials/i;
const UNKNOWN_MODEL =
  /model_not_found|ModelNotFound|\bmodel\b.{0,80}?\b(does not exist|not exist|not found|is not supported)|is not a valid model/i;
const CONTENT_FILTER =
  /DataInspectionFailed|inappropriate content|content (policy|filter)|requires moderation|input was flagged/i;
/** Quota messages that speak of a day. */
const DAILY = /\b(daily|per[ -]day|today)\b/i;

/** Error bodies are small: an HTML error page is cut to this many bytes rather than held whole. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Classifies one non-2xx answer from its status, headers and (small) body text. */
export function classifyAnswer(
  status: number,
  headers: Headers,
  text: string,
  context: AnswerContext,
): UpstreamError {
  const shaped = toOpenAIError(status, text);
  const { message, code } = shaped.body.error;
  const failure = failureOf(status, `${code ?? ""} ${message}`, context.kind);
  const asked = parseRetryAfter(headers.get("retry-after"), context.now);
  const daily = failure === "quota" && (context.kind === "oauth" || DAILY.test(message));
  let resetAt = asked === undefined ? undefined : context.now + asked;
  if (resetAt === undefined && daily) resetAt = nextBeijingMidnight(context.now);
  return {
    status,
    failure,
    message,
    code,
    resetAt,
    daily,
    body: shaped.original ?? JSON.stringify(shaped.body),
  };
}

/** First match wins; the order matters where a body fits two rows. */
function failureOf(status: number, codeAndMessage: string, kind: AnswerContext["kind"]): Failure {
  if (CODING_AGENTS.test(codeAndMessage)) return "coding_plan_client";
  if (status === 402 || ARREARS.test(codeAndMessage)) return "arrears";
  if (QUOTA.test(codeAndMessage)) return "quota";
  if (status === 429) return "throttled";
  if (status === 401) return "invalid_credentials";
  const refusal = status >= 400 && status < 500;
  if (refusal && CONTENT_FILTER.test(codeAndMessage)) return "request";
  if (refusal && UNKNOWN_MODEL.test(codeAndMessage)) return "unknown_model";
  if (status === 403) {
    // To an OAuth token the same words mean the token was refused.
    if (kind === "api_key" && WRONG_PLAN.test(codeAndMessage)) return "wrong_plan_or_region";
    if (NO_ACCESS.test(codeAndMessage)) return "no_access";
    // Only words about the key or token take an account out: a 403 may also be a model the
    // account has not bought, a region, a firewall (docs/upstream.md#error-answers).
    return CREDENTIALS.test(codeAndMessage) ? "invalid_credentials" : "no_access";
  }
  if (status === 504) return "timeout";
  if (status === 500 || status === 502 || status === 503) return "server";
  return "request";
}

/**
 * What a failure does to the account in a pool: `reject`, skipped until its credentials change or
 * a try after its back-off succeeds; `cool`, skipped until `resetAt`; `throttle`, tried last for
 * a moment. Others leave it as it is.
 */
export const ACCOUNT_EFFECT: Partial<Record<Failure, "reject" | "cool" | "throttle">> = {
  invalid_credentials: "reject",
  wrong_plan_or_region: "reject",
  arrears: "reject",
  quota: "cool",
  throttled: "throttle",
};

/**
 * The class a failure is counted under in `/metrics` and the state file (`errors`): names older
 * than this module, which dashboards and scripts already read.
 */
export function failureClass(failure: Failure): string {
  return OLD_CLASS_NAMES[failure] ?? failure;
}

const OLD_CLASS_NAMES: Partial<Record<Failure, string>> = {
  invalid_credentials: "auth",
  wrong_plan_or_region: "auth",
  no_access: "auth",
  unknown_model: "client",
  throttled: "throttle",
  request: "client",
  coding_plan_client: "client",
};

/**
 * Whether another account may answer where this one failed. The request's own faults, the
 * Coding Plan's client rule and a gateway timeout would fail the same way anywhere.
 */
export function triesNextAccount(failure: Failure): boolean {
  return failure !== "request" && failure !== "coding_plan_client" && failure !== "timeout";
}

/**
 * Whether the failure refuses what was asked (a model) rather than who asked: the account is left
 * as it is, and the request may try one more account (another key may own the model); a second
 * such refusal is the client's answer.
 */
export function refusesTheRequest(failure: Failure): boolean {
  return failure === "no_access" || failure === "unknown_model";
}

/**
 * Whether the answer shows the upstream took the credentials, though it refused the call: a
 * quota, a rate limit, a model or request refused. A rejected account that gets one is back.
 */
export function acceptsTheCredentials(failure: Failure): boolean {
  return failure === "quota" || failure === "throttled" || failure === "no_access" ||
    failure === "unknown_model" || failure === "coding_plan_client" || failure === "request";
}

/** Whether the same call may pass after a wait, when every account failed (throttling, 5xx). */
export function passesWithTime(failure: Failure): boolean {
  return failure === "throttled" || failure === "server";
}

// ---- explanations, shared by serve and the probe ----

/** The commands that switch an OAuth user to an API key. */
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

/** Coding Plan's 405 to a client that is not a coding agent, explained. */
export function codingPlanMessage(userAgent: string | null): string {
  const ua = userAgent === null ? "none" : `"${clip(userAgent, 80)}"`;
  return "The Coding Plan refused this call: Alibaba's terms allow Coding Plan keys only from " +
    "coding agents (interactive coding tools such as Qwen Code, Claude Code, Cline or opencode). " +
    `qwen forwards your client's own User-Agent (${ua}) and never makes one up; call it from a ` +
    'coding agent, or use a pay-as-you-go key ("qwen auth --provider dashscope")';
}

/** What to do about arrears, where the account lives. */
export function arrearsAdvice(host: string): string {
  return /openrouter\.ai$/i.test(host)
    ? "add credits to the OpenRouter account"
    : "top it up in the Alibaba Cloud console";
}

// ---- the OpenAI error shape ----

/** `original` is set when the upstream body already is an OpenAI error: forward it byte for byte. */
function toOpenAIError(
  status: number,
  text: string,
): { body: OpenAIErrorBody; original?: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { body: openAIError(status, describeNonJson(status, text), null) };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { body: openAIError(status, describeNonJson(status, text), null) };
  }
  const record = json as Record<string, unknown>;
  const error = record.error;
  if (typeof error === "object" && error !== null && !Array.isArray(error)) {
    const inner = error as Record<string, unknown>;
    if (typeof inner.message === "string") {
      const code = stringOrNull(inner.code);
      const complete = typeof inner.type === "string" && "param" in inner && "code" in inner;
      const body = openAIError(status, inner.message, code, stringOrNull(inner.type));
      body.error.param = stringOrNull(inner.param);
      return complete ? { body, original: text } : { body };
    }
  }
  // DashScope native: {"code": "...", "message": "...", "request_id": "..."}; Coding Plan:
  // {"error": "Coding Plan is currently only available for Coding Agents"}.
  const message = typeof error === "string"
    ? error
    : typeof record.message === "string"
    ? record.message
    : typeof record.error_description === "string"
    ? record.error_description
    : `The upstream answered HTTP ${status}`;
  const code = stringOrNull(record.code) ??
    (typeof error === "string" ? null : stringOrNull(error));
  return { body: openAIError(status, message, code) };
}

function describeNonJson(status: number, text: string): string {
  const trimmed = text.trim();
  if (trimmed === "") return `The upstream answered HTTP ${status} with an empty body`;
  if (trimmed.startsWith("<")) return `The upstream answered HTTP ${status} with an HTML page`;
  const firstLine = trimmed.split("\n", 1)[0].slice(0, 200);
  return `The upstream answered HTTP ${status}: ${firstLine}`;
}

function stringOrNull(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return null;
}

/** The `type` the OpenAI SDKs and clients expect for a status. */
function errorTypeFor(status: number): string {
  if (status === 401 || status === 403) return "authentication_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "api_error";
  return "invalid_request_error";
}

export function openAIError(
  status: number,
  message: string,
  code: string | null,
  type: string | null = null,
  param: string | null = null,
): OpenAIErrorBody {
  return { error: { message, type: type ?? errorTypeFor(status), param, code } };
}
