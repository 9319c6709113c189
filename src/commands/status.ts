/**
 * `qwen status`: whether the stored logins can be used, for people and for scripts. Offline by
 * default (the file alone decides); `--refresh` refreshes expired accounts first, through the
 * official lock. Exit codes, first match wins: 0 some account valid, 4 some expired, 1 some
 * file invalid or unreadable, 3 otherwise.
 */
import type { Command } from "../cli.ts";
import type { Context } from "../cli/context.ts";
import { parseFlags } from "../cli/flags.ts";
import { describeError, ExitCode, QwenError } from "../errors.ts";
import { type AccountFile, listOAuthAccounts } from "../credentials/accounts.ts";
import { baseUrlFromResourceUrl } from "../credentials/base-url.ts";
import {
  DEFAULT_ACCOUNT,
  oauthCredentialsPath,
  qwenHome,
  validateAccountName,
} from "../credentials/paths.ts";
import { isTokenValid, readOAuthCredentials } from "../credentials/store.ts";
import { oauthBaseUrl } from "../oauth/constants.ts";

export const STATUS_USAGE = `Usage: qwen status [--json] [--refresh] [--account NAME]

Tell whether the stored Qwen logins can be used. Offline unless --refresh is given; never
prints a token.

Flags:
      --json          Print one JSON object (schema version 1) instead of text
      --refresh       Refresh expired accounts first (through the official refresh lock)
      --account NAME  Only this account ("default" is oauth_creds.json)
  -h, --help          Show this help

Exit codes (first match wins):
  0  at least one account is valid now
  4  an account is expired but has a refresh token (run "qwen status --refresh" or "qwen auth")
  1  a credentials file is unreadable or invalid
  3  no credentials, or only accounts that need a new login ("qwen auth")

Environment: QWEN_HOME (default ~/.qwen), QWEN_OAUTH_BASE_URL (used by --refresh).
`;

export interface StatusOptions {
  json: boolean;
  refresh: boolean;
  /** Only this account. */
  account?: string;
}

export type AccountStateName = "valid" | "expired" | "invalid" | "needs_login";

/** One entry of `accounts` in `status --json`. Fields may be added later, never renamed. */
export interface AccountReport {
  name: string;
  type: "oauth";
  file: string;
  state: AccountStateName;
  expiry_date: number | null;
  expires_at: string | null;
  expires_in_s: number | null;
  resource_url: string | null;
  base_url: string | null;
  error: string | null;
}

export interface StatusReport {
  version: 1;
  home: string;
  usable: boolean;
  accounts: AccountReport[];
}

export const statusCommand: Command = {
  summary: "Tell whether the login can be used (exit codes, --json)",
  async run(argv, ctx) {
    const { values } = parseFlags("qwen status", argv, {
      json: { type: "boolean", default: false },
      refresh: { type: "boolean", default: false },
      account: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    });
    if (values.help) {
      ctx.stdout(STATUS_USAGE);
      return ExitCode.ok;
    }
    const account = values.account === undefined ? undefined : validateAccountName(values.account);
    return await runStatus(
      { json: values.json === true, refresh: values.refresh === true, account },
      ctx,
    );
  },
};

export async function runStatus(options: StatusOptions, ctx: Context): Promise<number> {
  const home = qwenHome(ctx.env);
  let files: AccountFile[];
  let homeProblem: string | undefined;
  try {
    files = options.account === undefined
      ? await listOAuthAccounts(home)
      : await selectAccount(home, options.account);
  } catch (error) {
    files = [];
    homeProblem = `Cannot list the accounts in "${home}": ${(error as Error).message ?? error}`;
  }

  const accounts: AccountReport[] = [];
  for (const file of files) {
    let report = await inspect(file, ctx.now());
    if (report === undefined) continue;
    if (options.refresh && report.state === "expired") {
      report = await refreshAccount(file, report, ctx);
    }
    accounts.push(report);
  }

  const report: StatusReport = {
    version: 1,
    home,
    usable: accounts.some((a) => a.state === "valid"),
    accounts,
  };
  const code = homeProblem ? ExitCode.failure : exitCodeFor(accounts);

  if (homeProblem) ctx.stderr(`error: ${homeProblem}\n`);
  if (options.json) {
    ctx.stdout(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    ctx.stdout(renderText(report, options, ctx.now()));
  }
  if (options.account !== undefined && files.length === 0 && !homeProblem) {
    ctx.stderr(
      `No credentials for account "${options.account}" in "${home}": run "${
        authCommand(options.account)
      }" to log in\n`,
    );
  }
  return code;
}

/** First match wins: 0 valid, 4 expired, 1 invalid, 3 otherwise. */
export function exitCodeFor(accounts: Pick<AccountReport, "state">[]): number {
  if (accounts.some((a) => a.state === "valid")) return ExitCode.ok;
  if (accounts.some((a) => a.state === "expired")) return ExitCode.expired;
  if (accounts.some((a) => a.state === "invalid")) return ExitCode.failure;
  return ExitCode.notAuthenticated;
}

async function selectAccount(home: string, account: string): Promise<AccountFile[]> {
  const file = oauthCredentialsPath(home, account);
  const read = await readOAuthCredentials(file);
  return read.kind === "missing" ? [] : [{ type: "oauth", name: account, file }];
}

function emptyReport(file: AccountFile): AccountReport {
  return {
    name: file.name,
    type: file.type,
    file: file.file,
    state: "invalid",
    expiry_date: null,
    expires_at: null,
    expires_in_s: null,
    resource_url: null,
    base_url: null,
    error: null,
  };
}

async function inspect(file: AccountFile, now: number): Promise<AccountReport | undefined> {
  const report = emptyReport(file);
  const read = await readOAuthCredentials(file.file);
  switch (read.kind) {
    case "missing":
      // Deleted between listing and reading: no longer an account.
      return undefined;
    case "invalid":
    case "unreadable":
      return { ...report, state: "invalid", error: read.problem };
  }
  const c = read.credentials;
  return {
    ...report,
    state: isTokenValid(c, now) ? "valid" : "expired",
    expiry_date: c.expiry_date,
    expires_at: isoOrNull(c.expiry_date),
    expires_in_s: Math.floor((c.expiry_date - now) / 1000),
    resource_url: c.resource_url ?? null,
    base_url: baseUrlFromResourceUrl(c.resource_url),
  };
}

async function refreshAccount(
  file: AccountFile,
  before: AccountReport,
  ctx: Context,
): Promise<AccountReport> {
  // Loaded only here: plain `qwen status` stays offline and light.
  const { OAuthTokenSource } = await import("../credentials/token-source.ts");
  const source = new OAuthTokenSource({
    path: file.file,
    account: file.name,
    oauthBaseUrl: oauthBaseUrl(ctx.env),
    fetch: ctx.fetch,
    now: () => ctx.now(),
    sleep: ctx.sleep,
  });
  try {
    const { refreshed } = await source.refresh({ signal: ctx.signal });
    const after = (await inspect(file, ctx.now())) ?? before;
    ctx.stderr(
      refreshed
        ? `Refreshed account "${file.name}".\n`
        : `Account "${file.name}" was already refreshed by another process.\n`,
    );
    return after;
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    // Reported in the account, so that --json still prints its one object.
    const message = error instanceof QwenError ? error.message : describeError(error);
    ctx.stderr(`error: ${message}\n`);
    if (error instanceof QwenError && error.code === "needs_login") {
      return { ...before, state: "needs_login", error: message };
    }
    const after = (await inspect(file, ctx.now())) ?? before;
    return { ...after, error: after.error ?? message };
  }
}

function isoOrNull(ms: number): string | null {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

function authCommand(account: string): string {
  return account === DEFAULT_ACCOUNT ? "qwen auth" : `qwen auth --account ${account}`;
}

// ---- text output ----

function renderText(report: StatusReport, options: StatusOptions, now: number): string {
  const lines = [`Qwen home: ${report.home}`];
  if (report.accounts.length === 0) {
    if (options.account === undefined) {
      lines.push(`No Qwen credentials found: run "qwen auth" to log in.`);
    }
    return lines.join("\n") + "\n";
  }
  for (const a of report.accounts) {
    lines.push("", `Account "${a.name}" (${a.type}): ${describeState(a.state)}`);
    lines.push(`  File:      ${a.file}`);
    if (a.expiry_date !== null) {
      lines.push(
        `  Expires:   ${localTime(a.expiry_date)} (${relative(a.expiry_date - now)})`,
      );
    }
    if (a.resource_url !== null) lines.push(`  Resource:  ${a.resource_url}`);
    if (a.base_url !== null) lines.push(`  API base:  ${a.base_url}`);
    if (a.error !== null) lines.push(`  Problem:   ${a.error}`);
    const hint = hintFor(a);
    if (hint) lines.push(`  Next:      ${hint}`);
  }
  const valid = report.accounts.filter((a) => a.state === "valid").length;
  lines.push(
    "",
    `Usable: ${report.usable ? "yes" : "no"} (${valid} of ${report.accounts.length} ${
      report.accounts.length === 1 ? "account" : "accounts"
    } valid)`,
  );
  return lines.join("\n") + "\n";
}

function describeState(state: AccountStateName): string {
  switch (state) {
    case "valid":
      return "valid";
    case "expired":
      return "expired (refreshable)";
    case "invalid":
      return "invalid";
    case "needs_login":
      return "needs a new login";
  }
}

function hintFor(a: AccountReport): string | undefined {
  switch (a.state) {
    case "expired":
      return `run "qwen status --refresh" or "${authCommand(a.name)}"`;
    case "invalid":
    case "needs_login":
      return `run "${authCommand(a.name)}" to log in again`;
  }
  return undefined;
}

/** `2026-05-01 14:03:22 +02:00`, in the local time zone. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${
    pad(d.getMinutes())
  }:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** `in 5 h 59 min`, `3 min ago`, `in 42 s`. */
export function relative(deltaMs: number): string {
  const seconds = Math.round(Math.abs(deltaMs) / 1000);
  let text: string;
  if (seconds < 60) text = `${seconds} s`;
  else if (seconds < 3600) text = `${Math.floor(seconds / 60)} min`;
  else if (seconds < 86_400) {
    const m = Math.floor((seconds % 3600) / 60);
    text = `${Math.floor(seconds / 3600)} h${m ? ` ${m} min` : ""}`;
  } else {
    const h = Math.floor((seconds % 86_400) / 3600);
    text = `${Math.floor(seconds / 86_400)} d${h ? ` ${h} h` : ""}`;
  }
  return deltaMs >= 0 ? `in ${text}` : `${text} ago`;
}
