/**
 * Reads a request body up to a limit. A declared `Content-Length` over the limit is refused
 * before reading anything; a chunked body is counted as it comes and dropped at the limit, so a
 * huge upload never sits whole in memory.
 */

import { concatBytes } from "../lib/bytes.ts";

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
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      return { kind: "too_large" };
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return { kind: "ok", bytes: chunks[0] as Uint8Array<ArrayBuffer> };
  return { kind: "ok", bytes: concatBytes(chunks, size) };
}
