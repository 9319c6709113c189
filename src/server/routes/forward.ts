/**
 * Any other `/v1/...` path: forwarded to the same upstream base as is (method, body, type),
 * with the account's credentials, for the methods the API uses only.
 */
import type { ForwardRequest } from "../../upstream/client.ts";
import { readBody } from "../body.ts";
import { methodNotAllowed, tooLarge } from "../responses.ts";
import type { RouteContext } from "./context.ts";

/** The OpenAI-compatible API's methods (OPTIONS is answered before routing). */
const FORWARDED_METHODS = new Set(["GET", "HEAD", "POST", "DELETE"]);
const ALLOWED = [...FORWARDED_METHODS].join(", ");

export async function forwardOther(ctx: RouteContext): Promise<ForwardRequest | Response> {
  const { request } = ctx;
  // TRACE, PUT, PATCH, ...: no endpoint takes them, and nothing unknown leaves with a credential.
  if (!FORWARDED_METHODS.has(request.method)) return methodNotAllowed(ALLOWED);
  let body: Uint8Array<ArrayBuffer> | null = null;
  if (request.method !== "GET" && request.method !== "HEAD") {
    // Held (up to the limit) rather than streamed, so a retry can send it again.
    const read = await readBody(request, ctx.maxBodyBytes, ctx.bodyDeadline);
    if (read.kind === "too_large") return tooLarge(ctx.maxBodyBytes);
    body = read.bytes;
  }
  return {
    method: request.method,
    path: ctx.path.slice("/v1".length) + ctx.search,
    body,
    contentType: request.headers.get("content-type"),
    accept: request.headers.get("accept"),
    userAgent: request.headers.get("user-agent"),
    clientRequest: request,
    connection: ctx.connection,
  };
}
