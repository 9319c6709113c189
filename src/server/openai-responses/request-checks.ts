/**
 * What the Responses request translation (request.ts, tools.ts) shares: its error, and the checks
 * it reads the client's JSON with.
 */

/** A request the upstream cannot be given; the route answers 400 `invalid_request_error`. */
export class ResponsesRequestError extends Error {
  constructor(message: string, readonly param: string | null) {
    super(message);
    this.name = "ResponsesRequestError";
  }
}

export type Json = Record<string, unknown>;

/** Joins an assistant message's text parts, reasoning items, and system prompt pieces. */
export const BLOCK_SEPARATOR = "\n\n";

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function mustBe(path: string, what: string): ResponsesRequestError {
  return new ResponsesRequestError(`The field "${path}" must be ${what}`, path);
}
