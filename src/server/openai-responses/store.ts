/**
 * Responses kept for `GET /v1/responses/{id}` and `previous_response_id`: in memory, bounded by
 * a count and by an estimate of their size, the oldest out first, lost on restart
 * (docs/responses.md#the-store). Each entry holds its whole conversation, so one entry alone
 * continues it: the messages are shared with the entries of earlier turns, not copied, so the
 * size counts only what each turn adds.
 */
import type { ChatMessage } from "./request.ts";

interface StoredResponse {
  response: Record<string, unknown>;
  /** The conversation so far as chat messages: earlier turns, this input, this answer. */
  conversation: readonly ChatMessage[];
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

export class ResponseStore {
  readonly #entries = new Map<string, { stored: StoredResponse; bytes: number }>();
  #bytes = 0;

  constructor(readonly maxEntries: number, readonly maxBytes = DEFAULT_MAX_BYTES) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The estimated size of what is kept, in bytes. */
  get bytes(): number {
    return this.#bytes;
  }

  get(id: string): StoredResponse | undefined {
    return this.#entries.get(id)?.stored;
  }

  /** Keeps a response; `added` are the messages this turn added to the conversation. */
  put(id: string, stored: StoredResponse, added: readonly unknown[]): void {
    if (this.maxEntries <= 0) return;
    const bytes = estimateBytes(stored.response) + estimateBytes(added);
    if (bytes > this.maxBytes) return;
    this.delete(id);
    this.#entries.set(id, { stored, bytes });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.maxEntries && this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
  }

  delete(id: string): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    this.#entries.delete(id);
    this.#bytes -= entry.bytes;
    return true;
  }
}

/**
 * What a value takes in memory, roughly: two bytes per character of its strings (JavaScript
 * strings are UTF-16 at worst) and a few dozen per object, without serializing it.
 */
function estimateBytes(value: unknown): number {
  if (typeof value === "string") return 2 * value.length + 16;
  if (typeof value !== "object" || value === null) return 8;
  let bytes = 32;
  if (Array.isArray(value)) {
    for (const item of value) bytes += estimateBytes(item);
    return bytes;
  }
  for (const key in value) {
    bytes += 2 * key.length + estimateBytes((value as Record<string, unknown>)[key]);
  }
  return bytes;
}
