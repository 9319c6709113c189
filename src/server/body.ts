/**
 * Reads a request body up to a limit, in bounded time. A declared `Content-Length` over the
 * limit is refused before reading anything; a chunked body is counted as it comes and dropped at
 * the limit, so a huge upload never sits whole in memory. A body that takes longer than the
 * deadline to arrive (one that trickles in a byte at a time, to hold the connection) is given
 * up: the runtimes bound a silent connection, not a slow one (docs/serve.md#limits).
 */

import { readAtMost } from "../lib/bytes.ts";
import { Watchdog } from "../upstream/stream/watchdog.ts";

type BodyResult =
  | { kind: "ok"; bytes: Uint8Array<ArrayBuffer> }
  | { kind: "too_large" };

/** The body did not arrive within the deadline; app.ts answers 408 and closes the connection. */
export class BodyTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`The request body did not arrive within ${timeoutMs / 1000} s`);
    this.name = "BodyTimeoutError";
  }
}

/** The time a request body may take, checked on a shared tick rather than a timer per request. */
const NOT_YET: unique symbol = Symbol("not yet");
const hop = () => {};
const notYet = (): typeof NOT_YET => NOT_YET;

/** Settles with NOT_YET after a few microtask turns, when nothing that waits for I/O could. */
function fewTurns(): Promise<typeof NOT_YET> {
  return Promise.resolve().then(hop).then(hop).then(hop).then(notYet);
}

export class BodyDeadline {
  readonly #dog: Watchdog;

  constructor(readonly timeoutMs: number) {
    this.#dog = new Watchdog(timeoutMs);
  }

  /** `reading`, or a BodyTimeoutError once the deadline passed first. */
  async bound<T>(reading: Promise<T>): Promise<T> {
    // A body already in hand (most are) settles within a few microtask turns: no deadline to
    // watch for it (docs/performance.md).
    const settled = await Promise.race([reading, fewTurns()]);
    if (settled !== NOT_YET) return settled as T;
    let expire!: () => void;
    const expired = new Promise<never>((_, reject) => {
      expire = () => reject(new BodyTimeoutError(this.timeoutMs));
    });
    const watch = this.#dog.watch(this.timeoutMs, { expire });
    try {
      return await Promise.race([reading, expired]);
    } catch (error) {
      // The read goes on until the connection closes, and may fail then: nobody waits for it.
      if (error instanceof BodyTimeoutError) reading.catch(() => {});
      throw error;
    } finally {
      watch.stop();
    }
  }
}

export function readBody(
  request: Request,
  maxBytes: number,
  deadline?: BodyDeadline,
): Promise<BodyResult> {
  const reading = readWhole(request, maxBytes);
  return deadline === undefined ? reading : deadline.bound(reading);
}

async function readWhole(request: Request, maxBytes: number): Promise<BodyResult> {
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
