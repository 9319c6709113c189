/**
 * An upstream chat stream translated into another API dialect's events on its way through the
 * pass-through (upstream/stream/pass-through.ts), for every translated route (Anthropic
 * Messages, OpenAI Responses): each chunk is read into chat events and handed to the dialect's
 * translator, and the events it makes go out with that chunk. Nothing is held back but half an
 * event.
 */
import type { KeepAlive } from "../upstream/stream/keep-alive.ts";
import type { BodyTransform } from "../upstream/stream/pass-through.ts";
import {
  type ChatEvent,
  ChatStreamReader,
  type ChatUsage,
} from "../upstream/stream/chat-events.ts";

/** A dialect's translator of chat events. */
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

export class TranslatingTransform<E> implements BodyTransform {
  readonly #chat = new ChatStreamReader();
  readonly #events: ChatEvent[] = [];
  readonly #out: E[] = [];
  readonly keepAlive?: { timer: KeepAlive; bytes: Uint8Array<ArrayBuffer> };

  #notified = false;
  #usage?: ChatUsage;

  constructor(
    private readonly translator: StreamTranslator<E>,
    private readonly encode: (event: E) => string,
    keepAlive?: { timer: KeepAlive; bytes: Uint8Array<ArrayBuffer> },
    /** Called once when the answer is over (e.g. to keep it). */
    private readonly onEnded?: () => void,
  ) {
    this.keepAlive = keepAlive;
    // The answer's first events go out with the upstream's first chunk.
    translator.start(this.#out);
  }

  get ended(): boolean {
    return this.translator.ended;
  }

  get cutShort(): boolean {
    return this.translator.cutShort;
  }

  get usage(): ChatUsage | undefined {
    return this.#usage;
  }

  chunk(bytes: Uint8Array): string {
    this.#chat.push(bytes, this.#events);
    return this.#translate(false);
  }

  end(): string {
    this.#chat.end(this.#events);
    return this.#translate(true);
  }

  #translate(last: boolean): string {
    const { translator } = this;
    const events = this.#events;
    const out = this.#out;
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (event.type === "usage") this.#usage = event.usage;
      translator.accept(event, out);
    }
    events.length = 0;
    if (last) translator.finish(out);
    if (translator.ended && !this.#notified) {
      this.#notified = true;
      this.onEnded?.();
    }
    let text = "";
    for (let i = 0; i < out.length; i++) text += this.encode(out[i]);
    out.length = 0;
    return text;
  }
}
