/**
 * `qwen serve --check`: everything `qwen serve` reads before it listens (cli/serve.ts reads the
 * flags, the environment and --env-file into the same ServeSetup; the accounts and their files
 * are listed as runServe lists them), then one line on what it would serve. It binds no port and
 * calls no host: its fetch refuses. `qwen upgrade` runs it with the service's flags before it
 * swaps binaries. What `qwen serve` would only log (no env file yet, an account not there yet, an
 * account that cannot be used) is a warning on stderr, and the exit is still 0: it would start.
 */
import { homeFolderWarning } from "../credentials/home-folder.ts";
import { qwenHome } from "../credentials/paths.ts";
import type { Context } from "../lib/context.ts";
import { ExitCode, QwenError } from "../lib/errors.ts";
import {
  firstListing,
  NO_ACCOUNTS_NOTE,
  serveAccountDeps,
  type ServeSetup,
  unknownAccountsNote,
} from "./serve.ts";

export async function runServeCheck(setup: ServeSetup, ctx: Context): Promise<number> {
  const { config, env } = setup;
  const home = qwenHome(env);
  const warn = (message: string) => ctx.stderr(`warning: ${message}\n`);
  if (setup.note) warn(setup.note);
  const noNetwork = () => Promise.reject(new QwenError("qwen serve --check calls no host"));
  const deps = serveAccountDeps(env, { fetch: noNetwork, now: ctx.now });
  const { accounts, unknown } = await firstListing(home, env, config.accounts, deps);
  const homeWarning = await homeFolderWarning(home);
  if (homeWarning) warn(homeWarning);
  if (unknown.length > 0) warn(unknownAccountsNote(unknown, home));
  if (accounts.length === 0) warn(NO_ACCOUNTS_NOTE);
  for (const account of accounts) {
    // From the file or variable alone; an expired OAuth token is refreshed on first use.
    const status = await account.source.state();
    if (status.state !== "valid" && status.state !== "expired") {
      warn(
        `account "${account.name}" cannot be used (${status.state})` +
          (status.problem ? `: ${status.problem}` : ""),
      );
    }
  }
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const port = config.port === 0 ? "<any free port>" : String(config.port);
  const keys = config.apiKeys.length;
  const names = accounts.map((a) => a.name).join(", ");
  ctx.stdout(
    `qwen serve would listen on http://${host}:${port}/v1` +
      (keys > 0 ? ` (${keys} API key${keys === 1 ? "" : "s"})` : "") +
      (accounts.length === 0
        ? " with no accounts yet\n"
        : ` with ${accounts.length} account${accounts.length === 1 ? "" : "s"} ` +
          `(${config.strategy}): ${names}\n`),
  );
  return ExitCode.ok;
}
