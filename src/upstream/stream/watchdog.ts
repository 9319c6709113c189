/**
 * Timeouts for upstream calls, checked by one shared tick instead of a timer per request.
 *
 * Most calls end within a millisecond or a few seconds, and arming a timer for each (first byte,
 * body, stream silence) and subscribing to the client's abort signal up front cost more than the
 * rest of the request (docs/performance.md). Here a call joins a list, a tick every `tickMs` (a
 * tenth of the shortest timeout, at most a second) expires calls past their deadline, and tells a
 * call once that it is slow, which is when the caller subscribes to the client's abort signal and
 * lifts the server's own idle timeout. A timeout fires up to one tick late. The tick runs only
 * while calls are watched. The list is linked through the entries rather than a Set: on Bun a
 * long-lived Set that calls keep joining and leaving is rescanned by every young collection.
 *
 * Time and the tick come from a `WatchdogClock`: the real one unless a test passes its own, which
 * then drives the ticks itself instead of sleeping through them.
 */

/** Where a watchdog reads the time and schedules its tick. */
interface WatchdogClock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Any handle but undefined (which means "not ticking"). */
  setInterval(tick: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** `performance.now` and the runtime's own interval timer. */
const realClock: WatchdogClock = {
  now: () => performance.now(),
  setInterval: (tick, ms) => setInterval(tick, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

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
  /** Set when it joins the watched list (the clock is the watchdog's). */
  deadline = 0;
  seenActivity = 0;
  activity = 0;
  isSlow = false;
  watched = false;
  prev: Entry | undefined = undefined;
  next: Entry | undefined = undefined;

  constructor(
    private readonly dog: Watchdog,
    public timeoutMs: number,
    readonly hooks: WatchHooks,
  ) {}

  stop(): void {
    this.dog.unwatch(this);
  }

  restart(timeoutMs: number): void {
    this.timeoutMs = timeoutMs;
    this.dog.rewatch(this);
  }
}

export class Watchdog {
  readonly tickMs: number;
  #head: Entry | undefined;
  /** The entry a running tick visits next (hooks may stop it). */
  #cursor: Entry | undefined;
  #size = 0;
  #interval: unknown;
  readonly #clock: WatchdogClock;

  /**
   * `shortestTimeoutMs`: the smallest timeout the caller will use (sets the tick). `clock`: for
   * tests; the real one otherwise.
   */
  constructor(shortestTimeoutMs: number, clock: WatchdogClock = realClock) {
    this.tickMs = Math.min(1_000, Math.max(5, Math.floor(shortestTimeoutMs / 10)));
    this.#clock = clock;
  }

  watch(timeoutMs: number, hooks: WatchHooks): Watch {
    const entry = new Entry(this, timeoutMs, hooks);
    this.rewatch(entry);
    return entry;
  }

  /** How many calls are watched now. */
  get size(): number {
    return this.#size;
  }

  /** @internal Starts the count from now, and watches the entry unless it is watched. */
  rewatch(entry: Entry): void {
    entry.deadline = this.#clock.now() + entry.timeoutMs;
    if (!entry.watched) {
      entry.watched = true;
      entry.next = this.#head;
      if (this.#head !== undefined) this.#head.prev = entry;
      this.#head = entry;
      this.#size++;
    }
    if (this.#interval === undefined) {
      this.#interval = this.#clock.setInterval(() => this.#tick(), this.tickMs);
      // A watched call keeps the process alive through its own socket, not through this tick.
      (this.#interval as { unref?: () => void }).unref?.();
    }
  }

  /** @internal */
  unwatch(entry: Entry): void {
    if (!entry.watched) return;
    entry.watched = false;
    const { prev, next } = entry;
    if (prev === undefined) this.#head = next;
    else prev.next = next;
    if (next !== undefined) next.prev = prev;
    // A running tick goes on past it. No links are left behind: a stopped entry that pointed into
    // the list would keep the later calls (and what their hooks reach) alive as long as itself.
    if (this.#cursor === entry) this.#cursor = next;
    entry.prev = undefined;
    entry.next = undefined;
    this.#size--;
  }

  #tick(): void {
    if (this.#size === 0) {
      this.#clock.clearInterval(this.#interval);
      this.#interval = undefined;
      return;
    }
    const now = this.#clock.now();
    // Ends when the cursor is past the last entry, so it holds nothing between ticks.
    for (let entry = this.#head; entry !== undefined; entry = this.#cursor) {
      this.#cursor = entry.next;
      if (!entry.isSlow) {
        entry.isSlow = true;
        entry.hooks.slow?.();
        // `slow` may have stopped it (the client had already left).
        if (!entry.watched) continue;
      }
      if (entry.activity !== entry.seenActivity) {
        entry.seenActivity = entry.activity;
        entry.deadline = now + entry.timeoutMs;
      } else if (now >= entry.deadline) {
        this.unwatch(entry);
        entry.hooks.expire();
      }
    }
  }
}
