/**
 * `POST /v1/chat/completions`. The body is checked for its minimal shape only (a JSON object
 * with a `messages` array) and then forwarded byte for byte; it is re-serialized only when the
 * account maps the model (`coder-model` → `qwen3-coder-plus` on API keys, `--model-map`) or to
 * add the account's default model when the client named none.
 */
import type { UpstreamAuth } from "../../credentials/types.ts";
import type { Member } from "../../pool/pool.ts";
import { scanAsText } from "../../runtime/tactics.ts";
import type { ForwardRequest } from "../../upstream/client.ts";
import { readBody } from "../body.ts";
import { badRequest, tooLarge } from "../responses.ts";
import { nestedTooDeep, scanChatBody, TOO_DEEP_MESSAGE } from "../json-scan.ts";
import type { RouteContext } from "./context.ts";

/** The OAuth portal's server-side alias for its current coding model (docs/upstream.md#model-api). */
const OAUTH_DEFAULT_MODEL = "coder-model";

const decoder = new TextDecoder();
/** For the scan: a byte order mark stays, so the scan refuses it as it refuses the bytes. */
const scanDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** The request to send upstream, or the client's error. */
export async function chatCompletions(ctx: RouteContext): Promise<ForwardRequest | Response> {
  const { request, entry } = ctx;
  const read = await readBody(request, ctx.maxBodyBytes, ctx.bodyDeadline);
  if (read.kind === "too_large") return tooLarge(ctx.maxBodyBytes);

  // The usual request (an object with `messages` and a `model`) is checked without parsing it;
  // anything else, or a model to rewrite, takes JSON.parse as before.
  const scan = scanChatBody(scanAsText ? scanDecoder.decode(read.bytes) : read.bytes);
  let body: Record<string, unknown> | undefined;
  if (scan === undefined || !scan.hasModel) {
    const text = decoder.decode(read.bytes);
    // A body the scan took is no deeper than the limit; any other is checked before parsing.
    if (scan === undefined && nestedTooDeep(text)) {
      return badRequest(TOO_DEEP_MESSAGE, "invalid_json", null);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      return badRequest(
        `The request body is not valid JSON: ${(error as Error).message}`,
        "invalid_json",
        null,
      );
    }
    // A hand-written check rather than a schema: this runs on every request and needs two facts.
    if (
      typeof json !== "object" || json === null || Array.isArray(json) ||
      !Array.isArray((json as { messages?: unknown }).messages)
    ) {
      return badRequest(
        'The request body must be a JSON object with a "messages" array',
        "invalid_request_body",
        "messages",
      );
    }
    body = json as Record<string, unknown>;
  }
  const requested = body ? (typeof body.model === "string" ? body.model : undefined) : scan!.model;
  const hasModel = body ? body.model !== undefined : scan!.hasModel;
  if (requested !== undefined) entry.model = requested;

  // The usual case, a model no account renames, sends the bytes as they came: no per-account
  // callback to build (and keep alive while the call is in flight).
  const asIs = requested !== undefined ? !ctx.pool.mapsModel(requested) : hasModel || !body;
  let rewritten: { model: string; text: string } | undefined;
  const payload = asIs ? read.bytes : (member: Member, auth: UpstreamAuth) => {
    if (requested === undefined) {
      // Only a parsed body without a model gets here (see asIs).
      const model = defaultModelFor(member, auth);
      if (model === undefined) return read.bytes;
      entry.model = model;
      return JSON.stringify({ model, ...body });
    }
    const mapped = member.models.get(requested);
    if (mapped === undefined || mapped === requested) return read.bytes;
    if (rewritten?.model !== mapped) {
      try {
        body ??= JSON.parse(decoder.decode(read.bytes)) as Record<string, unknown>;
      } catch {
        // Well formed to the scan but not to JSON.parse (a bad escape): the upstream says so.
        return read.bytes;
      }
      rewritten = { model: mapped, text: JSON.stringify({ ...body, model: mapped }) };
    }
    return rewritten.text;
  };

  return {
    method: "POST",
    path: "/chat/completions",
    model: requested,
    body: payload,
    contentType: "application/json",
    accept: request.headers.get("accept"),
    userAgent: request.headers.get("user-agent"),
    clientRequest: request,
    connection: ctx.connection,
    usage: true,
    retryServerErrors: true,
  };
}

/** The OAuth portal's alias, or what the account maps it to (API-key plans name models differently). */
function defaultModelFor(member: Member, auth: UpstreamAuth): string | undefined {
  return member.models.get(OAUTH_DEFAULT_MODEL) ??
    (auth.kind === "oauth" ? OAUTH_DEFAULT_MODEL : undefined);
}
