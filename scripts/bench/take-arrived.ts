/**
 * The floors' way of starting a stream (scripts/bench/floor-*.ts), as qwen's pass-through does
 * it: take what has already arrived, so a body that is all there goes out as bytes.
 */
type Read = Promise<ReadableStreamReadResult<Uint8Array<ArrayBuffer>>>;

/**
 * The reads that settle within a few microtask turns (bytes already in hand); `next` is the read
 * still waiting, or undefined when the body ended.
 */
export async function takeArrived(
  reader: { read(): Read },
): Promise<{ parts: Uint8Array<ArrayBuffer>[]; next?: Read }> {
  const parts: Uint8Array<ArrayBuffer>[] = [];
  for (;;) {
    const next = reader.read();
    const turns = Promise.resolve().then(() => {}).then(() => {}).then(() => {}).then(() => null);
    const got = await Promise.race([next, turns]).catch(() => null);
    if (got === null) return { parts, next };
    if (got.done) return { parts };
    parts.push(got.value);
  }
}

export function concat(parts: Uint8Array<ArrayBuffer>[]): Uint8Array<ArrayBuffer> {
  if (parts.length === 1) return parts[0];
  const all = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.byteLength;
  }
  return all;
}
