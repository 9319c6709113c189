/** Byte arrays: comparisons for the scans of request and answer bodies, joining, bounded reads. */

/** Whether `b[start..end)` spells `word` exactly. */
export function bytesEqual(b: Uint8Array, start: number, end: number, word: number[]): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (b[start + k] !== word[k]) return false;
  return true;
}

/** Whether `b[from..to)` holds `byte` (short ranges: a loop beats a subarray view). */
export function hasByte(b: Uint8Array, from: number, to: number, byte: number): boolean {
  for (let i = from; i < to; i++) if (b[i] === byte) return true;
  return false;
}

/** The chunks joined into one array; `size` is their total length when the caller counted it. */
export function concatBytes(
  chunks: readonly Uint8Array[],
  size = chunks.reduce((n, chunk) => n + chunk.byteLength, 0),
): Uint8Array<ArrayBuffer> {
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return all;
}

/**
 * A body read whole, but never more than a chunk past `max` bytes: `over` when it is longer, and
 * then the rest is cancelled rather than read.
 */
export async function readAtMost(
  body: ReadableStream<Uint8Array>,
  max: number,
): Promise<{ bytes: Uint8Array<ArrayBuffer>; over: boolean }> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    // A chunk may be a small view of a larger buffer (Deno's fetch hands out 4 KiB of 64 KiB),
    // which keeping it would hold whole: 64 MiB read that way held 800 MB. Such a chunk is copied.
    chunks.push(value.byteLength < value.buffer.byteLength ? value.slice() : value);
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return { bytes: concatBytes(chunks, size), over: true };
    }
  }
  const bytes = chunks.length === 1
    ? chunks[0] as Uint8Array<ArrayBuffer>
    : concatBytes(chunks, size);
  return { bytes, over: false };
}

/** A body's first `max` bytes as text, the rest not read: for error answers, which are short. */
export async function readTextAtMost(response: Response, max: number): Promise<string> {
  if (response.body === null) return "";
  const { bytes } = await readAtMost(response.body, max);
  return new TextDecoder().decode(bytes.subarray(0, max));
}
