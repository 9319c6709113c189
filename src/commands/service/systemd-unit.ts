/**
 * The systemd user unit of `qwen service install`: one template, filled with the binary's path,
 * the serve flags, the env file and QWEN_HOME, each quoted as systemd reads that setting; and the
 * reading back of a unit we wrote (`status`, `upgrade`). docs/service.md explains each line.
 */
import { UsageError } from "../../lib/errors.ts";

/** The first line of every unit we write: install and uninstall touch no unit without it. */
export const UNIT_MARKER = '# Written by "qwen service install"';

const TEMPLATE = `${UNIT_MARKER}, which rewrites it when run again;
# "qwen service uninstall" removes it. Settings and keys: @ENV_FILE_COMMENT@
# (QWEN_SERVE_* and key variables such as DASHSCOPE_API_KEY), then
# "systemctl --user reload qwen.service".

[Unit]
Description=qwen serve: OpenAI-compatible API for Qwen
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
# --env-file reads the file again on reload; EnvironmentFile= gives it to the runtime at start
# (proxies, CA certificates).
ExecStart=@EXEC_START@
EnvironmentFile=-@ENV_FILE@
@ENVIRONMENT@# SIGHUP reads the env file and lists the accounts again; the server and its connections stay.
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2s
# Exit 2 is a configuration error (e.g. a public bind without a key): restarting cannot fix it.
RestartPreventExitStatus=2

# SIGTERM starts the drain: open requests (streams included) get --grace seconds (default 30).
KillSignal=SIGTERM
TimeoutStopSec=@STOP_TIMEOUT@

# One descriptor per connection and one per upstream call: the default 1024 is reached first.
LimitNOFILE=65536

# QWEN_HOME must exist for ReadWritePaths= below; it is created outside the sandbox ("+") so the
# service starts before the first "qwen auth" and picks the credentials up once they appear.
ExecStartPre=+/bin/mkdir -p -m 0700 @QWEN_HOME_ARG@

# Hardening: a read-only system and home, except the credentials directory, where refreshed
# tokens and the refresh lock are written (shared with the official Qwen Code CLI).
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths=@QWEN_HOME_PATH@
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictNamespaces=yes
SystemCallArchitectures=native
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
UMask=0077

[Install]
WantedBy=default.target
`;

interface UnitSpec {
  /** The binary's absolute path. */
  binary: string;
  /** The serve flags, `--env-file` not among them. */
  serveArgs: readonly string[];
  envFile: string;
  /** The credentials folder, writable by the service. */
  qwenHome: string;
  /** Whether QWEN_HOME was set (then the unit sets it too), or is the default ~/.qwen. */
  qwenHomeSet: boolean;
}

/** What stopping may take: the drain's --grace, and time for the state file after it. */
const DEFAULT_GRACE_S = 30;
const STOP_MARGIN_S = 15;

export function renderUnit(spec: UnitSpec): string {
  for (const value of [spec.binary, spec.envFile, spec.qwenHome, ...spec.serveArgs]) {
    if ([...value].some(isControl)) {
      throw new UsageError(
        `Cannot write "${[...value].map((c) => isControl(c) ? "?" : c).join("")}" into a ` +
          "systemd unit: it holds a control character (a line break, a tab), which a unit line " +
          "cannot carry",
      );
    }
  }
  const words = [spec.binary, "serve", "--env-file", spec.envFile, ...spec.serveArgs];
  const values: Record<string, string> = {
    ENV_FILE_COMMENT: spec.envFile,
    EXEC_START: words.map((word, i) => quoteWord(word, i > 0)).join(" "),
    ENV_FILE: escapeSpecifiers(spec.envFile),
    ENVIRONMENT: spec.qwenHomeSet
      ? `Environment=${quoteWord(`QWEN_HOME=${spec.qwenHome}`, false)}\n`
      : "",
    STOP_TIMEOUT: `${graceSeconds(spec.serveArgs) + STOP_MARGIN_S}s`,
    QWEN_HOME_ARG: quoteWord(spec.qwenHome, true),
    QWEN_HOME_PATH: quoteWord(spec.qwenHome, false),
  };
  return TEMPLATE.replace(/@([A-Z_]+)@/g, (_, name: string) => values[name]);
}

function isControl(c: string): boolean {
  const code = c.charCodeAt(0);
  return code < 0x20 || code === 0x7f;
}

/** `--grace N` among the flags, rounded up; else the default. */
function graceSeconds(args: readonly string[]): number {
  const at = args.lastIndexOf("--grace");
  const value = at === -1 ? NaN : Number(args[at + 1]);
  return Number.isFinite(value) ? Math.max(Math.ceil(value), DEFAULT_GRACE_S) : DEFAULT_GRACE_S;
}

/** Characters a word may hold unquoted: nothing systemd or a reader would take for syntax. */
const PLAIN_WORD = /^[A-Za-z0-9_@+=:,./*-]+$/;

/**
 * One word of a setting systemd splits into words (ExecStart=, Environment=, ReadWritePaths=):
 * quoted unless plain, `\` and `"` escaped, `%` doubled (specifiers), and in a command's
 * arguments `$` doubled (variables; the executable's own path is not expanded, so not there).
 */
function quoteWord(word: string, argument: boolean): string {
  let text = escapeSpecifiers(word);
  if (argument) text = text.replaceAll("$", "$$$$");
  if (PLAIN_WORD.test(word)) return text;
  // A lone ";" separates commands; escaped, it is a word.
  if (word === ";") return "\\;";
  return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

function escapeSpecifiers(text: string): string {
  return text.replaceAll("%", "%%");
}

/** What a unit we wrote runs, read back from its ExecStart=. */
interface UnitCommand {
  binary: string;
  /** Everything after the binary: `serve --env-file PATH ...`. */
  args: string[];
}

/** Reads the ExecStart= of a unit, undefined when it has none. Undoes what `quoteWord` does. */
export function readUnitCommand(unit: string): UnitCommand | undefined {
  const line = unit.split("\n").find((l) => l.startsWith("ExecStart="));
  if (line === undefined) return undefined;
  const words = splitWords(line.slice("ExecStart=".length));
  if (words.length === 0) return undefined;
  const [binary, ...rest] = words;
  return {
    binary: binary.replaceAll("%%", "%"),
    args: rest.map((word) => word.replaceAll("%%", "%").replaceAll("$$", "$")),
  };
}

/** The value of `Environment=QWEN_HOME=...` in a unit, if it sets one. */
export function readUnitQwenHome(unit: string): string | undefined {
  for (const line of unit.split("\n")) {
    if (!line.startsWith("Environment=")) continue;
    for (const word of splitWords(line.slice("Environment=".length))) {
      if (word.startsWith("QWEN_HOME=")) {
        return word.slice("QWEN_HOME=".length).replaceAll("%%", "%");
      }
    }
  }
  return undefined;
}

/** Splits at blanks outside quotes; a backslash takes the next character as it is. */
function splitWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length) {
      word = (word ?? "") + text[++i];
    } else if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= "";
    } else if (c === " " || c === "\t") {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}
