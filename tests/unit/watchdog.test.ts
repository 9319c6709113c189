import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Watchdog } from "../../src/upstream/stream/watchdog.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Watchdog", () => {
  it("ticks at a tenth of the shortest timeout, between 5 ms and 1 s", () => {
    assert.equal(new Watchdog(300_000).tickMs, 1_000);
    assert.equal(new Watchdog(200).tickMs, 20);
    assert.equal(new Watchdog(10).tickMs, 5);
  });

  it("expires a call past its timeout, once, after telling it that it is slow", async () => {
    const dog = new Watchdog(100);
    const events: string[] = [];
    dog.watch(100, { expire: () => events.push("expire"), slow: () => events.push("slow") });
    await sleep(60);
    assert.deepEqual(events, ["slow"]);
    await sleep(150);
    assert.deepEqual(events, ["slow", "expire"]);
    assert.equal(dog.size, 0);
  });

  it("never expires a call that stopped, and stops ticking when nothing is watched", async () => {
    const dog = new Watchdog(50);
    let expired = false;
    const watch = dog.watch(50, { expire: () => (expired = true) });
    watch.stop();
    await sleep(120);
    assert.equal(expired, false);
    assert.equal(dog.size, 0);
  });

  it("moves the deadline while there is activity, and expires once it stops", async () => {
    const dog = new Watchdog(150);
    let expiredAt = 0;
    const started = performance.now();
    const watch = dog.watch(150, { expire: () => (expiredAt = performance.now()) });
    for (let i = 0; i < 10; i++) {
      await sleep(20);
      watch.activity++;
    }
    assert.equal(expiredAt, 0, "a chunk every 20 ms keeps a 150 ms timeout from firing");
    const lastActivity = performance.now();
    await sleep(400);
    assert.ok(expiredAt > 0, "silence expires it");
    assert.ok(expiredAt - lastActivity >= 150, `expired ${expiredAt - lastActivity} ms after`);
    assert.ok(expiredAt - started > 200);
  });

  it("restarts with another timeout", async () => {
    const dog = new Watchdog(20);
    let expired = 0;
    const watch = dog.watch(20, { expire: () => expired++ });
    watch.restart(200);
    await sleep(100);
    assert.equal(expired, 0);
    await sleep(200);
    assert.equal(expired, 1);
  });

  it("keeps count of many calls coming and going, in any order", () => {
    const dog = new Watchdog(1_000);
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
    it(`never expires calls that another call's ${hook} hook stopped during a tick`, async () => {
      const dog = new Watchdog(50);
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
      await sleep(200);
      assert.equal(stopped.length, 5);
      assert.deepEqual(
        expired.sort(),
        [0, 1, 2, 3, 4, 5].filter((n) => !stopped.includes(n)),
      );
      assert.equal(dog.size, 0);
    });
  }
});
