/**
 * `qwen completions`: the bash script is loaded in a real bash and its completion function driven
 * with COMP_WORDS/COMP_CWORD; zsh, fish and PowerShell are not installed here, so their scripts
 * are checked for structure only. Every expectation is derived from the flag tables themselves
 * (through `synopsis`, the help's own spelling of a flag), never listed by hand.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { CommandShape } from "../../src/cli/command.ts";
import { completionScript, type Shell, SHELLS } from "../../src/cli/completions/script.ts";
import { type Flag, synopsis } from "../../src/cli/flags.ts";
import { commandTree } from "../../src/cli/run.ts";
import { SERVE_FLAGS } from "../../src/cli/serve-config.ts";
import { runInProcess } from "../helpers/fake-context.ts";

const ALL_SHELLS = Object.keys(SHELLS) as Shell[];

/** A command path of the tree and what the help says may follow it. */
interface Expected {
  key: string;
  children: string[];
  /** Every spelling of every flag, as the help shows them. */
  flags: string[];
  /** The flags that take a value: their spellings, and their choices or the kind of path. */
  valued: { words: string[]; choices?: readonly string[]; path?: "file" | "directory" }[];
}

/** `--qr, --no-qr` → ["--qr", "--no-qr"]; `-p, --port PORT` → ["-p", "--port"]. */
const spellings = (flag: Flag) => synopsis(flag).split(/[ ,]+/).filter((w) => w.startsWith("-"));

function expectations(shape: CommandShape, path: string[] = []): Expected[] {
  const subs = Object.entries(shape.subcommands ?? {});
  return [
    {
      key: path.join(" "),
      children: subs.map(([name]) => name),
      flags: shape.flags.flatMap(spellings),
      valued: shape.flags.filter((f) => f.type !== "boolean").map((f) => ({
        words: spellings(f),
        choices: f.choices,
        path: f.path,
      })),
    },
    ...subs.flatMap(([name, sub]) => expectations(sub, [...path, name])),
  ];
}

const execFileAsync = promisify(execFile);

/** Sources `script` in bash and runs its completion function once per line; one reply each. */
async function bashComplete(
  script: string,
  lines: readonly (readonly string[])[],
  fn = "_qwen",
): Promise<string[][]> {
  const dir = await mkdtemp(join(tmpdir(), "qwen-completion-"));
  try {
    const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
    await writeFile(join(dir, "script.bash"), script);
    await writeFile(
      join(dir, "driver.bash"),
      [
        `source ${quote(join(dir, "script.bash"))}`,
        `q() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=(); ${fn}; ` +
        `printf '%s\\n' "\${COMPREPLY[*]}"; }`,
        ...lines.map((words) => `q ${words.map(quote).join(" ")}`),
      ].join("\n"),
    );
    const { stdout } = await execFileAsync("bash", ["--norc", "--noprofile", "driver.bash"], {
      cwd: dir,
    });
    const replies = stdout.split("\n").slice(0, -1);
    assert.equal(replies.length, lines.length, `bash printed:\n${stdout}`);
    return replies.map((reply) => reply === "" ? [] : reply.split(" "));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const sorted = (words: readonly string[]) => [...words].sort();

/** Checks one shell's script for every command path, flag, choice and path flag of `tree`. */
function checkStructure(shell: Shell, script: string, tree: CommandShape, name = "qwen"): void {
  for (const node of expectations(tree)) {
    const where = `${shell}: "${node.key}"`;
    const has = (text: string, what: string) =>
      assert.ok(script.includes(text), `${where}: ${what} missing (looked for ${text})`);
    if (shell === "bash") {
      const line = script.split("\n").find((l) => l.startsWith(`    '${node.key}') children=`));
      assert.ok(line, `${where}: no line of words`);
      const list = (field: string) => new RegExp(` ${field}='([^']*)'`).exec(line)?.[1].split(" ");
      assert.deepEqual(sorted(list("children")!.filter(Boolean)), sorted(node.children), where);
      assert.deepEqual(sorted(list("flags")!.filter(Boolean)), sorted(node.flags), where);
      for (const v of node.valued) {
        const set = v.choices
          ? `kind=choices choices='${v.choices.join(" ")}'`
          : `kind=${v.path ?? "any"}`;
        valueLine(script, node.key, v.words, `) ${set} ;;`);
      }
    } else if (shell === "zsh") {
      const start = script.indexOf(`    ('${node.key}')\n`);
      assert.notEqual(start, -1, `${where}: no block`);
      const block = script.slice(start, script.indexOf("      ;;", start));
      for (const child of node.children) {
        assert.match(block, new RegExp(`children=\\(.*'${child}:`));
      }
      for (const flag of node.flags) assert.match(block, new RegExp(`flags=\\(.*'${flag}:`));
      for (const v of node.valued) {
        const set = v.choices
          ? `kind=choices choices=(${v.choices.map((c) => `'${c}'`).join(" ")})`
          : `kind=${v.path ?? "any"}`;
        valueLine(script, node.key, v.words, `) ${set} ;;`);
      }
    } else if (shell === "fish") {
      const at = `complete -c ${name} -n '__${name.replace(/\W/g, "_")}_at "${node.key}"'`;
      for (const child of node.children) has(`${at} -a ${child} -d `, "a sub-command");
      for (const flag of node.flags) {
        const option = flag.startsWith("--") ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`;
        const v = node.valued.find((v) => v.words.includes(flag));
        const argument = v === undefined
          ? ""
          : v.choices
          ? ` -x -a '${v.choices.join(" ")}'`
          : v.path === "file"
          ? " -r -F"
          : v.path === "directory"
          ? " -x -a '(__fish_complete_directories)'"
          : " -x";
        has(`${at} ${option}${argument} -d '`, "a flag");
      }
    } else {
      const start = script.indexOf(`        '${node.key}' = @{\n`);
      assert.notEqual(start, -1, `${where}: no block`);
      const block = script.slice(start, script.indexOf("        }", start));
      const field = (name: string) => new RegExp(`^ +${name} = @\\((.*)\\)$`, "m").exec(block)?.[1];
      for (const child of node.children) assert.ok(field("children")?.includes(`'${child}', '`));
      for (const flag of node.flags) {
        assert.ok(field("flags")?.includes(`'${flag}', '`), `${where}: ${flag} missing`);
      }
      for (const v of node.valued) {
        for (const word of v.words) {
          const kind = v.choices
            ? `'choices', '${v.choices.join(" ")}'`
            : `'${v.path ?? "any"}', ''`;
          assert.ok(field("values")?.includes(`'${word}', ${kind}`), `${where}: ${word} value`);
        }
      }
    }
  }
}

/** The `case` branch of the flag spelled `words` of command path `key`, ending in `end`. */
function valueLine(script: string, key: string, words: string[], end: string): void {
  const line = script.split("\n").find((l) => l.includes(`'${key}|${words[0]}'`));
  assert.ok(line, `no value line for "${key}" ${words[0]}`);
  for (const word of words) assert.ok(line.includes(`'${key}|${word}'`), `${line}: ${word}`);
  assert.ok(line.endsWith(end), `${line}: does not end with ${end}`);
}

/** The real tree with one more flag for serve, as a change to its table would make it. */
function withExtraServeFlag(tree: CommandShape, flag: Flag): CommandShape {
  const serve = tree.subcommands!.serve;
  return {
    ...tree,
    subcommands: { ...tree.subcommands, serve: { ...serve, flags: [...serve.flags, flag] } },
  };
}

describe("qwen completions", () => {
  let tree: CommandShape;
  let scripts: Record<Shell, string>;
  let files: string;

  before(async () => {
    tree = await commandTree();
    scripts = Object.fromEntries(
      await Promise.all(ALL_SHELLS.map(async (shell) => {
        const r = await runInProcess(["completions", shell]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, "");
        return [shell, r.stdout] as const;
      })),
    ) as Record<Shell, string>;
    files = await mkdtemp(join(tmpdir(), "qwen-completion-files-"));
    await writeFile(join(files, "serve.env"), "");
    await writeFile(join(files, "other.txt"), "");
    await mkdir(join(files, "sub"));
  });
  after(async () => {
    await rm(files, { recursive: true, force: true });
  });

  describe("bash, run in bash", () => {
    it("is registered for qwen and passes bash -n", async () => {
      assert.equal(
        (await bashRun(scripts.bash, "complete -p qwen")).trim(),
        "complete -F _qwen qwen",
      );
    });

    it("completes the commands, help's command names, and each command's sub-commands", async () => {
      const commands = Object.keys(tree.subcommands!);
      const [root, prefixed, help, completions] = await bashComplete(scripts.bash, [
        ["qwen", ""],
        ["qwen", "se"],
        ["qwen", "help", ""],
        ["qwen", "completions", ""],
      ]);
      assert.deepEqual(sorted(root), sorted(commands));
      assert.ok(commands.includes("serve") && commands.includes("completions"));
      assert.deepEqual(prefixed, commands.filter((c) => c.startsWith("se")));
      assert.deepEqual(sorted(help), sorted(commands.filter((c) => c !== "help")));
      assert.deepEqual(sorted(completions), sorted(ALL_SHELLS));
    });

    it("completes every flag of every command path, --no- forms and short ones included", async () => {
      const nodes = expectations(tree);
      const replies = await bashComplete(
        scripts.bash,
        nodes.map((n) => ["qwen", ...(n.key ? n.key.split(" ") : []), "-"]),
      );
      for (const [i, node] of nodes.entries()) {
        assert.deepEqual(sorted(replies[i]), sorted(node.flags), `flags of "${node.key}"`);
      }
      const serve = nodes.find((n) => n.key === "serve")!;
      assert.deepEqual(sorted(serve.flags), sorted(SERVE_FLAGS.flatMap(spellings)));
      assert.ok(serve.flags.includes("-p") && serve.flags.includes("--env-file"));
      const auth = nodes.find((n) => n.key === "auth")!;
      assert.ok(auth.flags.includes("--no-qr") && auth.flags.includes("--no-browser"));
      assert.ok(!auth.flags.includes("--browser"), "--browser is only negated");
    });

    it("offers flags where a command has no sub-commands, and none after --", async () => {
      const [serve, afterDashes] = await bashComplete(scripts.bash, [
        ["qwen", "serve", ""],
        ["qwen", "serve", "--", ""],
      ]);
      assert.deepEqual(sorted(serve), sorted(SERVE_FLAGS.flatMap(spellings)));
      assert.deepEqual(afterDashes, []);
    });

    it("completes the choices of every flag that has some, in each spelling", async () => {
      const cases = expectations(tree).flatMap((n) =>
        n.valued.filter((v) => v.choices).flatMap((v) =>
          v.words.map((word) => ({ words: [...(n.key ? n.key.split(" ") : []), word], v }))
        )
      );
      assert.ok(cases.some((c) => c.words.join(" ") === "serve --strategy"));
      const replies = await bashComplete(scripts.bash, cases.map((c) => ["qwen", ...c.words, ""]));
      for (const [i, c] of cases.entries()) {
        assert.deepEqual(replies[i], c.v.choices, c.words.join(" "));
      }
    });

    it("completes --strategy's choices in the --flag=value forms, and skips flag values", async () => {
      const [split, splitEmpty, joined, afterValue, port] = await bashComplete(scripts.bash, [
        ["qwen", "serve", "--strategy", "=", "f"],
        ["qwen", "serve", "--strategy", "="],
        ["qwen", "serve", "--strategy=r"],
        ["qwen", "serve", "--port", "8080", "--log-format", ""],
        ["qwen", "serve", "--port", ""],
      ]);
      assert.deepEqual(split, ["fill-first"]);
      assert.deepEqual(splitEmpty, ["round-robin", "fill-first"]);
      assert.deepEqual(joined, ["--strategy=round-robin"]);
      assert.deepEqual(afterValue, ["text", "json"]);
      assert.deepEqual(port, [], "a free value: nothing to offer");
    });

    it("completes files for --env-file", async () => {
      const [envFile, all] = await bashComplete(scripts.bash, [
        ["qwen", "serve", "--env-file", join(files, "se")],
        ["qwen", "serve", "--env-file", `${files}/`],
      ]);
      assert.deepEqual(envFile, [join(files, "serve.env")]);
      assert.deepEqual(
        sorted(all),
        sorted(["other.txt", "serve.env", "sub"].map((f) => join(files, f))),
      );
    });

    it("completes the name given with --name", async () => {
      const r = await runInProcess(["completions", "bash", "--name", "qwen-proxy"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        (await bashRun(r.stdout, "complete -p qwen-proxy")).trim(),
        "complete -F _qwen_proxy qwen-proxy",
      );
      const [serve] = await bashComplete(r.stdout, [["qwen-proxy", "sta"]], "_qwen_proxy");
      assert.deepEqual(serve, ["status"]);
    });
  });

  describe("every shell's script (zsh, fish and PowerShell are not run here)", () => {
    for (const shell of ALL_SHELLS) {
      it(`${shell}: every command path, flag, choice and path flag of the tables`, () => {
        checkStructure(shell, scripts[shell], tree);
      });
    }

    it("names the program given with --name", async () => {
      const expected: Record<Shell, string[]> = {
        bash: ["complete -F _qwen_proxy qwen-proxy\n"],
        zsh: ["#compdef qwen-proxy\n", "compdef _qwen_proxy qwen-proxy\n"],
        fish: [
          "complete -c qwen-proxy -f\n",
          `complete -c qwen-proxy -n '__qwen_proxy_at "serve"'`,
        ],
        powershell: ["-CommandName 'qwen-proxy' "],
      };
      for (const shell of ALL_SHELLS) {
        const r = await runInProcess(["completions", shell, "--name", "qwen-proxy"]);
        assert.equal(r.code, 0, r.stderr);
        for (const text of expected[shell]) assert.ok(r.stdout.includes(text), `${shell}: ${text}`);
        checkStructure(shell, r.stdout, tree, "qwen-proxy");
      }
    });

    it("changes in every shell when a flag is added to a table", async () => {
      const flag: Flag = {
        name: "frobnicate",
        short: "F",
        value: "HOW",
        choices: ["gently", "firmly"],
        help: "A flag no table has",
      };
      const changed = withExtraServeFlag(tree, flag);
      for (const shell of ALL_SHELLS) {
        const before = completionScript(shell, tree, "qwen");
        const after = completionScript(shell, changed, "qwen");
        assert.equal(before, scripts[shell], `${shell}: the command prints the same script`);
        assert.notEqual(after, before, shell);
        assert.ok(!before.includes("frobnicate"));
        checkStructure(shell, after, changed);
      }
      const [flags, choices] = await bashComplete(completionScript("bash", changed, "qwen"), [
        ["qwen", "serve", "--frob"],
        ["qwen", "serve", "-F", ""],
      ]);
      assert.deepEqual(flags, ["--frobnicate"]);
      assert.deepEqual(choices, ["gently", "firmly"]);
    });
  });

  describe("the command", () => {
    it("prints its usage on stderr with exit 2 without a shell, on stdout with --help", async () => {
      const none = await runInProcess(["completions"]);
      assert.equal(none.code, 2);
      assert.equal(none.stdout, "");
      assert.match(none.stderr, /^Usage: qwen completions bash\|zsh\|fish\|powershell/);
      const help = await runInProcess(["completions", "--help"]);
      assert.equal(help.code, 0);
      assert.equal(help.stdout, none.stderr);
      for (
        const place of [
          "~/.local/share/bash-completion/completions/qwen",
          "~/.config/fish/completions/qwen.fish",
          "$PROFILE",
          "_qwen",
        ]
      ) {
        assert.ok(help.stdout.includes(place), place);
      }
      assert.equal((await runInProcess(["completions", "fish", "--help"])).stdout, help.stdout);
    });

    it("names an unknown shell, a bad flag or a bad --name, with exit 2", async () => {
      const cases: [string[], RegExp][] = [
        [["completions", "tcsh"], /Unknown command "tcsh" for "qwen completions"/],
        [["completions", "--name", "x"], /Unknown flag "--name" for "qwen completions"/],
        [["completions", "bash", "--frob"], /Unknown flag "--frob" for "qwen completions bash"/],
        [
          ["completions", "bash", "--name", "qwen proxy"],
          /Invalid value "qwen proxy" for "--name"/,
        ],
        [
          ["completions", "zsh", "--name", "$(reboot)"],
          /Invalid value "\$\(reboot\)" for "--name"/,
        ],
      ];
      for (const [argv, message] of cases) {
        const r = await runInProcess(argv);
        assert.equal(r.code, 2, argv.join(" "));
        assert.equal(r.stdout, "");
        assert.match(r.stderr, message);
      }
    });
  });
});

/** Sources `script` in bash, then runs `command`; its stdout. */
async function bashRun(script: string, command: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "qwen-completion-"));
  try {
    await writeFile(join(dir, "script.bash"), script);
    // -n first: a syntax error anywhere fails here, not only in the branch a test reaches.
    await execFileAsync("bash", ["--norc", "--noprofile", "-n", "script.bash"], { cwd: dir });
    const { stdout } = await execFileAsync(
      "bash",
      ["--norc", "--noprofile", "-c", `source script.bash && ${command}`],
      { cwd: dir },
    );
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
