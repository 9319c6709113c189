import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CancelledError, ExitCode, QwenError } from "../../src/lib/errors.ts";
import { type DeviceCodePrompt, runDeviceFlow } from "../../src/oauth/device-flow.ts";
import { type FakeQwenOptions, type RunningFakeQwen, startFakeQwen } from "../helpers/fake-qwen.ts";

/** A clock that only moves when the flow sleeps: the whole schedule runs instantly. */
class FakeClock {
  t = 1_700_000_000_000;
  readonly sleeps: number[] = [];
  onSleep?: (ms: number) => void;
  now = () => this.t;
  sleep = (ms: number, signal?: AbortSignal): Promise<void> => {
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.sleeps.push(ms);
    this.t += ms;
    this.onSleep?.(ms);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return Promise.resolve();
  };
}

interface Run {
  qwen: RunningFakeQwen;
  clock: FakeClock;
  prompts: DeviceCodePrompt[];
  slowDowns: number[];
  flow(extra?: Partial<Parameters<typeof runDeviceFlow>[0]>): ReturnType<typeof runDeviceFlow>;
}

async function withFake(options: FakeQwenOptions, body: (run: Run) => Promise<void>) {
  const qwen = await startFakeQwen(options);
  const clock = new FakeClock();
  const prompts: DeviceCodePrompt[] = [];
  const slowDowns: number[] = [];
  try {
    await body({
      qwen,
      clock,
      prompts,
      slowDowns,
      flow: (extra = {}) =>
        runDeviceFlow({
          client: { baseUrl: qwen.url, fetch: (input, init) => fetch(input, init) },
          now: clock.now,
          sleep: clock.sleep,
          onCode: (prompt) => void prompts.push(prompt),
          onSlowDown: (ms) => void slowDowns.push(ms),
          ...extra,
        }),
    });
  } finally {
    await qwen.close();
  }
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<QwenError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof QwenError, `expected a QwenError, got ${error}`);
    assert.equal(error.code, code);
    return error;
  }
  assert.fail(`expected a QwenError with code "${code}"`);
}

describe("runDeviceFlow", () => {
  it("polls at the server's interval and returns the token once approved", async () => {
    await withFake({ interval: 3, polls: ["pending", "pending", "approve"] }, async (run) => {
      const token = await run.flow();
      assert.ok(token.access_token.startsWith("access-"));
      assert.ok(token.refresh_token?.startsWith("refresh-"));
      assert.equal(token.resource_url, "portal.qwen.ai");
      assert.deepEqual(run.clock.sleeps, [3000, 3000, 3000]);
      assert.equal(run.qwen.fake.pollRequests.length, 3);
    });
  });

  it("shows the code once, before the first poll", async () => {
    await withFake({ interval: 1, polls: ["approve"], expiresIn: 900 }, async (run) => {
      let pollsWhenShown = -1;
      await run.flow({
        onCode: (prompt) => {
          run.prompts.push(prompt);
          pollsWhenShown = run.qwen.fake.pollRequests.length;
        },
      });
      assert.equal(run.prompts.length, 1);
      assert.equal(pollsWhenShown, 0);
      const prompt = run.prompts[0];
      assert.match(prompt.userCode, /^\S+$/);
      assert.equal(prompt.verificationUri, "https://chat.qwen.ai/authorize");
      assert.equal(
        prompt.verificationUriComplete,
        `https://chat.qwen.ai/authorize?user_code=${prompt.userCode}&client=qwen-code`,
      );
      assert.equal(prompt.expiresIn, 900);
      assert.equal(prompt.intervalMs, 1000);
    });
  });

  it("waits 2 s between polls when the server gives no interval", async () => {
    await withFake({ polls: ["pending", "pending", "approve"] }, async (run) => {
      await run.flow();
      assert.deepEqual(run.clock.sleeps, [2000, 2000, 2000]);
      assert.equal(run.prompts[0].intervalMs, 2000);
    });
  });

  it("adds 5 s to the interval on every slow_down, for good", async () => {
    await withFake(
      {
        interval: 2,
        polls: ["pending", "slow_down", "pending", "slow_down", "pending", "approve"],
      },
      async (run) => {
        await run.flow();
        assert.deepEqual(run.clock.sleeps, [2000, 2000, 7000, 7000, 12000, 12000]);
        assert.deepEqual(run.slowDowns, [7000, 12000]);
        assert.equal(run.qwen.fake.pollRequests.length, 6);
      },
    );
  });

  it("treats a bare 429 from the token endpoint as slow_down", async () => {
    await withFake({ interval: 1, polls: ["approve"] }, async (run) => {
      run.qwen.fake.override("/api/v1/oauth2/token", { status: 429, body: "" });
      await run.flow();
      assert.deepEqual(run.clock.sleeps, [1000, 6000]);
    });
  });

  it("stops at access_denied with its own message and polls no more", async () => {
    await withFake({ interval: 1, polls: ["pending", "deny", "approve"] }, async (run) => {
      const error = await rejectsWith(run.flow(), "access_denied");
      assert.equal(error.exitCode, ExitCode.failure);
      assert.match(error.message, /^Login refused at "127\.0\.0\.1:\d+": .*denied/);
      assert.match(error.message, /run "qwen auth" to try again/);
      assert.equal(run.qwen.fake.pollRequests.length, 2);
      assert.equal(run.clock.sleeps.length, 2);
    });
  });

  it("stops at expired_token with its own message and polls no more", async () => {
    await withFake({ interval: 1, polls: ["pending", "expire", "approve"] }, async (run) => {
      const error = await rejectsWith(run.flow(), "expired_token");
      assert.equal(error.exitCode, ExitCode.failure);
      assert.match(
        error.message,
        /^Login code expired at "127\.0\.0\.1:\d+" before it was approved/,
      );
      assert.match(error.message, /run "qwen auth" for a new code/);
      assert.equal(run.qwen.fake.pollRequests.length, 2);
    });
  });

  it("stops when expires_in runs out, without polling a dead code", async () => {
    await withFake({ interval: 3, expiresIn: 10, polls: ["pending"] }, async (run) => {
      const error = await rejectsWith(run.flow(), "device_code_timeout");
      assert.equal(error.exitCode, ExitCode.failure);
      assert.match(error.message, /^Login not approved within 10 seconds: the code has expired/);
      // Polls at 3, 6 and 9 s; then only 1 s is left: sleep it, and stop without a poll.
      assert.deepEqual(run.clock.sleeps, [3000, 3000, 3000, 1000]);
      assert.equal(run.qwen.fake.pollRequests.length, 3);
    });
  });

  it("counts slow polls against the deadline too", async () => {
    await withFake({ interval: 5, expiresIn: 30, polls: ["slow_down"] }, async (run) => {
      await rejectsWith(run.flow(), "device_code_timeout");
      // Poll at 5 s (slow_down: 10 s), at 15 s (slow_down: 15 s), then the 30 s are up.
      assert.deepEqual(run.clock.sleeps, [5000, 10000, 15000]);
      assert.equal(run.qwen.fake.pollRequests.length, 2);
    });
  });

  it("ends with a CancelledError when aborted while waiting, before the next poll", async () => {
    await withFake({ interval: 1, polls: ["pending"] }, async (run) => {
      const controller = new AbortController();
      run.clock.onSleep = () => {
        if (run.clock.sleeps.length === 2) controller.abort(new DOMException("x", "AbortError"));
      };
      let caught: unknown;
      try {
        await run.flow({ signal: controller.signal });
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof CancelledError);
      assert.equal(caught.exitCode, ExitCode.cancelled);
      assert.equal(run.qwen.fake.pollRequests.length, 1);
    });
  });

  it("ends with a CancelledError when aborted while the code is shown", async () => {
    await withFake({ interval: 1, polls: ["approve"] }, async (run) => {
      const controller = new AbortController();
      let caught: unknown;
      try {
        await run.flow({ signal: controller.signal, onCode: () => controller.abort() });
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof CancelledError);
      assert.equal(run.qwen.fake.pollRequests.length, 0);
    });
  });

  it("sends PKCE S256 requests the strict fake accepts", async () => {
    await withFake({ interval: 1, polls: ["approve"] }, async (run) => {
      await run.flow();
      const [device, poll] = run.qwen.fake.requests;
      assert.equal(device.path, "/api/v1/oauth2/device/code");
      assert.deepEqual(device.keys, [
        "client_id",
        "scope",
        "code_challenge",
        "code_challenge_method",
      ]);
      assert.deepEqual(poll.keys, ["grant_type", "client_id", "device_code", "code_verifier"]);
    });
  });

  it("names the host and status when the device endpoint answers HTML", async () => {
    await withFake({}, async (run) => {
      run.qwen.fake.override("/api/v1/oauth2/device/code", {
        status: 200,
        body: "<html>blocked</html>",
        contentType: "text/html",
      });
      const error = await rejectsWith(run.flow(), "upstream_bad_response");
      assert.match(error.message, /"127\.0\.0\.1:\d+": HTTP 200 answered with text\/html/);
      assert.equal(run.prompts.length, 0);
    });
  });

  it("names the host when the token endpoint fails with a 5xx", async () => {
    await withFake({ interval: 1 }, async (run) => {
      run.qwen.fake.override("/api/v1/oauth2/token", {
        status: 503,
        body: "<html>busy</html>",
        contentType: "text/html",
      });
      const error = await rejectsWith(run.flow(), "upstream_error");
      assert.match(error.message, /"127\.0\.0\.1:\d+": HTTP 503/);
      assert.equal(run.qwen.fake.pollRequests.length, 1); // one poll, then stop
    });
  });
});
