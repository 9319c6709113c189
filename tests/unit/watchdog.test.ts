import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Watchdog } from "../../src/upstream/stream/watchdog.ts";

type WatchdogClock = NonNullable<ConstructorParameters<typeof Watchdog>[1]>;

/** A clock that moves only when told to, running the intervals that fall due on the way. */
class ManualClock implements WatchdogClock {
  #now = 0;
  #lastHandle = 0;
  readonly #intervals = new Map<number, { tick: () => void; ms: number; due: number }>();

  now = () => this.#now;

  setInterval = (tick: () => void, ms: number): number => {
    const handle = ++this.#lastHandle;
    this.#intervals.set(handle, { tick, ms, due: this.#now + ms });
    return handle;
  };

  clearInterval = (handle: unknown): void => {
    this.#intervals.delete(handle as number);
  };

  /** Intervals scheduled and not cleared. */
  get intervals(): number {
    return this.#intervals.size;
  }

  /** Moves time forward by `ms`, running each interval at each of its due times, in order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: { tick: () => void; ms: number; due: number } | undefined;
      for (const interval of this.#intervals.values()) {
        if (interval.due <= end && (next === undefined || interval.due < next.due)) next = interval;
      }
      if (next === undefined) break;
      this.#now = next.due;
      next.due += next.ms;
      next.tick();
    }
    this.#now = end;
  }
}

describe("Watchdog", () => {
  it("ticks at a tenth of the shortest timeout, between 5 ms and 1 s", () => {
    assert.equal(new Watchdog(300_000).tickMs, 1_000);
    assert.equal(new Watchdog(200).tickMs, 20);
    assert.equal(new Watchdog(10).tickMs, 5);
  });

  it("expires a call past its timeout, once, after telling it that it is slow", () => {
    const clock = new ManualClock();
    const dog = new Watchdog(100, clock);
    const events: string[] = [];
    dog.watch(100, { expire: () => events.push("expire"), slow: () => events.push("slow") });
    clock.advance(60);
    assert.deepEqual(events, ["slow"]);
    clock.advance(39);
    assert.deepEqual(events, ["slow"], "not before its timeout");
    clock.advance(111);
    assert.deepEqual(events, ["slow", "expire"]);
    assert.equal(dog.size, 0);
  });

  it("never expires a call that stopped, and stops ticking when nothing is watched", () => {
    const clock = new ManualClock();
    const dog = new Watchdog(50, clock);
    let expired = false;
    const watch = dog.watch(50, { expire: () => (expired = true) });
    watch.stop();
    clock.advance(120);
    assert.equal(expired, false);
    assert.equal(dog.size, 0);
    assert.equal(clock.intervals, 0, "no tick left");
  });

  it("moves the deadline while there is activity, and expires once it stops", () => {
    const clock = new ManualClock();
    const dog = new Watchdog(150, clock);
    let expiredAt = 0;
    const started = clock.now();
    const watch = dog.watch(150, { expire: () => (expiredAt = clock.now()) });
    for (let i = 0; i < 10; i++) {
      clock.advance(20);
      watch.activity++;
    }
    assert.equal(expiredAt, 0, "a chunk every 20 ms keeps a 150 ms timeout from firing");
    const lastActivity = clock.now();
    clock.advance(400);
    assert.ok(expiredAt > 0, "silence expires it");
    assert.ok(expiredAt - lastActivity >= 150, `expired ${expiredAt - lastActivity} ms after`);
    assert.ok(expiredAt - started > 200);
  });

  it("restarts with another timeout", () => {
    const clock = new ManualClock();
    const dog = new Watchdog(20, clock);
    let expired = 0;
    const watch = dog.watch(20, { expire: () => expired++ });
    watch.restart(200);
    clock.advance(100);
    assert.equal(expired, 0);
    clock.advance(200);
    assert.equal(expired, 1);
  });

  it("keeps count of many calls coming and going, in any order", () => {
    const dog = new Watchdog(1_000, new ManualClock());
    const watches = Array.from({ length: 10 }, () => dog.watch(1_000, { expire() {} }));
    assert.equal(dog.size, 10);
    for (const i of [0, 9, 4, 5, 1]) watches[i].stop();
    assert.equal(dog.size, 5);
    watches[4].stop();
    assert.equal(dog.size, 5, "stopping twice counts once");
    watches[0].restart(1_000);
    assert.equal(dog.size, 6, "a restart after a stop watches it again");
    watches[0].restart(1_000);
    assert.equal(dog.size, 6, "a restart of a watched call does not add it twice");
    for (const watch of watches) watch.stop();
    assert.equal(dog.size, 0);
  });

  for (const hook of ["slow", "expire"] as const) {
    it(`never expires calls that another call's ${hook} hook stopped during a tick`, () => {
      const clock = new ManualClock();
      const dog = new Watchdog(50, clock);
      const expired: number[] = [];
      let stopped: number[] = [];
      const watches: { stop(): void }[] = [];
      for (let i = 0; i < 6; i++) {
        // The first call to get here stops all the others, wherever the walk stands.
        const stopOthers = () => {
          if (stopped.length > 0) return;
          stopped = [0, 1, 2, 3, 4, 5].filter((n) => n !== i);
          for (const n of stopped) watches[n].stop();
        };
        watches.push(dog.watch(
          50,
          hook === "slow" ? { slow: stopOthers, expire: () => expired.push(i) } : {
            expire: () => {
              expired.push(i);
              stopOthers();
            },
          },
        ));
      }
      clock.advance(200);
      assert.equal(stopped.length, 5);
      assert.deepEqual(
        expired.sort(),
        [0, 1, 2, 3, 4, 5].filter((n) => !stopped.includes(n)),
      );
      assert.equal(dog.size, 0);
    });
  }
});
