/**
 * One timer for every open translated stream: each tick, a stream whose upstream sent nothing
 * since the previous tick gets its keep-alive. A timer per stream would cost every stream; the
 * list is linked through the streams rather than a Set, as the watchdog's is (watchdog.ts).
 */

/** What the timer sees of a stream. */
interface Pingable {
  /** Whether the upstream sent anything since the last tick; each tick clears it. */
  heard: boolean;
  ping(): void;
  prev?: Pingable;
  next?: Pingable;
}

export class KeepAlive {
  #head?: Pingable;
  #timer?: ReturnType<typeof setInterval>;

  constructor(private readonly ms: number) {}

  add(stream: Pingable): void {
    if (stream.prev !== undefined || this.#head === stream) return;
    stream.next = this.#head;
    if (this.#head !== undefined) this.#head.prev = stream;
    this.#head = stream;
    this.#timer ??= setInterval(() => this.#tick(), this.ms);
  }

  delete(stream: Pingable): void {
    if (stream.prev === undefined && this.#head !== stream) return;
    if (stream.prev !== undefined) stream.prev.next = stream.next;
    else this.#head = stream.next;
    if (stream.next !== undefined) stream.next.prev = stream.prev;
    stream.prev = stream.next = undefined;
    if (this.#head === undefined && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #tick(): void {
    for (let stream = this.#head; stream !== undefined; stream = stream.next) {
      if (!stream.heard) stream.ping();
      stream.heard = false;
    }
  }
}
