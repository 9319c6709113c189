/** `qwen status`: its flags and help; the work is done in commands/status.ts. */
import { validateAccountName } from "../credentials/paths.ts";
import { PROBE_RESULTS } from "../upstream/probe.ts";
import { flagCommand } from "./command.ts";
import { flagsHelp, type FlagTable, HELP_FLAG } from "./flags.ts";

const STATUS_FLAGS = [
  {
    name: "json",
    type: "boolean",
    help: "Print one JSON object (schema version 1) instead of text",
  },
  {
    name: "refresh",
    type: "boolean",
    help: "Refresh expired OAuth accounts first (through the official refresh lock)",
  },
  {
    name: "probe",
    type: "boolean",
    help: "Make one 1-token chat call per account and say what the upstream answered:\n" +
      PROBE_RESULTS.join(", "),
  },
  { name: "account", value: "NAME", help: 'Only this account ("default" is oauth_creds.json)' },
  HELP_FLAG,
] as const satisfies FlagTable;

const USAGE = `Usage: qwen status [--json] [--refresh] [--probe] [--account NAME]

Tell whether the stored Qwen logins and API keys can be used: OAuth files, API-key files
(qwen auth --provider) and keys in environment variables (DASHSCOPE_API_KEY and the like, as
accounts "env-<preset>"). Offline unless --refresh or --probe is given; never prints a token
or a key (only its fingerprint).

Flags:
${flagsHelp(STATUS_FLAGS)}

Exit codes (first match wins):
  0  at least one account is valid now (with --probe: some probe answered ok)
  5  with --probe: no probe answered ok and the upstream refused at least one
  4  an account is expired but has a refresh token (run "qwen status --refresh" or "qwen auth")
  1  a credentials file is unreadable or invalid (with --probe: also when no upstream answered)
  3  no credentials, or only accounts that need a new login ("qwen auth"), were rejected by
     the upstream or are cooling down after a quota answer

States: valid, expired, invalid, needs_login, and from what "qwen serve" learned (its state file
QWEN_HOME/qwen_state.json) cooling_down and rejected; a --probe that gets an answer clears both.
"qwen serve" tries a rejected account again with one request after its back-off ("Next try",
retry_at in --json): 30 s, doubling with each failed try up to 30 min.

Environment: QWEN_HOME (default ~/.qwen), QWEN_OAUTH_BASE_URL (used by --refresh), the key
variables BAILIAN_CODING_PLAN_API_KEY, BAILIAN_TOKEN_PLAN_API_KEY, DASHSCOPE_API_KEY,
OPENROUTER_API_KEY and their *_BASE_URL overrides.
`;

export const statusCommand = flagCommand(
  "qwen status",
  STATUS_FLAGS,
  USAGE,
  async (values, ctx) => {
    const { json = false, refresh = false, probe = false } = values;
    const account = values.account === undefined ? undefined : validateAccountName(values.account);
    const { runStatus } = await import("../commands/status.ts");
    return await runStatus({ json, refresh, probe, account }, ctx);
  },
);
