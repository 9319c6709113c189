/**
 * Errors in the Anthropic Messages API's shape: `{"type":"error","error":{"type","message"}}`,
 * the type chosen by the status as Anthropic's API does (docs/anthropic.md#errors).
 */
import type { CallFailure } from "../../upstream/failure.ts";

const TYPES: Readonly<Record<number, string>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  503: "overloaded_error",
  504: "timeout_error",
  529: "overloaded_error",
};

function errorType(status: number): string {
  return TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

export function anthropicError(
  status: number,
  message: string,
  headers?: HeadersInit,
  type = errorType(status),
): Response {
  const response = new Response(
    JSON.stringify({ type: "error", error: { type, message } }),
    { status, headers },
  );
  response.headers.set("content-type", "application/json");
  return response;
}

/** A call with no upstream answer: its message (the upstream's own, when it had one). */
export function failureResponse(failure: CallFailure): Response {
  const headers: Record<string, string> = {};
  if (failure.retryAfter !== null) headers["retry-after"] = failure.retryAfter;
  // The Coding Plan refusing a client is a question of permission, not of the request.
  const type = failure.code === "coding_plan_client" ? "permission_error" : undefined;
  return anthropicError(failure.status, failure.message, headers, type);
}

export function unauthorized(): Response {
  return anthropicError(
    401,
    'Missing or wrong API key: send one of the keys of "qwen serve" as "x-api-key: <key>" ' +
      '(ANTHROPIC_API_KEY) or "Authorization: Bearer <key>" (ANTHROPIC_AUTH_TOKEN)',
    { "www-authenticate": "Bearer" },
  );
}

/** An OpenAI-shaped error of our own making, turned into Anthropic's shape (same status). */
export async function fromOpenAIError(response: Response): Promise<Response> {
  let message = response.statusText || "Request failed";
  try {
    const body = await response.json() as { error?: { message?: unknown } };
    if (typeof body.error?.message === "string") message = body.error.message;
  } catch {
    // The status alone says what went wrong.
  }
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  return anthropicError(response.status, message, headers);
}
