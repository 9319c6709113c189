/**
 * Fake system programs (systemctl, launchctl, journalctl, loginctl, ...) for the tests of
 * `qwen service` and `qwen upgrade`: small sh scripts in a temporary folder put first on PATH,
 * each recording its name and arguments in a log file before doing what the test asked.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { Host } from "../../src/commands/host.ts";
import { runtime } from "../../src/runtime/mod.ts";

export interface FakePrograms {
  /** The folder holding the scripts: put it first on PATH. */
  readonly dir: string;
  /** PATH with `dir` first and the system's folders after it (sh, tail, mkdir). */
  readonly path: string;
  /** (Re)writes a program: `body` is sh run after the call was recorded ("$@" its arguments). */
  define(name: string, body?: string): Promise<void>;
  /** Every call so far, in order: the program's name, then its arguments. */
  calls(): Promise<string[][]>;
  /** The calls of one program, its arguments joined by spaces. */
  callsOf(name: string): Promise<string[]>;
  cleanup(): Promise<void>;
}

export async function fakePrograms(
  programs: Record<string, string> = {},
): Promise<FakePrograms> {
  const dir = await mkdtemp(join(tmpdir(), "qwen-fake-bin-"));
  const log = join(dir, "calls.log");
  await writeFile(log, "");
  const fake: FakePrograms = {
    dir,
    path: `${dir}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    async define(name, body = "") {
      const script = join(dir, name);
      // One line per call: the name and each argument, separated by tabs.
      await writeFile(
        script,
        `#!/bin/sh\n{ printf '%s' '${name}'; for a in "$@"; do printf '\\t%s' "$a"; done; ` +
          `printf '\\n'; } >> '${log}'\n${body}\n`,
      );
      await chmod(script, 0o755);
    },
    async calls() {
      const text = await readFile(log, "utf8");
      return text.split("\n").filter((line) => line !== "").map((line) => line.split("\t"));
    },
    async callsOf(name) {
      return (await fake.calls()).filter(([n]) => n === name).map(([, ...args]) => args.join(" "));
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  for (const [name, body] of Object.entries(programs)) await fake.define(name, body);
  return fake;
}

/**
 * The machine `qwen service` and `qwen upgrade` see: Linux x64, user 1000, running the compiled
 * binary at `binary`, with programs run for real (the fakes above come first on PATH).
 */
export function fakeHost(binary: string, overrides: Partial<Host> = {}): Host {
  return {
    platform: "linux",
    arch: "x64",
    uid: 1000,
    executable: { path: binary, compiled: true, runtime: "bun" },
    run: (command, args, options) => runtime.run(command, args, options),
    ...overrides,
  };
}
