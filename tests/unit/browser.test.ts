import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { browserDecision, openBrowser } from "../../src/terminal/browser.ts";

const URL = "https://chat.qwen.ai/authorize?user_code=BF0Q6UX9&client=qwen-code";
const DESKTOP = { DISPLAY: ":0" };

/** A runtime that records spawns instead of launching anything. */
class FakeSpawner {
  readonly calls: { command: string; args: string[] }[] = [];
  constructor(private readonly outcome: boolean | "throw" = true) {}
  spawnDetached = (command: string, args: string[]): Promise<boolean> => {
    this.calls.push({ command, args });
    if (this.outcome === "throw") return Promise.reject(new Error("spawn failed"));
    return Promise.resolve(this.outcome);
  };
}

describe("browserDecision", () => {
  it("uses xdg-open on Linux with an X11 or Wayland display", () => {
    assert.deepEqual(browserDecision(URL, { platform: "linux", env: DESKTOP }), {
      open: true,
      command: "xdg-open",
      args: [URL],
    });
    assert.deepEqual(
      browserDecision(URL, { platform: "linux", env: { WAYLAND_DISPLAY: "wayland-0" } }),
      { open: true, command: "xdg-open", args: [URL] },
    );
  });

  it("skips Linux without a display", () => {
    const d = browserDecision(URL, { platform: "linux", env: {} });
    assert.equal(d.open, false);
    assert.match(!d.open ? d.reason : "", /no display/);
  });

  it("uses open on macOS, even without DISPLAY", () => {
    assert.deepEqual(browserDecision(URL, { platform: "darwin", env: {} }), {
      open: true,
      command: "open",
      args: [URL],
    });
  });

  it("uses cmd /c start on Windows with an empty title and the & escaped", () => {
    assert.deepEqual(browserDecision(URL, { platform: "win32", env: {} }), {
      open: true,
      command: "cmd",
      args: [
        "/c",
        "start",
        "",
        "https://chat.qwen.ai/authorize?user_code=BF0Q6UX9^&client=qwen-code",
      ],
    });
  });

  it("honours --no-browser first", () => {
    const d = browserDecision(URL, { platform: "darwin", env: {}, noBrowser: true });
    assert.deepEqual(d, { open: false, reason: "--no-browser was given" });
  });

  it("skips when NO_BROWSER or CI is set, but not when they are empty, 0 or false", () => {
    for (const env of [{ NO_BROWSER: "1" }, { NO_BROWSER: "yes" }, { CI: "true" }, { CI: "1" }]) {
      const d = browserDecision(URL, { platform: "darwin", env });
      assert.equal(d.open, false, JSON.stringify(env));
    }
    for (const env of [{ NO_BROWSER: "" }, { CI: "false" }, { CI: "0" }]) {
      const d = browserDecision(URL, { platform: "darwin", env });
      assert.equal(d.open, true, JSON.stringify(env));
    }
    const ci = browserDecision(URL, { platform: "darwin", env: { CI: "true" } });
    assert.deepEqual(ci, { open: false, reason: "running under CI" });
    const nb = browserDecision(URL, { platform: "darwin", env: { NO_BROWSER: "1" } });
    assert.deepEqual(nb, { open: false, reason: "NO_BROWSER is set" });
  });

  it("skips SSH sessions, whichever variable reveals them, even with a display", () => {
    for (const name of ["SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT"]) {
      const d = browserDecision(URL, { platform: "linux", env: { ...DESKTOP, [name]: "x" } });
      assert.deepEqual(d, { open: false, reason: `SSH session (${name} is set)` });
    }
    const mac = browserDecision(URL, { platform: "darwin", env: { SSH_TTY: "/dev/ttys001" } });
    assert.equal(mac.open, false);
  });
});

describe("openBrowser", () => {
  it("launches the opener and reports it", async () => {
    const runtime = new FakeSpawner(true);
    const r = await openBrowser(URL, { platform: "linux", env: DESKTOP, runtime });
    assert.deepEqual(r, { opened: true, command: "xdg-open" });
    assert.deepEqual(runtime.calls, [{ command: "xdg-open", args: [URL] }]);
  });

  it("launches nothing when the rules say no", async () => {
    const runtime = new FakeSpawner(true);
    const r = await openBrowser(URL, {
      platform: "linux",
      env: { ...DESKTOP, CI: "1" },
      runtime,
    });
    assert.deepEqual(r, { opened: false, reason: "running under CI" });
    assert.equal(runtime.calls.length, 0);
  });

  it("reports a missing opener instead of crashing", async () => {
    for (const outcome of [false, "throw"] as const) {
      const runtime = new FakeSpawner(outcome);
      const r = await openBrowser(URL, { platform: "linux", env: DESKTOP, runtime });
      assert.deepEqual(r, { opened: false, reason: 'could not run "xdg-open"' });
    }
  });
});
