/** `qwen auth`: its flags and help; the login and the key storage are in commands/auth*. */
import { normalizeBaseUrl, PRESET_NAMES, presetFor, PRESETS } from "../accounts/providers.ts";
import type { AuthOptions } from "../commands/auth/options.ts";
import { ACCOUNT_NAME_RULE, DEFAULT_ACCOUNT, validateAccountName } from "../credentials/paths.ts";
import { CancelledError, ExitCode, UsageError } from "../lib/errors.ts";
import { flagCommand } from "./command.ts";
import { flagsHelp, type FlagTable, HELP_FLAG } from "./flags.ts";

const AUTH_FLAGS = [
  {
    name: "force",
    type: "boolean",
    help: "OAuth: start a new login even when the saved one still works.\n" +
      "API key: replace a key file that cannot be read",
  },
  {
    name: "account",
    value: "NAME",
    help: "OAuth: use oauth_creds_NAME.json instead of oauth_creds.json.\n" +
      "API key: the account name (default: the preset's name)\n" +
      `(NAME: ${ACCOUNT_NAME_RULE})`,
  },
  {
    name: "logout",
    type: "boolean",
    help: "Delete that account's file (OAuth or API key), and nothing else",
  },
  {
    name: "qr",
    type: "boolean",
    negatable: true,
    default: "shown when stderr is a terminal",
    help: "Show or hide the QR code",
  },
  {
    name: "browser",
    type: "boolean",
    negatable: "only",
    help: "Do not open the browser (also skipped with NO_BROWSER, CI, over SSH, and on Linux " +
      "without DISPLAY or WAYLAND_DISPLAY)",
  },
  {
    name: "provider",
    value: "PRESET",
    choices: PRESET_NAMES,
    help: "Store an API key instead of logging in with OAuth (presets below)",
  },
  {
    name: "base-url",
    value: "URL",
    help: 'Use this model API base instead of the preset\'s (needed by "custom")',
  },
  {
    name: "verify",
    type: "boolean",
    negatable: "only",
    help: "Store the key without checking it with a 1-token chat call",
  },
  HELP_FLAG,
] as const satisfies FlagTable;

const USAGE =
  `Log in to Qwen with the OAuth device flow (sharing the official Qwen Code CLI's file), or
store an API key for Alibaba Model Studio, the Coding Plan, OpenRouter or any OpenAI-compatible API

Usage:
  qwen auth [--force] [--account NAME] [--qr | --no-qr] [--no-browser]
  qwen auth --provider PRESET [--account NAME] [--base-url URL] [--no-verify] [--force]
  qwen auth --logout [--account NAME]

Flags:
${flagsHelp(AUTH_FLAGS)}

Presets (--provider):
${presetTable()}

The key is read, first match wins, from stdin when it is piped and not empty
(echo "$KEY" | qwen auth --provider dashscope), from the preset's variable above, or from a
hidden prompt in a terminal. It is never echoed: only its fingerprint (sk-sp-...9f2c) is shown.
Coding Plan keys start with "sk-sp-". The key is saved to QWEN_HOME/qwen_key_NAME.json (mode
0600), then checked with one 1-token chat call unless --no-verify; a refused key stays stored.

A valid saved OAuth token is kept without any network request; an expired one is refreshed.
Everything is written to stderr; stdout stays empty.

Exit codes: 0 logged in, key stored and verified (or logged out), 1 failure (login refused, code
expired, network), 2 usage (also: no key, a malformed key), 5 the upstream refused the stored
key, 130 cancelled with Ctrl+C.
Environment: QWEN_HOME (default ~/.qwen), QWEN_OAUTH_BASE_URL (default https://chat.qwen.ai),
NO_COLOR, NO_BROWSER, and the key variables above.
`;

function presetTable(): string {
  return PRESET_NAMES.map((name) => {
    const p = PRESETS[name];
    const env = p.keyEnv ? `  key: ${p.keyEnv}` : "";
    return `  ${name.padEnd(15)} ${p.label}\n  ${"".padEnd(15)} ${
      p.baseUrl ?? "(--base-url URL)"
    }${env}`;
  }).join("\n");
}

export const authCommand = flagCommand("qwen auth", AUTH_FLAGS, USAGE, async (values, ctx) => {
  // As it was typed: allowNegative turns "--no-qr" into qr: false.
  const flagName = (flag: "force" | "qr" | "browser" | "verify" | "base-url") =>
    values[flag] === false ? `--no-${flag}` : `--${flag}`;
  const refuse = (flag: Parameters<typeof flagName>[0], other: string) => {
    throw new UsageError(
      `Flag "${
        flagName(flag)
      }" cannot be combined with "${other}": run "qwen auth --help" for usage`,
    );
  };
  if (values.logout) {
    for (const flag of ["force", "qr", "browser", "verify", "base-url"] as const) {
      if (values[flag] !== undefined) refuse(flag, "--logout");
    }
  } else if (values.provider !== undefined) {
    for (const flag of ["qr", "browser"] as const) {
      if (values[flag] !== undefined) refuse(flag, "--provider");
    }
  } else {
    for (const flag of ["verify", "base-url"] as const) {
      if (values[flag] !== undefined) {
        throw new UsageError(
          `Flag "${flagName(flag)}" needs "--provider PRESET": run "qwen auth --help" for usage`,
        );
      }
    }
  }
  const preset = values.provider === undefined ? undefined : presetFor(values.provider);
  const options: AuthOptions = {
    force: values.force ?? false,
    // With --provider, the account is named after the preset unless --account says otherwise.
    account: values.account !== undefined
      ? validateAccountName(values.account)
      : (preset?.name ?? DEFAULT_ACCOUNT),
    logout: values.logout ?? false,
    qr: values.qr,
    browser: values.browser ?? true,
    provider: preset?.name,
    baseUrl: values["base-url"] === undefined
      ? undefined
      : normalizeBaseUrl(values["base-url"], `the flag "--base-url"`),
    verify: values.verify ?? true,
  };
  const { runAuth } = await import("../commands/auth.ts");
  try {
    return await runAuth(options, ctx);
  } catch (error) {
    if (error instanceof CancelledError) {
      ctx.stderr("Login cancelled; nothing was written.\n");
      return ExitCode.cancelled;
    }
    throw error;
  }
});
