/**
 * The upstream's chat stream translated chunk by chunk into Anthropic's events as the client
 * reads them: a chunk is read upstream only when the client asks for more (pull), so nothing
 * is buffered to the end, and a slow client slows the upstream read instead of filling memory.
 * While the upstream is silent, a `ping` goes out every interval, as Anthropic's API does.
 */
import { type ChatEvent, ChatStreamReader } from "../../upstream/stream/chat-events.ts";
import { type AnthropicEvent, type MessageTranslator, sseEvent } from "./response.ts";

const encoder = new TextEncoder();
const PING = encoder.encode(sseEvent({ type: "ping" }));

interface StreamHooks {
  /** The message ended before the upstream's body did (a stop sequence): the rest is cancelled. */
  stoppedEarly(): void;
}

export function translatedStream(
  upstream: ReadableStream<Uint8Array>,
  translator: MessageTranslator,
  pingMs: number,
  hooks: StreamHooks,
): ReadableStream<Uint8Array> {
  return new ReadableStream(new TranslatedSource(upstream, translator, pingMs, hooks));
}

class TranslatedSource implements UnderlyingDefaultSource<Uint8Array> {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #chat = new ChatStreamReader();
  readonly #events: ChatEvent[] = [];
  readonly #out: AnthropicEvent[] = [];
  #timer?: ReturnType<typeof setInterval>;
  /** Whether the upstream sent anything since the last ping tick. */
  #heard = true;
  #closed = false;

  constructor(
    upstream: ReadableStream<Uint8Array>,
    private readonly translator: MessageTranslator,
    private readonly pingMs: number,
    private readonly hooks: StreamHooks,
  ) {
    this.#reader = upstream.getReader();
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    controller.enqueue(encoder.encode(sseEvent(this.translator.start())));
    this.#timer = setInterval(() => {
      if (!this.#heard && !this.#closed) controller.enqueue(PING);
      this.#heard = false;
    }, this.pingMs);
  }

  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    const events = this.#events;
    const out = this.#out;
    // Reads until the chunks make at least one event: a chunk may hold half a line.
    while (out.length === 0) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await this.#reader.read();
      } catch (error) {
        // The pass-through ends a broken stream with an error event; this is the rest.
        this.translator.fail("api_error", `The upstream stream failed: ${String(error)}`, out);
        break;
      }
      this.#heard = true;
      if (result.done) {
        this.#chat.end(events);
      } else {
        this.#chat.push(result.value, events);
      }
      for (let i = 0; i < events.length; i++) this.translator.accept(events[i], out);
      events.length = 0;
      if (result.done) {
        this.translator.finish(out);
        break;
      }
      if (this.translator.ended) break;
    }
    let text = "";
    for (let i = 0; i < out.length; i++) text += sseEvent(out[i]);
    out.length = 0;
    if (text !== "") controller.enqueue(encoder.encode(text));
    if (!this.translator.ended) return;
    this.#close();
    if (this.translator.stoppedBySequence) {
      // The rest of the answer is not wanted: stop the call.
      controller.close();
      this.hooks.stoppedEarly();
      await this.#reader.cancel().catch(() => {});
      return;
    }
    // The body's own end is what counts the call done (its usage, the log line): read it out.
    try {
      while (!(await this.#reader.read()).done) {
        // Nothing after the end of the message is for the client.
      }
    } catch {
      // Broken after the message ended: the client has it whole.
    }
    controller.close();
  }

  cancel(reason: unknown): Promise<void> {
    this.#close();
    return this.#reader.cancel(reason).catch(() => {});
  }

  #close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }
}
