/**
 * Moves an upstream SSE body to the client chunk by chunk, as it arrives: nothing is parsed or
 * buffered, and since a chunk is read only when the client side asks for one (pull), a slow
 * client slows the upstream read instead of filling memory.
 *
 * What has already arrived when the answer starts is taken at once, and a body that had arrived
 * whole goes to the client as bytes (see `passThrough`).
 *
 * What it adds to a bare pipe: an idle limit between chunks (each chunk bumps a counter on the
 * caller's watchdog entry), and an honest end for a stream cut half way. A stream that breaks
 * gets a final `data: {"error":…}` event and closes without `[DONE]`, so a client never mistakes a
 * partial answer for a complete one.
 *
 * A route of another API dialect hands in a `BodyTransform`: each chunk is then translated on
 * its way through this one stream, and a broken stream's error event goes through the
 * translation too (docs/performance.md: one stream layer, not two).
 */
import { concatBytes } from "../../lib/bytes.ts";
import { describeError } from "../../lib/errors.ts";
import type { TokenUsage } from "../../pool/pool.ts";
import { encodeChunk } from "../../runtime/tactics.ts";
import type { KeepAlive } from "./keep-alive.ts";
import type { Watch } from "./watchdog.ts";

/**
 * The call a body belongs to. An object with methods rather than callbacks: a stream stays in
 * flight for as long as the model writes, and what it keeps alive costs on every collection.
 */
export interface PassThroughCall {
  /** The watchdog entry of the call: each chunk counts as activity on it. */
  readonly watch: Watch;
  /**
   * The upstream fetch's signal: its owner aborts it with an IdleTimeoutError when the stream
   * falls silent, which fails the pending read and tells that failure from a broken connection.
   */
  readonly signal: AbortSignal;
  /** Aborts the upstream request: the client went away. */
  abort(reason: unknown): void;
  /** Called once, when the body ended, broke or was cancelled by the client. */
  ended(outcome: PassThroughOutcome): void;
  /** Hands over the body's reader, for the call's owner to stop when it aborts the call. */
  reading?(body: BodyReading): void;
}

/**
 * The read of an upstream body, as the call's owner sees it. Aborting the fetch should fail a
 * read that waits, but on Deno a BYOB read of a fetch body sometimes stays pending through the
 * abort (docs/reliability.md): the owner stops the read itself when it aborts on a timeout or at
 * shutdown, and the stream then ends with the abort's reason.
 */
export interface BodyReading {
  stopReading(reason: unknown): void;
}

interface PassThroughOptions {
  /**
   * Keep references to the last chunks, at least this many bytes, for the usage at the end of
   * the stream (`tail` of the outcome). Nothing is copied or parsed per chunk. A translated
   * stream needs none: its translation reads the usage (`usage` of the outcome).
   */
  keepTailBytes?: number;
  /** Translates the body on its way (another API dialect); absent, the bytes pass as they are. */
  transform?: BodyTransform;
}

/** A body's translation, chunk by chunk, into what the client gets. */
export interface BodyTransform {
  /** The text to send for one upstream chunk; empty while the chunk only began an event. */
  chunk(bytes: Uint8Array): string;
  /** The text to send once the upstream body ended (after a broken one's error event). */
  end(): string;
  /** The answer is whole: what the upstream still sends is read out, not sent. */
  readonly ended: boolean;
  /** The answer ended before the upstream's did (a stop sequence): the upstream call is dropped. */
  readonly cutShort: boolean;
  /** While the upstream is silent, `bytes` go out on each tick of `timer`. */
  readonly keepAlive?: { timer: KeepAlive; bytes: Bytes };
  /** The token counts the upstream reported, once read. */
  readonly usage: TokenUsage | undefined;
}

export type PassThroughOutcome =
  & (
    | { kind: "complete" }
    | { kind: "cancelled" }
    | { kind: "broken"; message: string }
    /** The server ended it when its shutdown's grace period was over: the upstream did nothing. */
    | { kind: "shutdown"; message: string }
  )
  & {
    /** The last chunks (`keepTailBytes`). */
    tail?: Uint8Array[];
    /** The usage a translation read. */
    usage?: TokenUsage;
  };

const encoder = new TextEncoder();

/** Bytes as fetch bodies hold them (over an ArrayBuffer), so a body can be sent as they are. */
type Bytes = Uint8Array<ArrayBuffer>;

export class IdleTimeoutError extends Error {
  constructor(ms: number) {
    super(`The upstream sent nothing for ${Math.round(ms / 1000)} s`);
    this.name = "IdleTimeoutError";
  }
}

/**
 * The reason a stream's upstream call is aborted with when the server's grace period at shutdown
 * is over: the client then gets an error event, as for a broken stream, rather than a connection
 * closed under it.
 */
export class ShutdownError extends Error {
  constructor() {
    super(
      "qwen serve shut down before the answer was complete (its grace period was over): the " +
        "response was cut",
    );
    this.name = "ShutdownError";
  }
}

/**
 * The body as the client gets it. Reads that settle within a few microtask turns (the bytes were
 * already in, nothing waits for the network) are taken before the answer starts: when they hold
 * the whole body, the client gets it as bytes, which the runtime writes natively instead of
 * pulling a JavaScript stream; otherwise a stream that starts with them and goes on as the
 * upstream sends. No chunk waits for another, and the answer's headers leave when they would
 * have (docs/performance.md). Deno's fetch reads each chunk after the first through its event
 * loop, so there it always streams.
 */
export async function passThrough(
  body: ReadableStream<Bytes>,
  call: PassThroughCall,
  options: PassThroughOptions,
): Promise<Bytes | ReadableStream<Bytes>> {
  const keep = options.keepTailBytes ?? 0;
  const source = new PassThroughSource(
    // A translation reads each chunk before the next read: a chunk no one keeps needs no copy.
    chunkReader(body, options.transform === undefined || keep > 0),
    call,
    keep,
    options.transform,
  );
  call.reading?.(source);
  return await source.takeArrived() ?? new ReadableStream<Bytes>(source);
}

/** Gathered at most before the answer starts: past this, the rest streams. */
const MAX_TAKEN_BYTES = 256 * 1024;
const hop = () => {};
const notYet = () => null;

/**
 * Settles, with null, after a few microtask turns: a read that settles first had its bytes in
 * hand. Bun settles a read of a body already received within two turns; four leave a margin and
 * still wait for nothing, since no I/O runs between microtasks.
 */
function fewTurns(): Promise<null> {
  return Promise.resolve().then(hop).then(hop).then(hop).then(notYet);
}

/** The client side's underlying source: one object per stream, its methods called by the stream. */
class PassThroughSource implements UnderlyingDefaultSource<Bytes>, BodyReading {
  #ended = false;
  readonly #tail: Uint8Array[] = [];
  #tailBytes = 0;
  /** What `takeArrived` gathered: the stream's first chunk. */
  #head?: Bytes;
  /** The read `takeArrived` left unsettled: the first one `pull` waits for. */
  #next?: Promise<ReadableStreamReadResult<Bytes>>;
  #controller?: ReadableStreamDefaultController<Bytes>;
  /** For the keep-alive timer: whether a chunk came since its last tick. */
  heard = true;
  /** The keep-alive timer's list. */
  prev?: PassThroughSource = undefined;
  next?: PassThroughSource = undefined;

  constructor(
    private readonly reader: ChunkReader,
    private readonly call: PassThroughCall,
    private readonly keep: number,
    private readonly transform: BodyTransform | undefined,
  ) {}

  /**
   * Reads what has already arrived: the whole body if it ended meanwhile, else undefined, and
   * the stream then starts with what was read. A failed read is left to `pull`, which ends the
   * stream as it ends any broken one.
   */
  async takeArrived(): Promise<Bytes | undefined> {
    const parts: Bytes[] = [];
    let bytes = 0;
    const keep = (part: Bytes) => {
      if (part.byteLength === 0) return;
      parts.push(part);
      bytes += part.byteLength;
    };
    while (bytes < MAX_TAKEN_BYTES) {
      const next = this.reader.read();
      let result: ReadableStreamReadResult<Bytes> | null;
      try {
        result = await Promise.race([next, fewTurns()]);
      } catch {
        this.#next = next;
        break;
      }
      if (result === null) {
        this.#next = next;
        break;
      }
      if (result.done) {
        if (this.call.signal.aborted) {
          this.#next = next;
          break;
        }
        if (this.transform) keep(encodeChunk(this.transform.end()));
        this.#end({ kind: "complete" });
        return parts.length === 1 ? parts[0] : concatBytes(parts, bytes);
      }
      this.#took(result.value);
      keep(this.#translate(result.value));
      if (this.transform?.cutShort) {
        this.#dropUpstream();
        return parts.length === 1 ? parts[0] : concatBytes(parts, bytes);
      }
    }
    if (parts.length > 0) this.#head = parts.length === 1 ? parts[0] : concatBytes(parts, bytes);
    return undefined;
  }

  start(controller: ReadableStreamDefaultController<Bytes>): void {
    this.#controller = controller;
    this.transform?.keepAlive?.timer.add(this);
  }

  async pull(controller: ReadableStreamDefaultController<Bytes>): Promise<void> {
    const head = this.#head;
    if (head !== undefined) {
      this.#head = undefined;
      controller.enqueue(head);
      if (this.transform?.ended) this.#closeAndReadOut(controller);
      return;
    }
    for (;;) {
      let result: ReadableStreamReadResult<Bytes>;
      try {
        const next = this.#next;
        if (next === undefined) {
          result = await this.reader.read();
        } else {
          this.#next = undefined;
          result = await next;
        }
      } catch (error) {
        return this.#fail(controller, error);
      }
      const { signal } = this.call;
      // A chunk may still arrive after the silence or the shutdown ended the call.
      if (
        signal.aborted &&
        (signal.reason instanceof IdleTimeoutError || signal.reason instanceof ShutdownError)
      ) {
        this.reader.cancel(signal.reason).catch(() => {});
        return this.#fail(controller, signal.reason);
      }
      if (result.done) {
        if (this.transform) this.#send(controller, encodeChunk(this.transform.end()));
        this.#end({ kind: "complete" });
        controller.close();
        return;
      }
      this.#took(result.value);
      const out = this.#translate(result.value);
      const transform = this.transform;
      if (transform === undefined) {
        controller.enqueue(out);
        return;
      }
      this.#send(controller, out);
      if (transform.cutShort) {
        controller.close();
        this.#dropUpstream();
        return;
      }
      if (transform.ended) {
        this.#closeAndReadOut(controller);
        return;
      }
      // A chunk that only began an event: the client asked for something, read on.
      if (out.byteLength > 0) return;
    }
  }

  stopReading(reason: unknown): void {
    // A cancelled reader settles the read that waits with `done`, and `pull` then looks at
    // why the call was aborted.
    this.reader.cancel(reason).catch(() => {});
  }

  /** The keep-alive timer found the upstream silent since its last tick. */
  ping(): void {
    const keepAlive = this.transform?.keepAlive;
    if (keepAlive !== undefined && !this.#ended) this.#controller?.enqueue(keepAlive.bytes);
  }

  #translate(chunk: Bytes): Bytes {
    return this.transform ? encodeChunk(this.transform.chunk(chunk)) : chunk;
  }

  #send(controller: ReadableStreamDefaultController<Bytes>, bytes: Bytes): void {
    if (bytes.byteLength > 0) controller.enqueue(bytes);
  }

  /** A chunk counts as activity, and the last ones are kept for the usage. */
  #took(chunk: Bytes): void {
    this.call.watch.activity++;
    this.heard = true;
    if (this.keep > 0) {
      const tail = this.#tail;
      tail.push(chunk);
      this.#tailBytes += chunk.byteLength;
      while (tail.length > 1 && this.#tailBytes - tail[0].byteLength >= this.keep) {
        this.#tailBytes -= tail.shift()!.byteLength;
      }
    }
  }

  /**
   * The translated answer is whole: the client's stream closes now, and the upstream body is
   * read out meanwhile, since its end is what counts the call done (usage, the log line).
   */
  #closeAndReadOut(controller: ReadableStreamDefaultController<Bytes>): void {
    controller.close();
    this.transform?.keepAlive?.timer.delete(this);
    const readOut = async () => {
      try {
        const next = this.#next;
        this.#next = undefined;
        let result = await (next ?? this.reader.read());
        while (!result.done) {
          this.#took(result.value);
          result = await this.reader.read();
        }
      } catch {
        // Broken after the answer was whole: the client has all of it.
      }
      this.#end({ kind: "complete" });
    };
    readOut();
  }

  /** The translation ended the answer early: the rest of the upstream's is not wanted. */
  #dropUpstream(): void {
    this.#end({ kind: "complete" });
    this.call.abort(new Error("the answer ended before the upstream's"));
    this.reader.cancel().catch(() => {});
  }

  cancel(reason: unknown): Promise<void> {
    // Closing the connections at the end of a shutdown cancels a stream that had not yet sent its
    // error event: the client did not leave, the server cut it.
    const cut = this.call.signal.reason;
    if (cut instanceof ShutdownError) this.#end({ kind: "shutdown", message: cut.message });
    else this.#end({ kind: "cancelled" });
    this.call.abort(reason);
    return this.reader.cancel(reason).catch(() => {});
  }

  #end(outcome: PassThroughOutcome): void {
    if (this.#ended) return;
    this.#ended = true;
    this.transform?.keepAlive?.timer.delete(this);
    if (this.keep > 0) outcome.tail = this.#tail;
    const usage = this.transform?.usage;
    if (usage !== undefined) outcome.usage = usage;
    this.call.ended(outcome);
  }

  #fail(controller: ReadableStreamDefaultController<Bytes>, error: unknown): void {
    if (this.#ended) return;
    const reason = this.call.signal.reason;
    let message: string;
    let code: string;
    if (reason instanceof ShutdownError) {
      message = reason.message;
      code = "server_shutdown";
      this.#end({ kind: "shutdown", message });
    } else {
      const idleError = reason instanceof IdleTimeoutError ? reason : undefined;
      message = idleError
        ? `${idleError.message}: the response was cut`
        : `The upstream connection broke mid-response: ${describeError(error)}`;
      code = idleError ? "upstream_idle_timeout" : "upstream_stream_error";
      this.#end({ kind: "broken", message });
    }
    const event = { error: { message, type: "api_error", param: null, code } };
    const bytes = encoder.encode(`\n\ndata: ${JSON.stringify(event)}\n\n`);
    const transform = this.transform;
    if (transform === undefined) controller.enqueue(bytes);
    else this.#send(controller, encodeChunk(transform.chunk(bytes) + transform.end()));
    controller.close();
  }
}

/** Bytes read at most per chunk through a reused buffer. */
const BUFFER_BYTES = 64 * 1024;
/** Whether this runtime's fetch bodies take a BYOB reader; learnt from the first body. */
let byobWorks: boolean | undefined;

interface ChunkReader {
  read(): Promise<ReadableStreamReadResult<Bytes>>;
  cancel(reason?: unknown): Promise<void>;
}

/**
 * The default reader, or where the body is a byte stream (Deno's fetch), a BYOB reader filling
 * one buffer that is handed back after each read, and a copy of just the bytes read when `copy`
 * (a chunk that is only read before the next read needs none): the default reader allocates a
 * fresh 64 KiB buffer per read (docs/performance.md). Bun's fetch bodies are not byte streams.
 */
function chunkReader(body: ReadableStream<Bytes>, copy: boolean): ChunkReader {
  let reader: ReadableStreamBYOBReader | undefined;
  if (byobWorks !== false) {
    try {
      reader = body.getReader({ mode: "byob" });
      byobWorks = true;
    } catch {
      byobWorks = false;
    }
  }
  if (reader === undefined) return body.getReader();
  const byob = reader;
  let buffer = new Uint8Array(BUFFER_BYTES);
  return {
    async read() {
      const result = await byob.read(buffer);
      if (result.done) return { done: true, value: undefined };
      const view = result.value;
      buffer = new Uint8Array(view.buffer);
      return { done: false, value: copy ? view.slice() : view };
    },
    cancel: (reason) => byob.cancel(reason),
  };
}
