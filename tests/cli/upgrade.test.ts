/**
 * `qwen upgrade`: against a release folder served on loopback in GitHub's layout
 * (latest/download/FILE, download/vX/FILE, through QWEN_DOWNLOAD_URL), with "binaries" that are
 * small sh scripts (the new one answers --version and records `serve --check`), the running
 * binary a temporary copy injected as the host's executable, and fake systemctl on PATH.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmod,
  copyFile,
  mkdir,
  readdir,
  readFile,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import { basename, join, normalize } from "node:path";
import process from "node:process";
import { serveSettings } from "../../src/cli/service-settings.ts";
import type { Host } from "../../src/commands/host.ts";
import { runService } from "../../src/commands/service/service.ts";
import { runUpgrade } from "../../src/commands/upgrade/upgrade.ts";
import { VERSION } from "../../src/lib/version.ts";
import type { Server } from "../../src/runtime/mod.ts";
import { compiledBinary } from "../helpers/compiled-binary.ts";
import { fakeContext, runInProcess } from "../helpers/fake-context.ts";
import { fakeHost, type FakePrograms, fakePrograms } from "../helpers/fake-programs.ts";
import { runCli, tempHome } from "../helpers/run-cli.ts";
import { startServer } from "../helpers/with-server.ts";

const [major] = VERSION.split(".").map(Number);
const NEWER = `${major + 1}.0.0`;
const NEWEST = `${major + 2}.0.0`;
const OLDER = "0.0.1";

const OLD_BINARY = `#!/bin/sh\necho ${VERSION}\n`;
const hasTar = spawnSync("tar", ["--version"]).status === 0;
const isRoot = process.getuid?.() === 0;

interface Release {
  /** What the new binary's `--version` prints (default: the release's version). */
  says?: string;
  /** Its exit code for `serve --check` (default 0). */
  checkExit?: number;
  /** Whether this is the latest release (latest/download/ serves it). */
  latest?: boolean;
  /** Publish the .tar.gz (default) or only the plain binary. */
  archive?: boolean;
  /** A SHA256SUMS that does not match the files. */
  wrongSums?: boolean;
  compiler?: "bun" | "deno";
  platform?: string;
  /** A real binary that the new one hands everything but `--version` to. */
  delegateTo?: string;
}

interface Setup {
  binary: string;
  binDir: string;
  home: string;
  programs: FakePrograms;
  /** Where the new binaries record the `serve` calls they get. */
  checkLog: string;
  publish(version: string, release?: Release): Promise<void>;
  upgrade(
    options: { version?: string; check?: boolean },
    host?: Partial<Host>,
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  host(overrides?: Partial<Host>): Host;
  env: Record<string, string>;
}

/** Serves `folder` as a release host: GET /PATH is the file folder/PATH, else 404. */
function serveFolder(folder: string): Promise<Server> {
  return startServer(async (request) => {
    const path = normalize(decodeURIComponent(new URL(request.url).pathname));
    if (path.includes("..")) return new Response("no", { status: 400 });
    try {
      return new Response(await readFile(join(folder, path)));
    } catch {
      return new Response("Not Found", { status: 404 });
    }
  });
}

describe("qwen upgrade", { skip: hasTar ? false : "no tar program to build archives" }, () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function setup(): Promise<Setup> {
    const root = await tempHome();
    cleanups.push(root.cleanup);
    const folder = join(root.home, "releases");
    const binDir = join(root.home, "my bin");
    const binary = join(binDir, "qwen");
    const home = join(root.home, "home");
    const checkLog = join(root.home, "serve-calls.log");
    await mkdir(binDir, { recursive: true });
    await mkdir(home, { recursive: true });
    await writeFile(binary, OLD_BINARY);
    await chmod(binary, 0o755);
    const server = await serveFolder(folder);
    cleanups.push(() => server.close(true));
    const programs = await fakePrograms({
      systemctl: `case "$2" in is-active) echo active;; is-enabled) echo enabled;; esac`,
      loginctl: "echo yes",
    });
    cleanups.push(programs.cleanup);
    const env = { HOME: home, PATH: programs.path, QWEN_DOWNLOAD_URL: `${server.url}/` };
    const host = (overrides: Partial<Host> = {}): Host => fakeHost(binary, overrides);
    return {
      binary,
      binDir,
      home,
      programs,
      checkLog,
      env,
      host,
      async publish(version, release = {}) {
        const compiler = release.compiler ?? "bun";
        const platform = release.platform ?? "linux-x64";
        const exe = platform.startsWith("windows") ? ".exe" : "";
        const plainName = `qwen-${compiler}-${platform}${exe}`;
        const script = release.delegateTo !== undefined
          ? `#!/bin/sh\ncase "$1" in\n  --version) echo ${version};;\n  *) exec '${release.delegateTo}' "$@";;\nesac\n`
          : `#!/bin/sh
case "$1" in
  --version) echo ${release.says ?? version};;
  serve) printf '%s|%s\\n' "$*" "\${QWEN_HOME:-}" >> '${checkLog}'; echo "check says no" >&2; exit ${
            release.checkExit ?? 0
          };;
esac
`;
        const dir = join(folder, "download", `v${version}`);
        const staging = join(root.home, `staging-${version}-${compiler}-${platform}`);
        await mkdir(dir, { recursive: true });
        await mkdir(staging, { recursive: true });
        const files: Record<string, Uint8Array> = {};
        files[plainName] = new TextEncoder().encode(script);
        if (release.archive ?? true) {
          await writeFile(join(staging, "qwen"), script, { mode: 0o755 });
          const archive = join(staging, `${plainName}.tar.gz`);
          const r = spawnSync("tar", ["-czf", archive, "-C", staging, "qwen"], {
            encoding: "utf8",
          });
          assert.equal(r.status, 0, r.stderr);
          files[`${plainName}.tar.gz`] = new Uint8Array(await readFile(archive));
        }
        const sums = Object.entries(files).map(([name, bytes]) => {
          const digest = createHash("sha256").update(bytes).digest("hex");
          return `${
            release.wrongSums ? digest.replace(/^./, (c) => c === "0" ? "1" : "0") : digest
          }  ${name}\n`;
        }).join("");
        files.SHA256SUMS = new TextEncoder().encode(sums);
        files.VERSION = new TextEncoder().encode(`${version}\n`);
        const targets = [dir];
        if (release.latest) targets.push(join(folder, "latest", "download"));
        for (const target of targets) {
          await mkdir(target, { recursive: true });
          for (const [name, bytes] of Object.entries(files)) {
            // Another compiler's or platform's files join those already published.
            if (name === "SHA256SUMS") {
              const before = await readFile(join(target, name), "utf8").catch(() => "");
              await writeFile(join(target, name), before + sums);
            } else await writeFile(join(target, name), bytes);
          }
        }
      },
      async upgrade(options, hostOverrides = {}) {
        const { ctx, stdout, stderr } = fakeContext({ env });
        let code: number;
        try {
          code = await runUpgrade(
            { check: false, ...options },
            ctx,
            host(hostOverrides),
          );
        } catch (error) {
          ctx.stderr(`error: ${(error as Error).message}\n`);
          code = (error as { exitCode?: number }).exitCode ?? 1;
        }
        return { code, stdout: stdout(), stderr: stderr() };
      },
    };
  }

  /** The folder's names other than the binary and qwen.old: no download may be left behind. */
  async function leftovers(s: Setup): Promise<string[]> {
    return (await readdir(s.binDir)).filter((name) => name !== "qwen" && name !== "qwen.old");
  }

  describe("--check", () => {
    it("exits 0 when up to date, 10 when a newer release exists, 1 when it cannot tell", async () => {
      const s = await setup();
      const nothing = await s.upgrade({ check: true });
      assert.equal(nothing.code, 1);
      assert.match(nothing.stderr, /Cannot download ".*\/latest\/download\/VERSION": .*404/);
      await s.publish(VERSION, { latest: true });
      const same = await s.upgrade({ check: true });
      assert.equal(same.code, 0, same.stderr);
      assert.equal(same.stdout, `qwen ${VERSION} is up to date (latest release: ${VERSION})\n`);
      await s.publish(NEWER, { latest: true });
      const newer = await s.upgrade({ check: true });
      assert.equal(newer.code, 10);
      assert.match(newer.stdout, new RegExp(`qwen ${NEWER} is available \\(this is ${VERSION}\\)`));
      // Nothing but asking.
      assert.equal(await readFile(s.binary, "utf8"), OLD_BINARY);
    });

    it("works from source through the command line, and refuses --version with it", async () => {
      const s = await setup();
      await s.publish(NEWER, { latest: true });
      const r = await runInProcess(["upgrade", "--check"], { env: s.env });
      assert.equal(r.code, 10, r.stderr);
      const both = await runInProcess(["upgrade", "--check", "--version", NEWER], { env: s.env });
      assert.equal(both.code, 2);
      assert.match(both.stderr, /"--check" compares with the latest release/);
      const bad = await runInProcess(["upgrade", "--version", "latest"], { env: s.env });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /Invalid version "latest" for "--version"/);
    });
  });

  describe("replacing the binary", () => {
    it("downloads the .tar.gz, checks it, swaps it in and keeps qwen.old", async () => {
      const s = await setup();
      await s.publish(NEWER, { latest: true });
      const r = await s.upgrade({});
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`download/v${NEWER}/qwen-bun-linux-x64\\.tar\\.gz`));
      assert.match(r.stdout, new RegExp(`Upgraded .*qwen: ${VERSION} → ${NEWER}`));
      const now = await readFile(s.binary, "utf8");
      assert.match(now, new RegExp(`echo ${NEWER}`));
      assert.equal((await stat(s.binary)).mode & 0o777, 0o755);
      assert.equal(await readFile(join(s.binDir, "qwen.old"), "utf8"), OLD_BINARY);
      assert.deepEqual(await leftovers(s), []);

      // The next run removes qwen.old, even when it has nothing to do.
      const again = await s.upgrade({ version: VERSION });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, `qwen ${VERSION} is already installed: nothing to do\n`);
      assert.deepEqual(await readdir(s.binDir), ["qwen"]);
    });

    it("removes the previous qwen.old, and downloads a killed upgrade left", async () => {
      const s = await setup();
      await writeFile(join(s.binDir, "qwen.old"), "from last time");
      const killed = join(s.binDir, `.qwen.new-${crypto.randomUUID()}`);
      const recent = join(s.binDir, `.qwen.new-${crypto.randomUUID()}`);
      await writeFile(killed, "half");
      await writeFile(recent, "another upgrade's, running now");
      const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
      await utimes(killed, twoHoursAgo, twoHoursAgo);
      await s.publish(NEWER, { latest: true });
      assert.equal((await s.upgrade({})).code, 0);
      assert.equal(await readFile(join(s.binDir, "qwen.old"), "utf8"), OLD_BINARY);
      assert.deepEqual(await leftovers(s), [basename(recent)]);
    });

    it("installs a given version, an older one too, from its own folder", async () => {
      const s = await setup();
      await s.publish(NEWEST, { latest: true });
      await s.publish(OLDER);
      const r = await s.upgrade({ version: OLDER });
      assert.equal(r.code, 0, r.stderr);
      assert.match(await readFile(s.binary, "utf8"), new RegExp(`echo ${OLDER}`));
    });

    it("refuses a download whose checksum does not match, and deletes it", async () => {
      const s = await setup();
      await s.publish(NEWER, { latest: true, wrongSums: true });
      const r = await s.upgrade({});
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Checksum mismatch for "qwen-bun-linux-x64\.tar\.gz"/);
      assert.match(r.stderr, /nothing was changed/);
      assert.equal(await readFile(s.binary, "utf8"), OLD_BINARY);
      assert.deepEqual(await leftovers(s), []);
    });

    it("refuses a binary that does not say the version it should", async () => {
      const s = await setup();
      await s.publish(NEWER, { latest: true, says: "0.0.0-broken" });
      const r = await s.upgrade({});
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`printed "0\\.0\\.0-broken", expected "${NEWER}"\\); nothing was changed`),
      );
      assert.equal(await readFile(s.binary, "utf8"), OLD_BINARY);
      assert.deepEqual(await leftovers(s), []);
    });

    it("takes the plain binary when no .tar.gz is listed, and Deno's for a Deno binary", async () => {
      const s = await setup();
      await s.publish(NEWER, { latest: true, archive: false });
      const plain = await s.upgrade({});
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stderr, /qwen-bun-linux-x64\n/);

      const d = await setup();
      await d.publish(NEWER, { latest: true });
      const deno = { executable: { path: d.binary, compiled: true, runtime: "deno" as const } };
      const missing = await d.upgrade({}, deno);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /has no binary for this one \("qwen-deno-linux-x64" is not/);
      await d.publish(NEWER, { latest: true, compiler: "deno" });
      const r = await d.upgrade({}, deno);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /qwen-deno-linux-x64\.tar\.gz/);
    });

    it("on Windows takes the .exe and keeps qwen.old.exe", async () => {
      const s = await setup();
      const exe = join(s.binDir, "qwen.exe");
      await writeFile(exe, OLD_BINARY, { mode: 0o755 });
      await s.publish(NEWER, { latest: true, platform: "windows-x64" });
      const r = await s.upgrade({}, {
        platform: "win32",
        executable: { path: exe, compiled: true, runtime: "bun" },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /qwen-bun-windows-x64\.exe\n/);
      assert.match(await readFile(exe, "utf8"), new RegExp(`echo ${NEWER}`));
      assert.equal(await readFile(join(s.binDir, "qwen.old.exe"), "utf8"), OLD_BINARY);
    });
  });

  describe("refusals", () => {
    it("refuses from source, and says why", async () => {
      const s = await setup();
      await s.publish(NEWER, { latest: true });
      const r = await runInProcess(["upgrade"], { env: s.env });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Cannot upgrade from source: the running program is ".+"/);
    });

    it("refuses a binary where package managers put things", async () => {
      const s = await setup();
      for (const path of ["/usr/bin/qwen", "/nix/store/abc-qwen-0.1.0/bin/qwen"]) {
        const r = await s.upgrade({}, {
          executable: { path, compiled: true, runtime: "bun" },
        });
        assert.equal(r.code, 1, path);
        assert.match(r.stderr, /Refusing to replace ".+": it lives in ".+", where .+ installs/);
      }
      assert.deepEqual(await s.programs.calls(), []);
    });

    it("refuses when the binary's folder is not writable", async () => {
      const s = await setup();
      await s.publish(NEWER, { latest: true });
      // root writes anywhere but in sysfs.
      const path = isRoot ? "/sys/qwen" : s.binary;
      if (!isRoot) await chmod(s.binDir, 0o555);
      try {
        const r = await s.upgrade({}, { executable: { path, compiled: true, runtime: "bun" } });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /Cannot upgrade ".+": its folder ".+" is not writable \(E[A-Z]+\)/);
      } finally {
        await chmod(s.binDir, 0o755);
      }
      assert.equal(await readFile(s.binary, "utf8"), OLD_BINARY);
    });

    it("refuses a platform without release binaries", async () => {
      const s = await setup();
      const r = await s.upgrade({}, { platform: "freebsd" });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /No release binary for this platform \("freebsd-x64"\)/);
    });
  });

  describe("with the service installed", () => {
    async function installService(s: Setup) {
      const { ctx } = fakeContext({ env: s.env, home: join(s.home, "q home") });
      const code = await runService(
        {
          action: "install",
          serveArgv: ["--port", "8089", "--api-key", "client-key-0123456789abcdef"],
          force: false,
          lines: 0,
          follow: false,
        },
        ctx,
        s.host(),
        serveSettings,
      );
      assert.equal(code, 0);
    }

    it("checks the service's settings with the new binary, then restarts it", async () => {
      const s = await setup();
      await installService(s);
      await s.publish(NEWER, { latest: true });
      const r = await s.upgrade({});
      assert.equal(r.code, 0, r.stderr);
      const envFile = join(s.home, ".config", "qwen", "serve.env");
      assert.equal(
        await readFile(s.checkLog, "utf8"),
        `serve --check --env-file ${envFile} --port 8089|${join(s.home, "q home")}\n`,
      );
      assert.equal(
        (await s.programs.callsOf("systemctl")).at(-1),
        "--user try-restart qwen.service",
      );
      assert.match(r.stdout, /Restarted qwen\.service/);
    });

    it("refuses the swap when the new binary would not start the service", async () => {
      const s = await setup();
      await installService(s);
      await s.publish(NEWER, { latest: true, checkExit: 2 });
      const before = (await s.programs.callsOf("systemctl")).length;
      const r = await s.upgrade({});
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /would not start the installed service: .* exited 2:\n {2}check says no/,
      );
      assert.equal(await readFile(s.binary, "utf8"), OLD_BINARY);
      assert.deepEqual(await leftovers(s), []);
      assert.deepEqual((await s.programs.callsOf("systemctl")).slice(before), []);
    });

    it("runs the real serve --check on the installed service's settings", {
      skip: process.platform === "linux" && process.arch === "x64"
        ? false
        : "the release below is for linux-x64",
    }, async () => {
      const s = await setup();
      await installService(s);
      const envFile = join(s.home, ".config", "qwen", "serve.env");
      // The new release says it is newer and hands serve --check to this build's binary.
      await s.publish(NEWER, { latest: true, delegateTo: compiledBinary() });
      // A setting the new binary refuses: its serve --check exits 2 and nothing is swapped.
      const settings = await readFile(envFile, "utf8");
      await writeFile(envFile, `${settings}QWEN_SERVE_STRATEGY=fastest\n`);
      const refused = await s.upgrade({});
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /would not start the installed service: .*exited 2/s);
      assert.match(refused.stderr, /QWEN_SERVE_STRATEGY/);
      assert.equal(await readFile(s.binary, "utf8"), OLD_BINARY);
      // With the settings as install wrote them, the real binary is swapped in.
      await writeFile(envFile, settings);
      const r = await s.upgrade({});
      assert.equal(r.code, 0, r.stderr);
      assert.match(await readFile(s.binary, "utf8"), new RegExp(`echo ${NEWER}`));
      assert.match(r.stdout, /Restarted qwen\.service/);
    });
  });

  describe("the compiled binary", () => {
    it("replaces itself: found by its own path, unpacked with its own gzip", {
      skip: process.platform === "linux" && process.arch === "x64"
        ? false
        : "the release below is for linux-x64",
    }, async () => {
      const s = await setup();
      await copyFile(compiledBinary(), s.binary);
      const size = (await stat(s.binary)).size;
      await s.publish(NEWER, { latest: true });
      const r = await runCli(["upgrade"], { binary: s.binary, env: s.env, timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(await readFile(s.binary, "utf8"), new RegExp(`echo ${NEWER}`));
      assert.equal((await stat(join(s.binDir, "qwen.old"))).size, size);
      assert.deepEqual(await leftovers(s), []);
    });
  });
});
