/**
 * Upstream error answers (shared/qwen-upstream.md §7): what kind of failure each one is, and the
 * OpenAI-style body a client gets for it. OpenAI-shaped bodies pass through untouched; the
 * other shapes (DashScope's flat `{code, message}`, a bare-string `{"error": "…"}`, an HTML
 * page) are rewritten keeping the upstream's status, message and code.
 */

export interface OpenAIErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | null;
  };
}

export type UpstreamFailure =
  /** The credential was refused: refresh (OAuth) or give up (API key). */
  | "auth"
  /** A rate limit that passes within seconds: retried with back-off. */
  | "throttle"
  /** Quota exhausted: retrying on the same account only burns requests until it resets. */
  | "quota"
  /** The Alibaba Cloud account is in arrears (`Arrearage`): waiting does not fix it. */
  | "arrears"
  /** Gateway timeout after minutes on a long context: retrying would wait minutes again. */
  | "timeout"
  /** 500/502/503: transient on the upstream's side, retried. */
  | "server"
  /** Anything else, typically the request itself (400, 404, 413, …): the client's to fix. */
  | "client";

const QUOTA = /insufficient_quota|AllocationQuota|quota exceeded/i;
const ARREARS = /Arrearage/i;

export interface UpstreamError {
  status: number;
  failure: UpstreamFailure;
  /** The body to send to the client, as JSON text (the upstream's own when already OpenAI-shaped). */
  body: string;
  message: string;
  code: string | null;
}

/** Classifies one non-2xx upstream answer from its status and (small) body text. */
export function parseUpstreamError(status: number, text: string): UpstreamError {
  const shaped = toOpenAIError(status, text);
  const { message, code } = shaped.body.error;
  return {
    status,
    failure: classify(status, `${code ?? ""} ${message}`),
    body: shaped.original ?? JSON.stringify(shaped.body),
    message,
    code,
  };
}

function classify(status: number, codeAndMessage: string): UpstreamFailure {
  if (ARREARS.test(codeAndMessage)) return "arrears";
  if (status === 429) return QUOTA.test(codeAndMessage) ? "quota" : "throttle";
  if (status === 401) return "auth";
  if (status === 403) return QUOTA.test(codeAndMessage) ? "quota" : "auth";
  if (status === 504) return "timeout";
  if (status === 500 || status === 502 || status === 503) return "server";
  if (QUOTA.test(codeAndMessage)) return "quota";
  return "client";
}

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
export function errorTypeFor(status: number): string {
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
