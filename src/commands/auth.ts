/**
 * `qwen auth`: log in to Qwen with the OAuth device flow and save the credentials exactly as
 * the official Qwen Code CLI does, so both tools share one file.
 *
 * Everything it says goes to stderr; stdout stays empty so scripts can call it. The order of
 * business: an existing valid token is kept without any network request; an expired one is
 * refreshed through the official lock; only when that is impossible (no file, an invalid file,
 * a refused refresh token) or `--force` is given does a new device flow start. A file is
 * replaced only by a successful login, never before.
 */
import { readFile, rm } from "node:fs/promises";
import process from "node:process";
import type { Command } from "../cli.ts";
import { colorAllowed, type Context } from "../cli/context.ts";
import { parseFlags } from "../cli/flags.ts";
import {
  DEFAULT_ACCOUNT,
  oauthCredentialsPath,
  qwenHome,
  validateAccountName,
} from "../credentials/paths.ts";
import {
  isTokenValid,
  type OAuthCredentials,
  readOAuthCredentials,
  writeOAuthCredentials,
} from "../credentials/store.ts";
import { OAuthTokenSource } from "../credentials/token-source.ts";
import { CancelledError, ExitCode, QwenError, UsageError } from "../errors.ts";
import { hostOf, type TokenResponse } from "../oauth/client.ts";
import { oauthBaseUrl } from "../oauth/constants.ts";
import { type DeviceCodePrompt, formatSeconds, runDeviceFlow } from "../oauth/device-flow.ts";
import { runtime } from "../runtime/mod.ts";
import { type BrowserResult, openBrowser } from "../terminal/browser.ts";
import { renderQr } from "../terminal/qr.ts";
import { type Style, styleFor } from "../terminal/style.ts";
import { readHiddenLine } from "../terminal/hidden-prompt.ts";
import { reservedNameProblem } from "../accounts/accounts.ts";
import {
  type ApiKeyFile,
  apiKeyPath,
  KEY_FILE_VERSION,
  readApiKeyFile,
  removeApiKeyFile,
  writeApiKeyFile,
} from "../accounts/api-key-store.ts";
import { listEnvAccounts } from "../accounts/env-accounts.ts";
import {
  fingerprint,
  keyProblem,
  normalizeBaseUrl,
  PRESET_NAMES,
  presetFor,
  type PresetName,
  PRESETS,
  type ProviderPreset,
  resolveBaseUrl,
} from "../accounts/providers.ts";
import { defaultUserAgent } from "../upstream/headers.ts";

export const AUTH_HELP =
  `Log in to Qwen with the OAuth device flow (sharing the official Qwen Code CLI's file), or
store an API key for Alibaba Model Studio, the Coding Plan, OpenRouter or any OpenAI-compatible API

Usage:
  qwen auth [--force] [--account NAME] [--qr | --no-qr] [--no-browser]
  qwen auth --provider PRESET [--account NAME] [--base-url URL] [--no-verify] [--force]
  qwen auth --logout [--account NAME]

Flags:
      --force           OAuth: start a new login even when the saved one still works.
                        API key: replace a key file that cannot be read
      --account NAME    OAuth: use oauth_creds_NAME.json instead of oauth_creds.json.
                        API key: the account name (default: the preset's name)
                        (NAME: 1 to 64 letters, digits, "-" or "_")
      --logout          Delete that account's file (OAuth or API key), and nothing else
      --qr, --no-qr     Show or hide the QR code (default: shown when stderr is a terminal)
      --no-browser      Do not open the browser (also skipped with NO_BROWSER, CI, over SSH,
                        and on Linux without DISPLAY or WAYLAND_DISPLAY)
      --provider PRESET Store an API key instead of logging in with OAuth (presets below)
      --base-url URL    Use this model API base instead of the preset's (needed by "custom")
      --no-verify       Store the key without checking it with a 1-token chat call
  -h, --help            Show this help

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

export interface AuthOptions {
  /** Always start a new device flow; with a provider, replace an unreadable key file. */
  force: boolean;
  /** `default` for `oauth_creds.json`, else NAME for `oauth_creds_<NAME>.json`. */
  account: string;
  logout: boolean;
  /** true: show the QR code, false: hide it, undefined: show it when stderr is a terminal. */
  qr?: boolean;
  /** false with `--no-browser`. */
  browser: boolean;
  /** Store an API key for this preset instead of the OAuth login. */
  provider?: PresetName;
  /** Normalized `--base-url`, overriding the preset's URL. */
  baseUrl?: string;
  /** false with `--no-verify`: no probe after storing a key. Default true. */
  verify?: boolean;
}

export interface AuthDeps {
  /** Opens the verification URL; the default launches the real browser (or explains why not). */
  openUrl?(url: string, options: AuthOptions): Promise<BrowserResult>;
  /** Reads a key without echo from the terminal; the default uses stdin in raw mode. */
  readSecret?(prompt: string): Promise<string>;
}

export const authCommand: Command = {
  summary: "Log in to Qwen (OAuth device flow) or store an API key (--provider)",
  async run(argv, ctx) {
    const { values } = parseFlags("qwen auth", argv, {
      force: { type: "boolean" },
      account: { type: "string" },
      logout: { type: "boolean" },
      qr: { type: "boolean" },
      browser: { type: "boolean" },
      provider: { type: "string" },
      "base-url": { type: "string" },
      verify: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      ctx.stdout(AUTH_HELP);
      return ExitCode.ok;
    }
    const flagName = (flag: "force" | "qr" | "browser" | "verify" | "base-url") =>
      flag === "force" || flag === "base-url"
        ? `--${flag}`
        : values[flag]
        ? `--${flag}`
        : `--no-${flag}`;
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
    try {
      return await runAuth(options, ctx);
    } catch (error) {
      if (error instanceof CancelledError) {
        ctx.stderr("Login cancelled; nothing was written.\n");
        return ExitCode.cancelled;
      }
      throw error;
    }
  },
};

/** `qwen auth` without the flag parsing: returns the exit code, throws QwenErrors. */
export async function runAuth(
  options: AuthOptions,
  ctx: Context,
  deps: AuthDeps = {},
): Promise<number> {
  try {
    return await authenticate(options, ctx, deps);
  } catch (error) {
    if (ctx.signal.aborted && !(error instanceof CancelledError)) {
      throw new CancelledError("Login cancelled");
    }
    throw error;
  }
}

async function authenticate(options: AuthOptions, ctx: Context, deps: AuthDeps): Promise<number> {
  const style = styleFor(ctx);
  const say = (text: string) => ctx.stderr(`${text}\n`);
  const account = options.account;
  const path = oauthCredentialsPath(qwenHome(ctx.env), account);
  const accountLabel = account === DEFAULT_ACCOUNT ? "" : ` (account "${account}")`;

  if (options.logout) return await logout(account, ctx, say);
  if (options.provider !== undefined) return await storeApiKey(options, ctx, deps);

  const nameProblem = reservedNameProblem(account, "oauth");
  if (nameProblem) {
    throw new UsageError(`Cannot use the account name "${account}": ${nameProblem}`);
  }
  const keyFile = apiKeyPath(qwenHome(ctx.env), account);
  if ((await readApiKeyFile(keyFile)).kind !== "missing") {
    throw new UsageError(
      `Account "${account}" is already an API-key account ("${keyFile}"): choose another --account, or remove it first with "qwen auth --logout --account ${account}"`,
    );
  }

  if (!options.force) {
    const read = await readOAuthCredentials(path);
    switch (read.kind) {
      case "ok": {
        const now = ctx.now();
        if (isTokenValid(read.credentials, now)) {
          say(
            `${style.green("Already logged in")}${accountLabel}: the token is valid until ${
              formatExpiry(read.credentials.expiry_date, now)
            }.`,
          );
          say(style.dim(`Credentials: ${path}. Run "qwen auth --force" to log in again.`));
          return ExitCode.ok;
        }
        const refreshed = await refreshExpired(path, account, ctx, style, say);
        if (refreshed) {
          say(
            `${style.green("Token refreshed")}${accountLabel}: valid until ${
              formatExpiry(refreshed.expiry_date, ctx.now())
            }.`,
          );
          say(style.dim(`Credentials: ${path}`));
          return ExitCode.ok;
        }
        break;
      }
      case "invalid":
        say(
          `${
            style.yellow("The credentials file is invalid")
          }: "${path}": ${read.problem}. Starting a new login; the file is replaced only if it succeeds.`,
        );
        break;
      case "unreadable":
        throw new QwenError(`Cannot read the credentials "${path}": ${read.problem}`);
      case "missing":
        break;
    }
  }

  const baseUrl = oauthBaseUrl(ctx.env);
  const token = await runDeviceFlow({
    client: { baseUrl, fetch: ctx.fetch },
    now: ctx.now,
    sleep: ctx.sleep,
    signal: ctx.signal,
    onCode: (prompt) => showPrompt(prompt, options, ctx, style, deps),
    onSlowDown: (intervalMs) =>
      say(style.dim(`The server asked to slow down: polling every ${intervalMs / 1000} s.`)),
  });
  if (ctx.signal.aborted) throw new CancelledError("Login cancelled");
  const credentials = await saveLogin(path, token, ctx.now(), hostOf(baseUrl));
  say(
    `${
      style.green("Logged in")
    }${accountLabel}. Saved the credentials to "${path}"; the token is valid until ${
      formatExpiry(credentials.expiry_date, ctx.now())
    } and is refreshed when needed.`,
  );
  say(
    style.dim(
      "Note: Qwen ended its free OAuth tier on 2026-04-15; if model calls answer 401, use an API key upstream instead.",
    ),
  );
  return ExitCode.ok;
}

/** Removes the account's files, whatever their kind: the OAuth file and the key file. */
async function logout(
  account: string,
  ctx: Context,
  say: (text: string) => void,
): Promise<number> {
  const home = qwenHome(ctx.env);
  const accountLabel = account === DEFAULT_ACCOUNT ? "" : ` (account "${account}")`;
  const oauthPath = oauthCredentialsPath(home, account);
  const keyPath = account === DEFAULT_ACCOUNT ? undefined : apiKeyPath(home, account);
  const removed: string[] = [];
  try {
    await rm(oauthPath);
    removed.push(oauthPath);
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") {
      throw new QwenError(`Cannot remove the credentials "${oauthPath}": ${messageOf(error)}`);
    }
  }
  if (keyPath !== undefined) {
    try {
      if (await removeApiKeyFile(keyPath)) removed.push(keyPath);
    } catch (error) {
      throw new QwenError(`Cannot remove the API key file "${keyPath}": ${messageOf(error)}`);
    }
  }
  if (removed.length === 0) {
    const env = listEnvAccounts(ctx.env).find((a) => a.name === account);
    if (env) {
      throw new QwenError(
        `Cannot remove account "${account}": its key comes from the environment variable "${env.envVar}"; unset it instead`,
      );
    }
    // Logging out is idempotent: the state asked for (no credentials) already holds.
    say(`Not logged in${accountLabel}: there is no "${oauthPath}" to remove.`);
    return ExitCode.ok;
  }
  say(`Logged out${accountLabel}: removed ${removed.map((p) => `"${p}"`).join(" and ")}.`);
  return ExitCode.ok;
}

// ---- API keys ----

/**
 * `qwen auth --provider PRESET`: reads the key (stdin, the preset's variable, a hidden prompt),
 * checks its shape, stores it, and unless `--no-verify` checks it with one 1-token chat call.
 */
async function storeApiKey(options: AuthOptions, ctx: Context, deps: AuthDeps): Promise<number> {
  const style = styleFor(ctx);
  const say = (text: string) => ctx.stderr(`${text}\n`);
  const preset = PRESETS[options.provider!];
  const account = options.account;
  const nameProblem = reservedNameProblem(account, "api_key");
  if (nameProblem) {
    throw new UsageError(`Cannot use the account name "${account}": ${nameProblem}`);
  }
  const baseUrl = resolveBaseUrl(preset, options.baseUrl);
  const home = qwenHome(ctx.env);
  const oauthPath = oauthCredentialsPath(home, account);
  if ((await readOAuthCredentials(oauthPath)).kind !== "missing") {
    throw new UsageError(
      `Account "${account}" is already an OAuth login ("${oauthPath}"): choose another name with "--account NAME", or remove it first with "qwen auth --logout --account ${account}"`,
    );
  }

  const { key, from } = await readKey(preset, ctx, deps);
  const problem = keyProblem(preset, key);
  if (problem) {
    throw new UsageError(
      `Cannot use the key from ${from} for provider "${preset.name}": ${problem}; nothing was stored`,
    );
  }

  const path = apiKeyPath(home, account);
  const previous = await readApiKeyFile(path);
  if ((previous.kind === "invalid" || previous.kind === "unreadable") && !options.force) {
    throw new QwenError(
      `Cannot store the key: "${path}" exists but cannot be used (${previous.problem}); look at it, or run again with "--force" to replace it`,
    );
  }
  const file: ApiKeyFile = {
    version: KEY_FILE_VERSION,
    type: "api_key",
    provider: preset.name,
    base_url: baseUrl,
    api_key: key,
    created_at: new Date(ctx.now()).toISOString(),
  };
  try {
    await writeApiKeyFile(path, file);
  } catch (error) {
    throw new QwenError(`Cannot save the API key file "${path}": ${messageOf(error)}`);
  }
  const print = fingerprint(key);
  const replaced = previous.kind === "ok" && previous.file.api_key !== key
    ? ` (replacing ${fingerprint(previous.file.api_key)})`
    : "";
  say(
    `${
      style.green("Stored")
    } the ${preset.label} key ${print}${replaced} as account "${account}" in "${path}".`,
  );
  say(style.dim(`API base: ${baseUrl}`));
  if (options.verify === false) {
    say(style.dim('Not verified (--no-verify): run "qwen status --probe" to check it.'));
    return ExitCode.ok;
  }

  const { probe } = await import("../accounts/probe.ts");
  const { StoredKeyTokenSource } = await import("../accounts/api-key-source.ts");
  const outcome = await probe({
    name: account,
    source: new StoredKeyTokenSource(account, path),
    model: preset.modelMap["coder-model"] ?? "coder-model",
  }, {
    fetch: ctx.fetch,
    userAgent: defaultUserAgent(process.platform, process.arch),
    now: ctx.now,
    signal: ctx.signal,
  });
  if (outcome.result === "ok") {
    say(`${style.green("Verified")}: ${sentence(outcome.message)}`);
    return ExitCode.ok;
  }
  say(
    `${
      style.red(outcome.refused ? "Refused" : "Not verified")
    } (${outcome.result}): ${outcome.message}.`,
  );
  say(
    style.dim(
      `The account "${account}" stays stored; remove it with "qwen auth --logout --account ${account}", or check it again with "qwen status --probe --account ${account}".`,
    ),
  );
  return outcome.refused ? ExitCode.refused : ExitCode.failure;
}

/** The key, first match wins: piped stdin, the preset's variable, a hidden prompt. */
async function readKey(
  preset: ProviderPreset,
  ctx: Context,
  deps: AuthDeps,
): Promise<{ key: string; from: string }> {
  if (!ctx.stdinIsTTY) {
    const piped = (await ctx.readStdin())?.trim();
    if (piped) return { key: piped, from: "stdin" };
  }
  const fromEnv = preset.keyEnv ? ctx.env[preset.keyEnv]?.trim() : undefined;
  if (fromEnv) return { key: fromEnv, from: `the variable "${preset.keyEnv}"` };
  if (ctx.stdinIsTTY || deps.readSecret) {
    const read = deps.readSecret ?? ((prompt: string) =>
      readHiddenLine(prompt, {
        write: ctx.stderr,
        setRawMode: (on) => runtime.setRawMode(on),
        signal: ctx.signal,
      }));
    const typed = (await read(`Paste the ${preset.label} API key (input is hidden): `)).trim();
    if (typed) return { key: typed, from: "the prompt" };
    throw new UsageError(`No API key was typed for provider "${preset.name}"; nothing was stored`);
  }
  const env = preset.keyEnv ? `, set "${preset.keyEnv}"` : "";
  throw new UsageError(
    `No API key for provider "${preset.name}": pipe it on stdin (echo "$KEY" | qwen auth --provider ${preset.name})${env}, or run in a terminal to type it`,
  );
}

/**
 * Refreshes an expired token through the token source (and so through the official lock).
 * Returns the new credentials, or undefined when only a new login helps.
 */
async function refreshExpired(
  path: string,
  account: string,
  ctx: Context,
  style: Style,
  say: (text: string) => void,
): Promise<OAuthCredentials | undefined> {
  const source = new OAuthTokenSource({
    path,
    account,
    oauthBaseUrl: oauthBaseUrl(ctx.env),
    fetch: ctx.fetch,
    now: ctx.now,
    sleep: ctx.sleep,
  });
  say(style.dim("The saved token has expired; refreshing it..."));
  try {
    // No Ctrl+C signal here on purpose: refresh tokens rotate, so a refresh the server has
    // answered must reach the file, or the account is lost. It is bounded (lock back-off and
    // an 8 s request timeout); a second Ctrl+C still leaves at once.
    const result = await source.refresh();
    return result.credentials;
  } catch (error) {
    if (error instanceof QwenError) {
      switch (error.code) {
        case "needs_login":
          say(
            `${style.yellow("Cannot refresh the saved login")}: ${
              error.message.replace(/: run "qwen auth[^"]*" to log in again$/, "")
            }. Starting a new login.`,
          );
          return undefined;
        case "no_credentials":
        case "invalid_credentials":
          // The file changed under us (removed or rewritten): log in afresh.
          say(`${style.yellow("The saved login changed while refreshing")}: ${error.message}.`);
          return undefined;
      }
      const cause = error.cause instanceof Error ? error.cause.message : error.message;
      throw new QwenError(
        `Cannot refresh the expired token in "${path}": ${cause}; try again, or run "qwen auth --force" for a new login`,
        { cause: error },
      );
    }
    throw error;
  }
}

async function showPrompt(
  prompt: DeviceCodePrompt,
  options: AuthOptions,
  ctx: Context,
  style: Style,
  deps: AuthDeps,
): Promise<void> {
  const say = (text = "") => ctx.stderr(`${text}\n`);
  const url = prompt.verificationUriComplete ?? prompt.verificationUri;
  say();
  if (prompt.verificationUriComplete) {
    say("To log in to Qwen, open this page and approve the request:");
    say();
    say(`  ${style.bold(style.cyan(url))}`);
    say();
    say(`  Code: ${style.bold(prompt.userCode)}  (the page should show the same code)`);
  } else {
    say("To log in to Qwen, open this page and enter the code:");
    say();
    say(`  ${style.bold(style.cyan(url))}`);
    say();
    say(`  Code: ${style.bold(prompt.userCode)}`);
  }
  say();
  if (options.qr ?? ctx.stderrIsTTY) {
    ctx.stderr(renderQr(url, { color: colorAllowed(ctx) }));
    say();
  }
  const opener = deps.openUrl ?? defaultOpenUrl(ctx);
  const browser = await opener(url, options);
  if (browser.opened) say("Browser opened.");
  else say(style.dim(`Browser not opened (${browser.reason}): open the link above yourself.`));
  say(
    style.dim(
      `Waiting for approval (the code expires in ${
        formatSeconds(prompt.expiresIn)
      }; Ctrl+C to cancel)...`,
    ),
  );
}

function defaultOpenUrl(ctx: Context): NonNullable<AuthDeps["openUrl"]> {
  return (url, options) =>
    openBrowser(url, {
      platform: process.platform,
      env: ctx.env,
      noBrowser: !options.browser,
      runtime,
    });
}

/**
 * Writes the new login as the official CLI does (`access_token`, `refresh_token`,
 * `token_type`, `resource_url`, `expiry_date` in ms), keeping any other keys of the file
 * being replaced.
 */
async function saveLogin(
  path: string,
  token: TokenResponse,
  now: number,
  host: string,
): Promise<OAuthCredentials> {
  if (!token.refresh_token) {
    throw new QwenError(
      `Cannot save the login: "${host}" answered without a refresh token; run "qwen auth" again`,
      { code: "upstream_bad_response", status: 502 },
    );
  }
  const previous = await readJsonObject(path);
  const credentials: OAuthCredentials = {
    ...previous,
    access_token: token.access_token,
    refresh_token: token.refresh_token,
    token_type: token.token_type,
    resource_url: token.resource_url,
    expiry_date: now + token.expires_in * 1000,
  };
  if (credentials.resource_url === undefined) delete credentials.resource_url;
  try {
    await writeOAuthCredentials(path, credentials);
  } catch (error) {
    throw new QwenError(`Cannot save the credentials "${path}": ${messageOf(error)}`, {
      cause: error,
    });
  }
  return credentials;
}

/** The file's JSON object (to keep keys we do not know), or {} when there is none. */
async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  try {
    const json: unknown = JSON.parse(await readFile(path, "utf8"));
    if (typeof json === "object" && json !== null && !Array.isArray(json)) {
      return json as Record<string, unknown>;
    }
  } catch {
    // Missing or not JSON: nothing to keep.
  }
  return {};
}

/** Ends a message with a full stop unless it already ends with punctuation. */
function sentence(text: string): string {
  return /[.?!]$/.test(text) ? text : `${text}.`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** "2026-05-01 14:03 +02:00 (in 5 h 59 min)": local time with its offset, and how far off. */
export function formatExpiry(expiryMs: number, now: number): string {
  const d = new Date(expiryMs);
  const pad = (n: number) => String(n).padStart(2, "0");
  const offsetMin = -d.getTimezoneOffset();
  const sign = offsetMin >= 0 ? "+" : "-";
  const offset = `${sign}${pad(Math.floor(Math.abs(offsetMin) / 60))}:${
    pad(Math.abs(offsetMin) % 60)
  }`;
  const when = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${
    pad(d.getHours())
  }:${pad(d.getMinutes())} ${offset}`;
  const delta = expiryMs - now;
  const span = formatSpan(Math.abs(delta));
  return `${when} (${delta >= 0 ? `in ${span}` : `${span} ago`})`;
}

function formatSpan(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return "less than a minute";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours < 48) return rest ? `${hours} h ${rest} min` : `${hours} h`;
  return `${Math.floor(hours / 24)} days`;
}
