import { readFile } from "node:fs/promises";
import process from "node:process";
import { colorAllowed, type Context } from "../../lib/context.ts";
import { oauthCredentialsPath, qwenHome } from "../../credentials/paths.ts";
import {
  isTokenValid,
  type OAuthCredentials,
  readOAuthCredentials,
  writeOAuthCredentials,
} from "../../credentials/store.ts";
import { OAuthTokenSource } from "../../credentials/token-source.ts";
import { CancelledError, describeError, ExitCode, QwenError } from "../../lib/errors.ts";
import type { TokenResponse } from "../../oauth/client.ts";
import { hostOf } from "../../lib/text.ts";
import { oauthBaseUrl } from "../../oauth/constants.ts";
import { type DeviceCodePrompt, formatSeconds, runDeviceFlow } from "../../oauth/device-flow.ts";
import { runtime } from "../../runtime/mod.ts";
import { openBrowser } from "../../terminal/browser.ts";
import { renderQr } from "../../terminal/qr.ts";
import { type Style, styleFor } from "../../terminal/style.ts";
import { formatExpiry } from "../../terminal/time.ts";
import type { AuthDeps, AuthOptions } from "./options.ts";
import { accountLabel, checkAccountName, checkNoOtherKind, sayTo } from "./account-name.ts";

/**
 * The OAuth login: an existing valid token is kept without any network request; an expired one
 * is refreshed through the official lock; only when that is impossible (no file, an invalid
 * file, a refused refresh token) or with `--force` does a new device flow start. A file is
 * replaced only by a successful login, never before.
 */
export async function oauthLogin(
  options: AuthOptions,
  ctx: Context,
  deps: AuthDeps,
): Promise<number> {
  const style = styleFor(ctx);
  const say = sayTo(ctx);
  const account = options.account;
  const home = qwenHome(ctx.env);
  const path = oauthCredentialsPath(home, account);
  const label = accountLabel(account);

  checkAccountName(account, "oauth");
  await checkNoOtherKind(home, account, "oauth");

  if (!options.force) {
    const read = await readOAuthCredentials(path);
    switch (read.kind) {
      case "ok": {
        const now = ctx.now();
        if (isTokenValid(read.credentials, now)) {
          say(
            `${style.green("Already logged in")}${label}: the token is valid until ${
              formatExpiry(read.credentials.expiry_date, now)
            }.`,
          );
          say(style.dim(`Credentials: ${path}. Run "qwen auth --force" to log in again.`));
          return ExitCode.ok;
        }
        const refreshed = await refreshExpired(path, account, ctx, style, say);
        if (refreshed) {
          say(
            `${style.green("Token refreshed")}${label}: valid until ${
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
    }${label}. Saved the credentials to "${path}"; the token is valid until ${
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
  const say = sayTo(ctx);
  const url = prompt.verificationUriComplete ?? prompt.verificationUri;
  // A complete link carries the code: the page shows it, and the person only approves.
  const complete = prompt.verificationUriComplete !== undefined;
  say();
  say(
    `To log in to Qwen, open this page and ${complete ? "approve the request" : "enter the code"}:`,
  );
  say();
  say(`  ${style.bold(style.cyan(url))}`);
  say();
  say(
    `  Code: ${style.bold(prompt.userCode)}${
      complete ? "  (the page should show the same code)" : ""
    }`,
  );
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
    throw new QwenError(`Cannot save the credentials "${path}": ${describeError(error)}`, {
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
