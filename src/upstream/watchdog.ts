/**
 * Timeouts for upstream calls, checked by one shared tick instead of a timer per request.
 *
 * Most calls end within a millisecond or a few seconds; arming and clearing a timer for each
 * (first byte, body, stream silence) and subscribing to the client's abort signal up front costs
 * more than the rest of the request on Deno, and measurably on Bun; here a call joins a set, a
 * tick every `tickMs` (a tenth of the shortest timeout, at most a second) expires calls past
 * their deadline, and tells a call once that it is slow, which is when the caller subscribes to
 * the client's abort signal and lifts the server's own idle timeout. A timeout fires up to one
 * tick late. The tick runs only while calls are watched.
 */

export interface Watch {
  /** Bump on activity (a chunk arrived): the next tick moves the deadline. */
  activity: number;
  /** Stops watching: the call ended, or reached a stage with a different timeout. */
  stop(): void;
  /** Starts the count again from now, e.g. with another timeout after the first byte. */
  restart(timeoutMs: number): void;
}

export interface WatchHooks {
  /** The timeout passed: runs once, and the watch stops. */
  expire(): void;
  /** The call outlived its first tick: runs once, before any `expire`. */
  slow?(): void;
}

class Entry implements Watch {
  deadline: number;
  seenActivity = 0;
  activity = 0;
  isSlow = false;

  constructor(
    private readonly dog: Watchdog,
    public timeoutMs: number,
    readonly hooks: WatchHooks,
  ) {
    this.deadline = performance.now() + timeoutMs;
  }

  stop(): void {
    this.dog.unwatch(this);
  }

  restart(timeoutMs: number): void {
    this.timeoutMs = timeoutMs;
    this.deadline = performance.now() + timeoutMs;
    this.dog.rewatch(this);
  }
}

export class Watchdog {
  readonly tickMs: number;
  readonly #entries = new Set<Entry>();
  #interval: ReturnType<typeof setInterval> | undefined;

  /** `shortestTimeoutMs`: the smallest timeout the caller will use (sets the tick). */
  constructor(shortestTimeoutMs: number) {
    this.tickMs = Math.min(1_000, Math.max(5, Math.floor(shortestTimeoutMs / 10)));
  }

  watch(timeoutMs: number, hooks: WatchHooks): Watch {
    const entry = new Entry(this, timeoutMs, hooks);
    this.rewatch(entry);
    return entry;
  }

  /** How many calls are watched now. */
  get size(): number {
    return this.#entries.size;
  }

  /** @internal */
  rewatch(entry: Entry): void {
    this.#entries.add(entry);
    if (this.#interval === undefined) {
      this.#interval = setInterval(() => this.#tick(), this.tickMs);
      // A watched call keeps the process alive through its own socket, not through this tick.
      (this.#interval as { unref?: () => void }).unref?.();
    }
  }

  /** @internal */
  unwatch(entry: Entry): void {
    this.#entries.delete(entry);
  }

  #tick(): void {
    if (this.#entries.size === 0) {
      clearInterval(this.#interval);
      this.#interval = undefined;
      return;
    }
    const now = performance.now();
    for (const entry of this.#entries) {
      if (!entry.isSlow) {
        entry.isSlow = true;
        entry.hooks.slow?.();
        // `slow` may have stopped it (the client had already left).
        if (!this.#entries.has(entry)) continue;
      }
      if (entry.activity !== entry.seenActivity) {
        entry.seenActivity = entry.activity;
        entry.deadline = now + entry.timeoutMs;
      } else if (now >= entry.deadline) {
        this.#entries.delete(entry);
        entry.hooks.expire();
      }
    }
  }
}
