/**
 * How the floors (scripts/bench/floor-*.ts) start a stream, as qwen's pass-through does: take
 * the reads that settle within a few microtask turns (bytes already in hand); a body that ended
 * among them goes out as bytes, any other as a stream that starts with them.
 */
import { concatBytes } from "../../src/lib/bytes.ts";

type Bytes = Uint8Array<ArrayBuffer>;
type Read = Promise<ReadableStreamReadResult<Bytes>>;

export async function arrivedBody(
  reader: { read(): Read },
  cancel: (reason: unknown) => Promise<void>,
): Promise<Bytes | ReadableStream<Bytes>> {
  const parts: Bytes[] = [];
  let pending: Read | undefined;
  for (;;) {
    const next = reader.read();
    const turns = Promise.resolve().then(() => {}).then(() => {}).then(() => {}).then(() => null);
    const got = await Promise.race([next, turns]).catch(() => null);
    if (got === null) {
      pending = next;
      break;
    }
    if (got.done) return parts.length === 1 ? parts[0] : concatBytes(parts);
    parts.push(got.value);
  }
  return new ReadableStream<Bytes>({
    start(stream) {
      if (parts.length > 0) stream.enqueue(parts.length === 1 ? parts[0] : concatBytes(parts));
    },
    async pull(stream) {
      const read = pending ?? reader.read();
      pending = undefined;
      const { done, value } = await read;
      if (done) stream.close();
      else stream.enqueue(value);
    },
    cancel,
  });
}
