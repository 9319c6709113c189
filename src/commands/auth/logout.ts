import { rm } from "node:fs/promises";
import { apiKeyPath, removeApiKeyFile } from "../../accounts/api-key-store.ts";
import { listEnvAccounts } from "../../accounts/env-accounts.ts";
import type { Context } from "../../lib/context.ts";
import { DEFAULT_ACCOUNT, oauthCredentialsPath, qwenHome } from "../../credentials/paths.ts";
import { describeError, ExitCode, QwenError } from "../../lib/errors.ts";
import { accountLabel, sayTo } from "./account-name.ts";

/** Removes the account's files, whatever their kind: the OAuth file and the key file. */
export async function logout(account: string, ctx: Context): Promise<number> {
  const say = sayTo(ctx);
  const home = qwenHome(ctx.env);
  const label = accountLabel(account);
  const oauthPath = oauthCredentialsPath(home, account);
  const keyPath = account === DEFAULT_ACCOUNT ? undefined : apiKeyPath(home, account);
  const removed: string[] = [];
  try {
    await rm(oauthPath);
    removed.push(oauthPath);
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") {
      throw new QwenError(`Cannot remove the credentials "${oauthPath}": ${describeError(error)}`);
    }
  }
  if (keyPath !== undefined) {
    try {
      if (await removeApiKeyFile(keyPath)) removed.push(keyPath);
    } catch (error) {
      throw new QwenError(`Cannot remove the API key file "${keyPath}": ${describeError(error)}`);
    }
  }
  if (removed.length === 0) {
    const env = listEnvAccounts(ctx.env).find((a) => a.name === account);
    if (env) {
      throw new QwenError(
        `Cannot remove account "${account}": its key comes from the environment variable "${env.envVar}"; unset it instead`,
      );
    }
    // Logging out is idempotent: the state asked for (no credentials) already holds. The name
    // alone does not tell which kind of account it was: both files it could have had are named.
    const looked = keyPath === undefined ? `"${oauthPath}"` : `"${keyPath}" nor "${oauthPath}"`;
    say(`Not logged in${label}: there is no ${looked} to remove.`);
    return ExitCode.ok;
  }
  say(`Logged out${label}: removed ${removed.map((p) => `"${p}"`).join(" and ")}.`);
  return ExitCode.ok;
}
