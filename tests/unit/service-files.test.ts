/**
 * The pieces of `qwen service` files that must read back as written: words of a unit line as
 * systemd splits them, env file lines as `qwen serve --env-file` reads them, and the agent's XML.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EnvFile } from "../../src/cli/env-file.ts";
import { updateEnvFile } from "../../src/commands/service/env-file-update.ts";
import { readPlist, renderPlist } from "../../src/commands/service/launchd-plist.ts";
import { readUnitCommand, renderUnit } from "../../src/commands/service/systemd-unit.ts";
import { tempHome } from "../helpers/run-cli.ts";

const AWKWARD = [
  "plain",
  "with space",
  'a "quoted" word',
  "back\\slash",
  "100%",
  "$HOME",
  "${HOME}",
  "it's",
  ";",
  "",
  "claude-*=qwen3-max",
  "#not-a-comment",
];

describe("service files", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  it("quotes unit words so that they read back the same", () => {
    const unit = renderUnit({
      binary: "/opt/my qwen/100%/qwen$1",
      serveArgs: AWKWARD,
      envFile: "/home/a b/.config/qwen/serve.env",
      qwenHome: "/home/a b/.qwen",
      qwenHomeSet: false,
    });
    assert.deepEqual(readUnitCommand(unit), {
      binary: "/opt/my qwen/100%/qwen$1",
      args: ["serve", "--env-file", "/home/a b/.config/qwen/serve.env", ...AWKWARD],
    });
  });

  it("doubles % everywhere and $ in arguments only, as systemd expands them", () => {
    const unit = renderUnit({
      binary: "/bin/$x/50%",
      serveArgs: ["/a/b", "50%", "$X", 'say "hi"', ";"],
      envFile: "/e",
      qwenHome: "/q",
      qwenHomeSet: false,
    });
    assert.match(
      unit,
      /^ExecStart="\/bin\/\$x\/50%%" serve --env-file \/e \/a\/b "50%%" "\$\$X" "say \\"hi\\"" \\;$/m,
    );
  });

  it("refuses a control character, which no unit line can carry", () => {
    assert.throws(
      () =>
        renderUnit({
          binary: "/bin/qwen",
          serveArgs: ["--allow-host", "a\nExecStartPre=/bin/evil"],
          envFile: "/e",
          qwenHome: "/q",
          qwenHomeSet: false,
        }),
      /Cannot write "a\?ExecStartPre=\/bin\/evil" into a systemd unit: it holds a control character/,
    );
  });

  it("writes env file values that qwen serve --env-file reads back the same", async () => {
    const { home, cleanup } = await tempHome();
    cleanups.push(cleanup);
    const values: Record<string, string> = {
      QWEN_SERVE_API_KEYS: "key-1,key-2",
      A: "with space",
      B: 'quote " and \\ and $HOME and `x`',
      C: "it's # not a comment",
      D: "",
    };
    const path = join(home, "serve.env");
    assert.deepEqual(await updateEnvFile(path, values), { created: true, changed: true });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual((await new EnvFile(path).apply({})).env, values);
    assert.deepEqual(await updateEnvFile(path, values), { created: false, changed: false });
  });

  it("replaces a variable's line in place, with the lines it continued, and keeps the rest", async () => {
    const { home, cleanup } = await tempHome();
    cleanups.push(cleanup);
    const path = join(home, "serve.env");
    await writeFile(path, "# top\nA=1\nB=old \\\n  continued\nC=3\nB=duplicate\n");
    await updateEnvFile(path, { B: "new", D: "4" });
    assert.equal(await readFile(path, "utf8"), "# top\nA=1\nB=new\nC=3\nD=4\n");
  });

  it("escapes the agent's XML and reads it back", () => {
    const plist = renderPlist({
      label: "com.example.qwen",
      programArguments: ["/a&b/qwen", "serve", "<x>", `"y" 'z'`],
      environment: { QWEN_HOME: "/h&<>" },
      log: "/l/serve.log",
    });
    assert.ok(!/<string>[^<]*[&][^a-z#][^<]*<\/string>/.test(plist));
    assert.deepEqual(readPlist(plist), {
      programArguments: ["/a&b/qwen", "serve", "<x>", `"y" 'z'`],
      environment: { QWEN_HOME: "/h&<>" },
    });
  });
});
