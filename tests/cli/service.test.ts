/**
 * `qwen service`: the unit, agent and env file it writes and the service manager's programs it
 * runs, against fake systemctl, loginctl, journalctl and launchctl on PATH that record their
 * arguments. The host (platform, this program's file) is injected, so that Linux covers macOS
 * and Windows and the source counts as a compiled binary; the refusal from source and one
 * install by the real binary run the real thing.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { serveSettings } from "../../src/cli/service-settings.ts";
import type { Host } from "../../src/commands/host.ts";
import { runService } from "../../src/commands/service/service.ts";
import { readPlist } from "../../src/commands/service/launchd-plist.ts";
import { readUnitCommand } from "../../src/commands/service/systemd-unit.ts";
import { compiledBinary } from "../helpers/compiled-binary.ts";
import { fakeContext, runInProcess } from "../helpers/fake-context.ts";
import { fakeHost, type FakePrograms, fakePrograms } from "../helpers/fake-programs.ts";
import { runCli, tempHome } from "../helpers/run-cli.ts";
import { startServer } from "../helpers/with-server.ts";

const API_KEY = "client-key-0123456789abcdef";
const DASHSCOPE_KEY = "sk-0123456789abcdef9f2c";

/** systemctl as a user manager with the unit active and enabled; loginctl without linger. */
const SYSTEMCTL = `case "$2" in is-active) echo active;; is-enabled) echo enabled;; esac`;
const LOGINCTL = "echo no";

type ServiceOptions = Parameters<typeof runService>[0];

const SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze";
const hasSystemdAnalyze = spawnSync(SYSTEMD_ANALYZE, ["--version"]).status === 0;

interface Setup {
  /** The temporary HOME, with a space in its name. */
  home: string;
  /** The "compiled binary": an executable file in a folder with a space. */
  binary: string;
  programs: FakePrograms;
  env: Record<string, string>;
  host(overrides?: Partial<Host>): Host;
  /** Runs an action with the injected host, as `qwen service` would. */
  service(
    options: Partial<ServiceOptions> & Pick<ServiceOptions, "action">,
    host?: Partial<Host>,
    env?: Record<string, string>,
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  unitPath: string;
  envFilePath: string;
}

describe("qwen service", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  async function setup(programs: Record<string, string> = {}): Promise<Setup> {
    const root = await tempHome();
    cleanups.push(root.cleanup);
    const home = join(root.home, "the home");
    const binary = join(root.home, "my bin", "qwen");
    await mkdir(join(root.home, "my bin"), { recursive: true });
    await writeFile(binary, "#!/bin/sh\n");
    await chmod(binary, 0o755);
    const fake = await fakePrograms({ systemctl: SYSTEMCTL, loginctl: LOGINCTL, ...programs });
    cleanups.push(fake.cleanup);
    const env = { HOME: home, PATH: fake.path };
    const host = (overrides: Partial<Host> = {}): Host => fakeHost(binary, overrides);
    return {
      home,
      binary,
      programs: fake,
      env,
      host,
      async service(options, hostOverrides = {}, extraEnv = {}) {
        const { ctx, stdout, stderr } = fakeContext({
          env: { ...env, ...extraEnv },
          home: extraEnv.QWEN_HOME,
        });
        // No QWEN_HOME unless the test sets one: the service's default is then ~/.qwen.
        if (extraEnv.QWEN_HOME === undefined) {
          delete (ctx.env as Record<string, string>).QWEN_HOME;
        }
        let code: number;
        try {
          code = await runService(
            { serveArgv: [], force: false, lines: 50, follow: false, ...options },
            ctx,
            host(hostOverrides),
            serveSettings,
          );
        } catch (error) {
          ctx.stderr(`error: ${(error as Error).message}\n`);
          code = (error as { exitCode?: number }).exitCode ?? 1;
        }
        return { code, stdout: stdout(), stderr: stderr() };
      },
      unitPath: join(home, ".config", "systemd", "user", "qwen.service"),
      envFilePath: join(home, ".config", "qwen", "serve.env"),
    };
  }

  describe("its command line", () => {
    it("prints its help with every action", async () => {
      const r = await runInProcess(["service", "--help"]);
      assert.equal(r.code, 0);
      for (const action of ["install", "uninstall", "status", "logs"]) {
        assert.match(r.stdout, new RegExp(`qwen service ${action}`));
      }
    });

    it("needs an action: usage on stderr, exit 2", async () => {
      const r = await runInProcess(["service"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /Usage: qwen service install/);
    });

    it("names an unknown action, a flag of another action and flags after -- elsewhere", async () => {
      const unknown = await runInProcess(["service", "start"]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /Unknown action "start" for "qwen service"/);
      const misplaced = await runInProcess(["service", "status", "--lines", "5"]);
      assert.equal(misplaced.code, 2);
      assert.match(misplaced.stderr, /Flag "--lines" is not for "qwen service status"/);
      const dashes = await runInProcess(["service", "status", "--", "--port", "1"]);
      assert.equal(dashes.code, 2);
      assert.match(dashes.stderr, /takes no "qwen serve" flags/);
      const lines = await runInProcess(["service", "logs", "-n", "many"]);
      assert.equal(lines.code, 2);
      assert.match(lines.stderr, /Invalid value "many" for "--lines"/);
    });

    it("refuses to install from source, says why, and writes nothing", async () => {
      const s = await setup();
      const r = await runCli(["service", "install", "--", "--port", "8089"], {
        env: { HOME: s.home, PATH: s.programs.path },
      });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Cannot install the service from source: it would run ".+"/);
      assert.deepEqual(await s.programs.calls(), []);
      await assert.rejects(stat(s.unitPath), { code: "ENOENT" });
      await assert.rejects(stat(s.envFilePath), { code: "ENOENT" });
    });
  });

  describe("on Linux (systemd)", () => {
    it("writes the unit and a 0600 env file with the key, enables and starts it", async () => {
      const s = await setup();
      const r = await s.service(
        {
          action: "install",
          serveArgv: ["-p", "8089", "--api-key", API_KEY, "--model-map", "claude-*=qwen3-max"],
        },
        {},
        { DASHSCOPE_API_KEY: DASHSCOPE_KEY },
      );
      assert.equal(r.code, 0, r.stderr);

      const unit = await readFile(s.unitPath, "utf8");
      assert.equal((await stat(s.unitPath)).mode & 0o777, 0o644);
      assert.deepEqual(readUnitCommand(unit), {
        binary: s.binary,
        args: [
          "serve",
          "--env-file",
          s.envFilePath,
          "--port",
          "8089",
          "--model-map",
          "claude-*=qwen3-max",
        ],
      });
      assert.ok(!unit.includes(API_KEY) && !unit.includes(DASHSCOPE_KEY));
      for (
        const line of [
          "ExecReload=/bin/kill -HUP $MAINPID",
          "RestartPreventExitStatus=2",
          "LimitNOFILE=65536",
          "ProtectSystem=strict",
          "ProtectHome=read-only",
          `EnvironmentFile=-${s.envFilePath}`,
          `ExecStartPre=+/bin/mkdir -p -m 0700 "${join(s.home, ".qwen")}"`,
          `ReadWritePaths="${join(s.home, ".qwen")}"`,
        ]
      ) assert.ok(unit.includes(`\n${line}\n`), `missing: ${line}`);
      assert.ok(!unit.includes("Environment=QWEN_HOME"));

      const envFile = await readFile(s.envFilePath, "utf8");
      assert.equal((await stat(s.envFilePath)).mode & 0o777, 0o600);
      assert.match(envFile, new RegExp(`^QWEN_SERVE_API_KEYS=${API_KEY}$`, "m"));
      assert.match(envFile, new RegExp(`^DASHSCOPE_API_KEY=${DASHSCOPE_KEY}$`, "m"));

      assert.deepEqual(await s.programs.callsOf("systemctl"), [
        "--user daemon-reload",
        "--user enable qwen.service",
        "--user restart qwen.service",
      ]);
      assert.ok(!r.stdout.includes(API_KEY) && !r.stdout.includes(DASHSCOPE_KEY));
      assert.match(r.stdout, /DASHSCOPE_API_KEY \(sk-…9f2c\)/);
      assert.match(r.stdout, /QWEN_SERVE_API_KEYS \(1 key\)/);
      // Linger is suggested, never enabled.
      assert.match(r.stdout, /loginctl enable-linger "\$USER"/);
      assert.deepEqual(await s.programs.callsOf("loginctl"), [
        "show-user 1000 --property=Linger --value",
      ]);
    });

    it("writes a unit that systemd-analyze verify accepts", {
      skip: hasSystemdAnalyze ? false : `no ${SYSTEMD_ANALYZE} on this machine`,
    }, async () => {
      const s = await setup();
      const qwenHome = join(s.home, "qwen 100% $HOME");
      const r = await s.service(
        {
          action: "install",
          serveArgv: ["--model-map", "a$b=c%d", "--allow-host", "x;y", "--grace", "60"],
        },
        {},
        { QWEN_HOME: qwenHome },
      );
      assert.equal(r.code, 0, r.stderr);
      const unit = await readFile(s.unitPath, "utf8");
      assert.match(unit, /^TimeoutStopSec=75s$/m);
      assert.ok(unit.includes(`\nEnvironment="QWEN_HOME=${qwenHome.replace("%", "%%")}"\n`));
      assert.deepEqual(readUnitCommand(unit)?.args.slice(3), [
        "--model-map",
        "a$b=c%d",
        "--allow-host",
        "x;y",
        "--grace",
        "60",
      ]);
      const verify = spawnSync(SYSTEMD_ANALYZE, ["verify", s.unitPath], { encoding: "utf8" });
      assert.equal(verify.status, 0, verify.stderr);
      // Nothing about our unit: systemd-analyze may still talk about the machine's own units.
      assert.ok(!verify.stderr.includes("qwen.service"), verify.stderr);
    });

    it("installs twice in place: the same unit is reloaded, new flags restart it", async () => {
      const s = await setup();
      const first = await s.service({ action: "install", serveArgv: ["--port", "8089"] });
      assert.equal(first.code, 0, first.stderr);
      // The person's own lines in the env file stay.
      await writeFile(s.envFilePath, "# mine\nQWEN_SERVE_LOG_FORMAT=json\n", { mode: 0o600 });
      const again = await s.service({
        action: "install",
        serveArgv: ["--port", "8089", "--api-key", API_KEY],
      });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /Kept .*qwen\.service/);
      const changed = await s.service({ action: "install", serveArgv: ["--port", "8090"] });
      assert.equal(changed.code, 0, changed.stderr);
      assert.match(changed.stdout, /Updated .*qwen\.service/);
      assert.deepEqual(
        (await s.programs.callsOf("systemctl")).filter((c) => /restart/.test(c)),
        [
          "--user restart qwen.service",
          "--user reload-or-restart qwen.service",
          "--user restart qwen.service",
        ],
      );
      assert.equal(
        await readFile(s.envFilePath, "utf8"),
        `# mine\nQWEN_SERVE_LOG_FORMAT=json\nQWEN_SERVE_API_KEYS=${API_KEY}\n`,
      );
      assert.match(await readFile(s.unitPath, "utf8"), / --port 8090\n/);
    });

    it("puts the unit and the env file under XDG_CONFIG_HOME when it is set", async () => {
      const s = await setup();
      const config = join(s.home, "xdg config");
      const r = await s.service({ action: "install" }, {}, { XDG_CONFIG_HOME: config });
      assert.equal(r.code, 0, r.stderr);
      const unit = await readFile(join(config, "systemd", "user", "qwen.service"), "utf8");
      const envFile = join(config, "qwen", "serve.env");
      assert.equal(readUnitCommand(unit)?.args[2], envFile);
      assert.equal((await stat(envFile)).mode & 0o777, 0o600);
      await assert.rejects(stat(s.unitPath), { code: "ENOENT" });
    });

    it("refuses flags serve would refuse, before writing anything (exit 2)", async () => {
      const s = await setup();
      const cases: [string[], RegExp][] = [
        [["--port", "http"], /Invalid value "http" for "--port"/],
        [["--host", "0.0.0.0"], /Refusing to listen on "0.0.0.0" without an API key/],
        [["--bogus"], /Unknown flag "--bogus" for "qwen serve"/],
        [["--env-file", "/x"], /cannot take "--env-file"/],
      ];
      for (const [serveArgv, message] of cases) {
        const r = await s.service({ action: "install", serveArgv });
        assert.equal(r.code, 2, serveArgv.join(" "));
        assert.match(r.stderr, message);
      }
      assert.deepEqual(await s.programs.calls(), []);
      await assert.rejects(stat(s.unitPath), { code: "ENOENT" });
      await assert.rejects(stat(s.envFilePath), { code: "ENOENT" });
    });

    it("takes a public bind's key from the env file it will read", async () => {
      const s = await setup();
      await mkdir(join(s.home, ".config", "qwen"), { recursive: true });
      await writeFile(s.envFilePath, `QWEN_SERVE_API_KEYS=${API_KEY}\n`, { mode: 0o600 });
      const r = await s.service({ action: "install", serveArgv: ["--host", "0.0.0.0"] });
      assert.equal(r.code, 0, r.stderr);
    });

    it("says when there is no user manager to talk to", async () => {
      const s = await setup({
        systemctl: 'echo "Failed to connect to bus: No medium found" >&2; exit 1',
      });
      const r = await s.service({ action: "install" });
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /"systemctl --user daemon-reload" failed \(exit 1\): Failed to connect to bus: No medium found\. There is no systemd user manager for this session/,
      );
    });

    it("leaves a unit it did not write alone, unless --force", async () => {
      const s = await setup();
      await mkdir(join(s.home, ".config", "systemd", "user"), { recursive: true });
      await writeFile(s.unitPath, "[Service]\nExecStart=/usr/bin/true\n");
      const refused = await s.service({ action: "install", serveArgv: ["--api-key", API_KEY] });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /Refusing to replace ".*qwen\.service": .* --force/);
      await assert.rejects(stat(s.envFilePath), { code: "ENOENT" });
      const notRemoved = await s.service({ action: "uninstall" });
      assert.equal(notRemoved.code, 1);
      assert.equal(await readFile(s.unitPath, "utf8"), "[Service]\nExecStart=/usr/bin/true\n");
      const forced = await s.service({ action: "install", force: true });
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(await readFile(s.unitPath, "utf8"), /^# Written by "qwen service install"/);
    });

    it("uninstalls the unit and keeps the env file; again is a no-op", async () => {
      const s = await setup();
      await s.service({ action: "install", serveArgv: ["--api-key", API_KEY] });
      const r = await s.service({ action: "uninstall" });
      assert.equal(r.code, 0, r.stderr);
      await assert.rejects(stat(s.unitPath), { code: "ENOENT" });
      assert.match(await readFile(s.envFilePath, "utf8"), /QWEN_SERVE_API_KEYS=/);
      assert.match(r.stdout, /Kept .*serve\.env/);
      assert.deepEqual((await s.programs.callsOf("systemctl")).slice(-2), [
        "--user disable --now qwen.service",
        "--user daemon-reload",
      ]);
      const again = await s.service({ action: "uninstall" });
      assert.equal(again.code, 0);
      assert.match(again.stdout, /Not installed/);
    });

    it("status: installed, what systemctl says, and /health on the unit's port", async () => {
      const s = await setup();
      const server = await startServer((request) =>
        new URL(request.url).pathname === "/health"
          ? Response.json({ status: "ok" })
          : new Response("no", { status: 404 })
      );
      try {
        await s.service({ action: "install", serveArgv: ["--port", String(server.port)] });
        const r = await s.service({ action: "status" });
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /^qwen\.service: installed, enabled, active$/m);
        assert.match(
          r.stdout,
          new RegExp(`Health: +http://127\\.0\\.0\\.1:${server.port}/health answered 200 \\(ok\\)`),
        );
      } finally {
        await server.close(true);
      }
      // Nothing listens there any more.
      const down = await s.service({ action: "status" });
      assert.equal(down.code, 1);
      assert.match(down.stdout, /Health: .*no answer/);
    });

    it("status reads the port from the env file, and says a stopped service is not ok", async () => {
      const s = await setup({ systemctl: `case "$2" in is-active) echo inactive;; esac` });
      const server = await startServer(() =>
        Response.json({ status: "unavailable", reason: "no credentials: run qwen auth" }, {
          status: 503,
        })
      );
      try {
        await s.service({ action: "install" });
        await writeFile(s.envFilePath, `QWEN_SERVE_PORT=${server.port}\n`);
        const r = await s.service({ action: "status" });
        assert.equal(r.code, 1);
        assert.match(r.stdout, /installed, unknown, inactive/);
        assert.match(r.stdout, /answered 503 \(no credentials: run qwen auth\)/);
      } finally {
        await server.close(true);
      }
      const none = await (await setup()).service({ action: "status" });
      assert.equal(none.code, 1);
      assert.match(none.stdout, /qwen\.service: not installed/);
    });

    it("logs: journalctl for the unit, its output passed through", async () => {
      const s = await setup({ journalctl: 'echo "line one"; echo "line two"' });
      const missing = await s.service({ action: "logs" });
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /not installed/);
      await s.service({ action: "install" });
      const r = await s.service({ action: "logs", lines: 5, follow: false });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "line one\nline two\n");
      const follow = await s.service({ action: "logs", lines: 50, follow: true });
      assert.equal(follow.code, 0);
      assert.deepEqual(await s.programs.callsOf("journalctl"), [
        "--user -u qwen.service -n 5 --no-pager",
        "--user -u qwen.service -n 50 -f",
      ]);
    });

    it("runs through the command line with the real host (status, logs, uninstall)", {
      skip: process.platform === "linux" ? false : "the real host is Linux only here",
    }, async () => {
      const s = await setup({ journalctl: 'echo "from journalctl"' });
      const env = { HOME: s.home, PATH: s.programs.path };
      const none = await runInProcess(["service", "status"], { env });
      assert.equal(none.code, 1);
      assert.match(none.stdout, /not installed/);
      await s.service({ action: "install" });
      const logs = await runInProcess(["service", "logs", "-n", "7", "--no-follow"], { env });
      assert.equal(logs.code, 0, logs.stderr);
      assert.equal(logs.stdout, "from journalctl\n");
      assert.deepEqual(await s.programs.callsOf("journalctl"), [
        "--user -u qwen.service -n 7 --no-pager",
      ]);
      const gone = await runInProcess(["service", "uninstall"], { env });
      assert.equal(gone.code, 0, gone.stderr);
      await assert.rejects(stat(s.unitPath), { code: "ENOENT" });
    });
  });

  describe("on macOS (launchd)", () => {
    const LABEL = "com.github.qwen-serve.qwen";
    /** launchctl that knows the agent once bootstrapped, and forgets it on bootout. */
    const launchctl = (dir: string) =>
      `state='${dir}/loaded'
case "$1" in
  print) [ -f "$state" ] || exit 113; printf '%s\\n' "gui/501/${LABEL} = {" "	state = running" "	pid = 4242" "}";;
  bootstrap) touch "$state";;
  bootout) rm -f "$state";;
esac`;

    it("writes the agent, bootstraps it in gui/<uid>, and reloads it unchanged", async () => {
      const s = await setup();
      await s.programs.define("launchctl", launchctl(s.programs.dir));
      const darwin = { platform: "darwin", uid: 501 };
      const r = await s.service(
        { action: "install", serveArgv: ["--port", "8089", "--api-key", API_KEY] },
        darwin,
      );
      assert.equal(r.code, 0, r.stderr);
      const plistPath = join(s.home, "Library", "LaunchAgents", `${LABEL}.plist`);
      const logPath = join(s.home, "Library", "Logs", "qwen", "serve.log");
      const plist = await readFile(plistPath, "utf8");
      assert.ok(!plist.includes(API_KEY));
      assert.deepEqual(readPlist(plist), {
        programArguments: [s.binary, "serve", "--env-file", s.envFilePath, "--port", "8089"],
        environment: {},
      });
      assert.match(plist, /<key>KeepAlive<\/key>/);
      assert.ok(plist.includes(`<key>StandardOutPath</key>\n  <string>${logPath}</string>`));
      assert.equal((await stat(s.envFilePath)).mode & 0o777, 0o600);
      assert.deepEqual(await s.programs.callsOf("launchctl"), [
        `print gui/501/${LABEL}`,
        `enable gui/501/${LABEL}`,
        `bootstrap gui/501 ${plistPath}`,
      ]);

      const again = await s.service({ action: "install", serveArgv: ["--port", "8089"] }, darwin);
      assert.equal(again.code, 0, again.stderr);
      assert.equal((await s.programs.callsOf("launchctl")).at(-1), `kill SIGHUP gui/501/${LABEL}`);

      const status = await s.service({ action: "status" }, darwin);
      assert.match(
        status.stdout,
        new RegExp(`^${LABEL}: installed, loaded, running, pid 4242$`, "m"),
      );

      await writeFile(logPath, "one\ntwo\nthree\n");
      const logs = await s.service({ action: "logs", lines: 2, follow: false }, darwin);
      assert.equal(logs.code, 0, logs.stderr);
      assert.equal(logs.stdout, "two\nthree\n");

      const gone = await s.service({ action: "uninstall" }, darwin);
      assert.equal(gone.code, 0, gone.stderr);
      await assert.rejects(stat(plistPath), { code: "ENOENT" });
      assert.equal((await s.programs.callsOf("launchctl")).at(-1), `bootout gui/501/${LABEL}`);
      // Its log and the env file stay.
      await stat(logPath);
      await stat(s.envFilePath);
    });

    it("gives the agent QWEN_HOME when it is set, and escapes XML", async () => {
      const s = await setup();
      await s.programs.define("launchctl", launchctl(s.programs.dir));
      const qwenHome = join(s.home, "a <b> & 'c'");
      const r = await s.service(
        { action: "install", serveArgv: ["--model-map", "x&y=<z>"] },
        { platform: "darwin" },
        { QWEN_HOME: qwenHome },
      );
      assert.equal(r.code, 0, r.stderr);
      const plist = await readFile(
        join(s.home, "Library", "LaunchAgents", `${LABEL}.plist`),
        "utf8",
      );
      assert.ok(plist.includes("x&amp;y=&lt;z&gt;"));
      assert.deepEqual(readPlist(plist)?.environment, { QWEN_HOME: qwenHome });
    });
  });

  describe("on Windows", () => {
    it("says it is not supported yet and gives the manual steps", async () => {
      const s = await setup();
      const r = await s.service({ action: "install" }, { platform: "win32" });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /does not support Windows yet/);
      assert.match(r.stderr, /schtasks \/Create \/TN qwen \/SC ONLOGON/);
      assert.deepEqual(await s.programs.calls(), []);
    });
  });

  describe("the compiled binary", () => {
    let binary: string;
    before(() => {
      binary = compiledBinary();
    });

    it("installs a unit that runs its own path", async () => {
      const s = await setup();
      const r = await runCli(["service", "install", "--", "--port", "8089"], {
        binary,
        env: { HOME: s.home, PATH: s.programs.path },
      });
      assert.equal(r.code, 0, r.stderr);
      const command = readUnitCommand(await readFile(s.unitPath, "utf8"));
      assert.equal(command?.binary, binary);
      assert.deepEqual(command?.args.slice(3), ["--port", "8089"]);
    });
  });
});
