import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  acquireLock,
  LockTimeoutError,
  releaseLock,
  withLock,
} from "../../src/credentials/lock.ts";
import { lockPathFor } from "../../src/credentials/paths.ts";
import { tempHome } from "../helpers/run-cli.ts";

/** The official CLI breaks a lock older than 10 s (docs/upstream.md#refresh-lock). */
const LOCK_STALE_MS = 10_000;

/** A sleep that records the waits and yields to the event loop instead of waiting. */
function recordingSleep(onSleep?: (count: number) => Promise<void> | void) {
  const waits: number[] = [];
  const sleep = async (ms: number) => {
    waits.push(ms);
    await onSleep?.(waits.length);
    await new Promise((r) => setTimeout(r, 1));
  };
  return { waits, sleep };
}

describe("refresh lock", () => {
  let home: string;
  let cleanup: () => Promise<void>;
  let n = 0;
  const freshLock = async () => {
    const dir = join(home, `case-${++n}`);
    await mkdir(dir);
    return lockPathFor(join(dir, "oauth_creds.json"));
  };

  before(async () => {
    ({ home, cleanup } = await tempHome());
  });
  after(async () => {
    await cleanup();
  });

  it("sits beside the credentials with the official names", () => {
    assert.equal(lockPathFor("/h/oauth_creds.json"), "/h/oauth_creds.lock");
    assert.equal(lockPathFor("/h/oauth_creds_work.json"), "/h/oauth_creds_work.lock");
  });

  it("holds a random UUID while held and is removed on release", async () => {
    const path = await freshLock();
    const seen = await withLock(path, async (lock) => {
      assert.match(lock.id, /^[0-9a-f-]{36}$/);
      assert.equal(await readFile(path, "utf8"), lock.id);
      return "done";
    });
    assert.equal(seen, "done");
    await assert.rejects(stat(path), { code: "ENOENT" });
  });

  it("releases the lock when the work throws", async () => {
    const path = await freshLock();
    await assert.rejects(withLock(path, () => Promise.reject(new Error("boom"))), /boom/);
    await assert.rejects(stat(path), { code: "ENOENT" });
  });

  it("creates the directory when it does not exist yet", async () => {
    const path = join(home, `case-${++n}`, "deeper", "oauth_creds.lock");
    await withLock(path, async () => {
      assert.ok((await stat(path)).isFile());
    });
  });

  it("waits under contention with 100 ms growing ×1.5, then takes the lock", async () => {
    const path = await freshLock();
    const held = await acquireLock(path);
    const { waits, sleep } = recordingSleep(async (count) => {
      if (count === 4) await releaseLock(held);
    });
    let ran = false;
    await withLock(path, async (lock) => {
      ran = true;
      assert.equal(await readFile(path, "utf8"), lock.id);
      assert.notEqual(lock.id, held.id);
    }, { sleep });
    assert.ok(ran);
    assert.deepEqual(waits, [100, 150, 225, 337.5]);
  });

  it("gives up after 20 attempts with delays capped at 2 s, leaving the other's lock", async () => {
    const path = await freshLock();
    const held = await acquireLock(path);
    const { waits, sleep } = recordingSleep();
    let ran = false;
    await assert.rejects(
      withLock(path, () => {
        ran = true;
        return Promise.resolve();
      }, { sleep }),
      (error: unknown) => {
        assert.ok(error instanceof LockTimeoutError);
        assert.equal(error.exitCode, 1);
        assert.ok(error.message.includes(path), error.message);
        assert.match(error.message, /^Cannot take the lock "/);
        return true;
      },
    );
    assert.equal(ran, false);
    assert.equal(waits.length, 19, "20 attempts, 19 waits between them");
    assert.equal(Math.max(...waits), 2000);
    assert.equal(waits.at(-1), 2000);
    assert.equal(await readFile(path, "utf8"), held.id, "the holder's lock is untouched");
    await releaseLock(held);
  });

  it("breaks a lock older than 10 s at once and leaves nothing behind", async () => {
    const path = await freshLock();
    await writeFile(path, "a-crashed-process-uuid");
    const old = new Date(Date.now() - LOCK_STALE_MS - 5_000);
    await utimes(path, old, old);
    const { waits, sleep } = recordingSleep();
    await withLock(path, async (lock) => {
      assert.equal(await readFile(path, "utf8"), lock.id);
    }, { sleep });
    assert.deepEqual(waits, [], "no wait for a stale lock");
    const dir = join(path, "..");
    assert.deepEqual(await readdir(dir), []);
  });

  it("judges staleness with the injected clock", async () => {
    const path = await freshLock();
    const held = await acquireLock(path);
    const { waits, sleep } = recordingSleep();
    await withLock(path, () => Promise.resolve(), {
      sleep,
      now: () => Date.now() + LOCK_STALE_MS + 1_000,
    });
    assert.deepEqual(waits, []);
    assert.equal(await releaseLock(held), false, "the broken lock is no longer ours");
  });

  it("does not break a lock younger than 10 s", async () => {
    const path = await freshLock();
    const held = await acquireLock(path);
    const { sleep } = recordingSleep();
    await assert.rejects(withLock(path, () => Promise.resolve(), { sleep, attempts: 3 }), {
      name: "LockTimeoutError",
    });
    assert.equal(await readFile(path, "utf8"), held.id);
    await releaseLock(held);
  });

  it("breaks a lock whose mtime is more than 10 s in the future at once", async () => {
    const path = await freshLock();
    await writeFile(path, "a-lock-from-a-clock-ahead");
    const ahead = new Date(Date.now() + 60_000);
    await utimes(path, ahead, ahead);
    const { waits, sleep } = recordingSleep();
    await withLock(path, async (lock) => {
      assert.equal(await readFile(path, "utf8"), lock.id);
    }, { sleep });
    assert.deepEqual(waits, [], "no wait for a lock from the future");
    assert.deepEqual(await readdir(join(path, "..")), []);
  });

  it("does not break a lock a few seconds in the future: clocks of shared disks drift", async () => {
    const path = await freshLock();
    const held = await acquireLock(path);
    const ahead = new Date(Date.now() + 5_000);
    await utimes(path, ahead, ahead);
    const { sleep } = recordingSleep();
    await assert.rejects(withLock(path, () => Promise.resolve(), { sleep, attempts: 3 }), {
      name: "LockTimeoutError",
    });
    assert.equal(await readFile(path, "utf8"), held.id);
    await releaseLock(held);
  });

  it("releases only a lock that still holds its UUID", async () => {
    const path = await freshLock();
    const mine = await acquireLock(path);
    await writeFile(path, "someone-else");
    assert.equal(await releaseLock(mine), false);
    assert.equal(await readFile(path, "utf8"), "someone-else");
    await writeFile(path, mine.id);
    assert.equal(await releaseLock(mine), true);
    await assert.rejects(stat(path), { code: "ENOENT" });
    assert.equal(await releaseLock(mine), false, "releasing twice is harmless");
  });

  it("lets one holder in at a time among concurrent callers", async () => {
    const path = await freshLock();
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        withLock(path, async () => {
          inside++;
          most = Math.max(most, inside);
          order.push(i);
          await new Promise((r) => setTimeout(r, 5));
          inside--;
        }, { initialDelayMs: 2, maxDelayMs: 5 })),
    );
    assert.equal(most, 1);
    assert.equal(order.length, 5);
  });

  it("stops waiting when the signal aborts", async () => {
    const path = await freshLock();
    const held = await acquireLock(path);
    const controller = new AbortController();
    const { sleep } = recordingSleep((count) => {
      if (count === 2) controller.abort(new Error("stop"));
    });
    await assert.rejects(
      withLock(path, () => Promise.resolve(), { sleep, signal: controller.signal }),
      /stop/,
    );
    await releaseLock(held);
  });
});
