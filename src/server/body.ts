/**
 * Reads a request body up to a limit. A declared `Content-Length` over the limit is refused
 * before reading anything; a chunked body is counted as it comes and dropped at the limit, so a
 * huge upload never sits whole in memory.
 */

import { readAtMost } from "../lib/bytes.ts";

type BodyResult =
  | { kind: "ok"; bytes: Uint8Array<ArrayBuffer> }
  | { kind: "too_large" };

export async function readBody(request: Request, maxBytes: number): Promise<BodyResult> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    const length = Number(declared);
    if (!Number.isFinite(length) || length > maxBytes) return { kind: "too_large" };
    // HTTP framing guarantees the runtime delivers exactly this many bytes.
    return { kind: "ok", bytes: await request.bytes() };
  }
  if (request.body === null) return { kind: "ok", bytes: new Uint8Array(0) };
  const { bytes, over } = await readAtMost(request.body, maxBytes);
  return over ? { kind: "too_large" } : { kind: "ok", bytes };
}
