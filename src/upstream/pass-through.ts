/**
 * Moves an upstream body to the client chunk by chunk, as it arrives: nothing is parsed or
 * buffered, and since a chunk is read only when the client side asks for one (pull), a slow
 * client slows the upstream read instead of filling memory.
 *
 * What it adds to a bare pipe: an idle limit between chunks, and an honest end for a stream cut
 * half way. An SSE stream that breaks gets a final `data: {"error":…}` event and closes without
 * `[DONE]`, so a client never mistakes a partial answer for a complete one.
 */

export interface PassThroughOptions {
  /** Whether the body is an SSE stream (an error event can be appended). */
  sse: boolean;
  /** Longest silence between two chunks, in milliseconds. */
  idleTimeoutMs: number;
  /** Aborts the upstream request: the client went away or the upstream stalled. */
  abort(reason: unknown): void;
  /** Called once, when the body ended, broke or was cancelled by the client. */
  onEnd(outcome: PassThroughOutcome): void;
  /**
   * Keep references to the last chunks, at least this many bytes, for the usage at the end of
   * the stream (`tail` of the outcome). Nothing is copied or parsed per chunk.
   */
  keepTailBytes?: number;
}

export type PassThroughOutcome =
  | { kind: "complete"; tail?: Uint8Array[] }
  | { kind: "cancelled"; tail?: Uint8Array[] }
  | { kind: "broken"; message: string; tail?: Uint8Array[] };

const encoder = new TextEncoder();

export class IdleTimeoutError extends Error {
  constructor(ms: number) {
    super(`The upstream sent nothing for ${Math.round(ms / 1000)} s`);
    this.name = "IdleTimeoutError";
  }
}

export function passThrough(
  body: ReadableStream<Uint8Array>,
  options: PassThroughOptions,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let ended = false;
  let lastChunkAt = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let idleError: IdleTimeoutError | undefined;
  const keep = options.keepTailBytes ?? 0;
  const tail: Uint8Array[] = [];
  let tailBytes = 0;

  const end = (outcome: PassThroughOutcome) => {
    if (ended) return;
    ended = true;
    if (timer !== undefined) clearTimeout(timer);
    if (keep > 0) outcome.tail = tail;
    options.onEnd(outcome);
  };

  // One timer per stream, re-armed lazily: cheaper than clearing and setting one per chunk.
  const armIdleTimer = (delay: number) => {
    timer = setTimeout(() => {
      const silent = Date.now() - lastChunkAt;
      if (silent < options.idleTimeoutMs) return armIdleTimer(options.idleTimeoutMs - silent);
      idleError = new IdleTimeoutError(options.idleTimeoutMs);
      options.abort(idleError);
      reader.cancel(idleError).catch(() => {});
    }, delay);
  };
  armIdleTimer(options.idleTimeoutMs);

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        return fail(controller, idleError ?? error);
      }
      if (idleError) return fail(controller, idleError);
      if (result.done) {
        end({ kind: "complete" });
        controller.close();
        return;
      }
      lastChunkAt = Date.now();
      if (keep > 0) {
        tail.push(result.value);
        tailBytes += result.value.byteLength;
        while (tail.length > 1 && tailBytes - tail[0].byteLength >= keep) {
          tailBytes -= tail.shift()!.byteLength;
        }
      }
      controller.enqueue(result.value);
    },
    cancel(reason) {
      end({ kind: "cancelled" });
      options.abort(reason);
      return reader.cancel(reason).catch(() => {});
    },
  });

  function fail(controller: ReadableStreamDefaultController<Uint8Array>, error: unknown) {
    if (ended) return;
    const message = idleError
      ? `${idleError.message}: the response was cut`
      : `The upstream connection broke mid-response: ${describe(error)}`;
    end({ kind: "broken", message });
    if (options.sse) {
      const code = idleError ? "upstream_idle_timeout" : "upstream_stream_error";
      const event = { error: { message, type: "api_error", param: null, code } };
      controller.enqueue(encoder.encode(`\n\ndata: ${JSON.stringify(event)}\n\n`));
      controller.close();
    } else {
      controller.error(error);
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
