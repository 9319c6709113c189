/**
 * An upstream chat stream translated into another API dialect's events as the client reads
 * them, for every translated route (Anthropic Messages, OpenAI Responses): a chunk is read
 * upstream only when the client asks for more (pull), so nothing is buffered to the end and a
 * slow client slows the upstream read instead of filling memory. While the upstream is silent,
 * a keep-alive goes out every interval.
 *
 * A body that had already arrived whole when the answer starts is translated at once and sent
 * as bytes, as the chat path sends it (docs/performance.md).
 */
import { type ChatEvent, ChatStreamReader } from "../upstream/stream/chat-events.ts";

/** A dialect's translator of chat events, as the stream drives it. */
export interface StreamTranslator<E> {
  start(out: E[]): void;
  accept(event: ChatEvent, out: E[]): void;
  /** The upstream's body ended. */
  finish(out: E[]): void;
  /** The answer is over (finished, failed, or cut short by the translator). */
  readonly ended: boolean;
  /** The translator ended the answer before the upstream did: the rest is not wanted. */
  readonly cutShort: boolean;
}

export interface TranslatedStreamOptions<E> {
  encode(event: E): string;
  keepAlive: KeepAlive;
  /** What a keep-alive is in this dialect (an event, or an SSE comment). */
  keepAliveBytes: Uint8Array;
  /** Called when the translator cut the answer short and the upstream call is cancelled. */
  cutShort(): void;
}

const encoder = new TextEncoder();
/** Bytes as response bodies take them. */
type Bytes = Uint8Array<ArrayBuffer>;
const hop = () => {};
const notYet = () => null;

/** Settles with null after a few microtask turns: a read that settles first had its bytes. */
function fewTurns(): Promise<null> {
  return Promise.resolve().then(hop).then(hop).then(hop).then(notYet);
}

/** The translated body: bytes when the upstream's had arrived whole, else a stream. */
export async function translatedBody<E>(
  upstream: ReadableStream<Uint8Array>,
  translator: StreamTranslator<E>,
  options: TranslatedStreamOptions<E>,
): Promise<Bytes | ReadableStream<Uint8Array>> {
  const source = new TranslatedSource(upstream.getReader(), translator, options);
  return await source.translateArrived() ?? new ReadableStream(source);
}

class TranslatedSource<E> implements UnderlyingDefaultSource<Uint8Array> {
  readonly #chat = new ChatStreamReader();
  readonly #events: ChatEvent[] = [];
  readonly #out: E[] = [];
  /** Translated before the stream started: its first chunk. */
  #head = "";
  /** The read `translateArrived` left unsettled. */
  #next?: Promise<ReadableStreamReadResult<Uint8Array>>;
  #controller?: ReadableStreamDefaultController<Uint8Array>;
  /** Whether the upstream sent anything since the last keep-alive tick. */
  heard = true;

  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly translator: StreamTranslator<E>,
    private readonly options: TranslatedStreamOptions<E>,
  ) {
    translator.start(this.#out);
  }

  /**
   * Translates what has already arrived: the whole answer as bytes if the upstream's body ended
   * meanwhile, else undefined, and the stream then starts with what was translated.
   */
  async translateArrived(): Promise<Bytes | undefined> {
    for (;;) {
      const next = this.reader.read();
      let result: ReadableStreamReadResult<Uint8Array> | null;
      try {
        result = await Promise.race([next, fewTurns()]);
      } catch {
        result = null;
      }
      if (result === null) {
        this.#next = next;
        break;
      }
      this.#translate(result);
      if (result.done) return encoder.encode(this.#drain());
      if (this.translator.cutShort) {
        await this.#settleUpstream();
        return encoder.encode(this.#drain());
      }
    }
    this.#head = this.#drain();
    return undefined;
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
    if (this.#head !== "") controller.enqueue(encoder.encode(this.#head));
    this.#head = "";
    this.options.keepAlive.add(this);
  }

  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    // Reads until the chunks make at least one event: a chunk may hold half a line.
    while (this.#out.length === 0 && !this.translator.ended) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        const next = this.#next;
        this.#next = undefined;
        result = await (next ?? this.reader.read());
      } catch (error) {
        // The pass-through ends a broken stream with an error event; this is for the rest.
        this.translator.accept({
          type: "error",
          message: `The upstream stream failed: ${String(error)}`,
          code: "upstream_stream_error",
        }, this.#out);
        break;
      }
      this.heard = true;
      this.#translate(result);
    }
    const text = this.#drain();
    if (text !== "") controller.enqueue(encoder.encode(text));
    if (!this.translator.ended) return;
    this.options.keepAlive.delete(this);
    await this.#settleUpstream();
    controller.close();
  }

  cancel(reason: unknown): Promise<void> {
    this.options.keepAlive.delete(this);
    return this.reader.cancel(reason).catch(() => {});
  }

  /** A keep-alive tick found the upstream silent. */
  ping(): void {
    this.#controller?.enqueue(this.options.keepAliveBytes);
  }

  #translate(result: ReadableStreamReadResult<Uint8Array>): void {
    const events = this.#events;
    if (result.done) this.#chat.end(events);
    else this.#chat.push(result.value, events);
    for (let i = 0; i < events.length; i++) this.translator.accept(events[i], this.#out);
    events.length = 0;
    if (result.done) this.translator.finish(this.#out);
  }

  #drain(): string {
    const out = this.#out;
    let text = "";
    for (let i = 0; i < out.length; i++) text += this.options.encode(out[i]);
    out.length = 0;
    return text;
  }

  /**
   * The answer is over: the rest of the upstream body is either unwanted (cancelled) or read
   * out, since the body's own end is what counts the call done (its usage, the log line).
   */
  async #settleUpstream(): Promise<void> {
    if (this.translator.cutShort) {
      this.options.cutShort();
      await this.reader.cancel().catch(() => {});
      return;
    }
    try {
      const next = this.#next;
      this.#next = undefined;
      if (next !== undefined && (await next).done) return;
      while (!(await this.reader.read()).done) {
        // Nothing after the end of the answer is for the client.
      }
    } catch {
      // Broken after the answer ended: the client has it whole.
    }
  }
}

/** What the keep-alive timer sees of a stream. */
interface Pingable {
  /** Whether the upstream sent anything since the last tick; the tick clears it. */
  heard: boolean;
  ping(): void;
}

/**
 * One timer for every open translated stream: each tick, a stream whose upstream was silent
 * since the last one gets its keep-alive. A timer per stream would cost each stream.
 */
export class KeepAlive {
  readonly #streams = new Set<Pingable>();
  #timer?: ReturnType<typeof setInterval>;

  constructor(private readonly ms: number) {}

  add(stream: Pingable): void {
    this.#streams.add(stream);
    this.#timer ??= setInterval(() => this.#tick(), this.ms);
  }

  delete(stream: Pingable): void {
    this.#streams.delete(stream);
    if (this.#streams.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #tick(): void {
    for (const stream of this.#streams) {
      if (!stream.heard) stream.ping();
      stream.heard = false;
    }
  }
}
