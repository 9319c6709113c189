/**
 * `qwen service ACTION [flags] [-- serve flags]`: its actions, flags and help. The work is done in
 * commands/service/.
 */
import type { ServiceAction } from "../commands/service/service.ts";
import { ExitCode, UsageError } from "../lib/errors.ts";
import type { Command } from "./command.ts";
import { flagsHelp, type FlagTable, HELP_FLAG, parseFlags } from "./flags.ts";
import { serveSettings } from "./service-settings.ts";

const SERVICE_ACTIONS = ["install", "uninstall", "status", "logs"] as const;

const DEFAULT_LINES = 50;

const SERVICE_FLAGS = [
  {
    name: "force",
    type: "boolean",
    help: "install, uninstall: replace or remove a unit (agent) that install did not write",
  },
  {
    name: "lines",
    short: "n",
    value: "N",
    default: String(DEFAULT_LINES),
    help: "logs: how many past lines to print",
  },
  {
    name: "follow",
    type: "boolean",
    negatable: "only",
    help: "logs: print the past lines and stop instead of following the log",
  },
  HELP_FLAG,
] as const satisfies FlagTable;

/** Which action each flag belongs to. */
const FLAG_ACTIONS: Record<string, readonly ServiceAction[]> = {
  force: ["install", "uninstall"],
  lines: ["logs"],
  follow: ["logs"],
};

const USAGE = `Usage: qwen service install [--force] [-- SERVE FLAGS]
       qwen service uninstall [--force]
       qwen service status
       qwen service logs [-n N] [--no-follow]

Runs "qwen serve" in the background as your user, started at login and again when it fails:
a systemd user unit on Linux, a launchd agent on macOS. Windows is not supported yet ("install"
prints the manual steps). Run it from the compiled binary: the service runs that binary.

Actions:
  install    Write the unit (agent) and the env file, enable it and (re)start it. Flags after
             "--" are "qwen serve" flags: "qwen service install -- --port 8080 --api-key KEY".
             API keys go to the env file (mode 0600), never into the unit; so do key
             variables (DASHSCOPE_API_KEY, ...) set in this shell. Again: updates in place.
  uninstall  Stop the service and remove the unit (agent); the env file and logs stay.
  status     Installed? Running? And what its GET /health answers. Exit 0 only when it runs
             and /health answers 200, else 1.
  logs       Its log: journalctl on Linux, the log file on macOS; follows it until Ctrl+C.

Flags:
${flagsHelp(SERVICE_FLAGS)}

Files: ~/.config/systemd/user/qwen.service (Linux), ~/Library/LaunchAgents/*.plist and
~/Library/Logs/qwen/serve.log (macOS), ~/.config/qwen/serve.env (both; edit it, then
"systemctl --user reload qwen.service" or "qwen service install" again). XDG_CONFIG_HOME
replaces ~/.config; QWEN_HOME, when set, is given to the service.
`;

const SUMMARIES: Record<ServiceAction, string> = {
  install: "Write the unit (agent) and the env file, enable and (re)start it",
  uninstall: "Stop the service and remove the unit (agent)",
  status: "Installed? Running? And what its /health answers",
  logs: "Its log, followed",
};

export const serviceCommand: Command = {
  flags: [HELP_FLAG],
  // Each action with the flags that are for it, for shell completions.
  subcommands: Object.fromEntries(SERVICE_ACTIONS.map((action) => [action, {
    summary: SUMMARIES[action],
    flags: SERVICE_FLAGS.filter((flag) =>
      flag.name === "help" || FLAG_ACTIONS[flag.name]?.includes(action)
    ),
  }])),
  async run(argv, ctx) {
    const dash = argv.indexOf("--");
    const own = dash === -1 ? argv : argv.slice(0, dash);
    const serveArgv = dash === -1 ? [] : argv.slice(dash + 1);
    const [action, ...rest] = own;
    if (action === undefined) {
      ctx.stderr(USAGE);
      return ExitCode.usage;
    }
    if (action === "-h" || action === "--help" || action === "help") {
      ctx.stdout(USAGE);
      return ExitCode.ok;
    }
    if (!isAction(action)) {
      throw new UsageError(
        `Unknown action "${action}" for "qwen service": use ${
          SERVICE_ACTIONS.map((a) => `"${a}"`).join(", ")
        }`,
      );
    }
    const command = `qwen service ${action}`;
    const values = parseFlags(command, rest, SERVICE_FLAGS);
    if (values.help) {
      ctx.stdout(USAGE);
      return ExitCode.ok;
    }
    for (const [flag, actions] of Object.entries(FLAG_ACTIONS)) {
      if (values[flag as keyof typeof values] !== undefined && !actions.includes(action)) {
        throw new UsageError(`Flag "--${flag}" is not for "${command}": see "qwen service --help"`);
      }
    }
    if (dash !== -1 && action !== "install") {
      throw new UsageError(`"${command}" takes no "qwen serve" flags after "--"`);
    }
    const linesText = values.lines ?? String(DEFAULT_LINES);
    if (!/^\d+$/.test(linesText.trim())) {
      throw new UsageError(`Invalid value "${linesText}" for "--lines": expected a whole number`);
    }
    const lines = Number(linesText);
    const [{ runService }, { systemHost }] = await Promise.all([
      import("../commands/service/service.ts"),
      import("../commands/host.ts"),
    ]);
    return await runService(
      {
        action,
        serveArgv,
        force: values.force ?? false,
        lines,
        follow: values.follow ?? true,
      },
      ctx,
      systemHost(),
      serveSettings,
    );
  },
};

function isAction(name: string): name is ServiceAction {
  return (SERVICE_ACTIONS as readonly string[]).includes(name);
}
