/**
 * The OpenAI-shaped answers of the server's own making: `{"error": {message, type, param,
 * code}}` with the status that goes with it. Routes of other API dialects mirror these in their
 * own shapes.
 */
import { openAIError } from "../upstream/classify.ts";
import type { CallFailure } from "../upstream/failure.ts";

function jsonResponse(status: number, body: unknown, headers?: HeadersInit): Response {
  const response = new Response(JSON.stringify(body), { status, headers });
  response.headers.set("content-type", "application/json");
  return response;
}

function errorResponse(
  status: number,
  message: string,
  code: string | null,
  headers?: HeadersInit,
  type: string | null = null,
  param: string | null = null,
): Response {
  return jsonResponse(status, openAIError(status, message, code, type, param), headers);
}

/** A call with no upstream answer to relay; the upstream's own error body when it had one. */
export function failureResponse(failure: CallFailure): Response {
  const headers = new Headers({ "content-type": "application/json" });
  if (failure.retryAfter !== null) headers.set("retry-after", failure.retryAfter);
  const body = failure.upstream?.body ??
    JSON.stringify(openAIError(failure.status, failure.message, failure.code));
  return new Response(body, { status: failure.status, headers });
}

export function badRequest(message: string, code: string, param: string | null): Response {
  return errorResponse(400, message, code, undefined, "invalid_request_error", param);
}

export function tooLarge(maxBytes: number): Response {
  return errorResponse(
    413,
    `The request body is larger than ${maxBytes} bytes: raise "--max-body" to allow it`,
    "request_too_large",
  );
}

/** The body took too long: the connection is closed, as what is left of it will not be read. */
export function requestTimeout(timeoutMs: number): Response {
  return errorResponse(
    408,
    `The request body did not arrive within ${timeoutMs / 1000} s`,
    "request_timeout",
    { connection: "close" },
  );
}

export function unauthorized(): Response {
  return errorResponse(
    401,
    'Missing or wrong API key: send one of the keys of "qwen serve" as ' +
      '"Authorization: Bearer <key>" or "x-api-key: <key>"',
    "invalid_api_key",
    { "www-authenticate": "Bearer" },
  );
}

export function forbidden(message: string, code: string): Response {
  return errorResponse(403, message, code, undefined, "invalid_request_error");
}

export function notFound(message: string): Response {
  return errorResponse(404, message, "not_found");
}

export function methodNotAllowed(allow: string): Response {
  return errorResponse(405, `Method not allowed: use ${allow}`, "method_not_allowed", { allow });
}

export function internalError(): Response {
  return errorResponse(500, "Internal error in qwen serve", "internal");
}
