import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../lib/errors.ts";

/** The name used for the official CLI's own file, `oauth_creds.json`. */
export const DEFAULT_ACCOUNT = "default";

/** An account name, as it also appears inside file names: `oauth_creds_<NAME>.json`. */
export const ACCOUNT_NAME = "[A-Za-z0-9_-]{1,64}";
/** What the rule says to a person. */
export const ACCOUNT_NAME_RULE = '1 to 64 letters, digits, "-" or "_"';
export const WHOLE_ACCOUNT_NAME = new RegExp(`^${ACCOUNT_NAME}$`);
const OAUTH_FILE_NAME = new RegExp(`^oauth_creds_(${ACCOUNT_NAME})\\.json$`);

/** `$QWEN_HOME`, else `~/.qwen`, as the official Qwen Code CLI. */
export function qwenHome(env: Readonly<Record<string, string | undefined>>): string {
  const fromEnv = env.QWEN_HOME;
  return fromEnv && fromEnv.trim() !== "" ? fromEnv : join(homedir(), ".qwen");
}

export function validateAccountName(name: string): string {
  if (!WHOLE_ACCOUNT_NAME.test(name)) {
    throw new UsageError(`Invalid account name "${name}": use ${ACCOUNT_NAME_RULE}`);
  }
  return name;
}

export function oauthCredentialsPath(home: string, account: string = DEFAULT_ACCOUNT): string {
  return join(
    home,
    account === DEFAULT_ACCOUNT
      ? "oauth_creds.json"
      : `oauth_creds_${validateAccountName(account)}.json`,
  );
}

/** The official CLI's refresh lock sits beside its file, same stem, `.lock`. */
export function lockPathFor(credentialsPath: string): string {
  return credentialsPath.replace(/\.json$/, "") + ".lock";
}

/** The account name for a credentials file name, or undefined when it is not one of ours. */
export function accountFromFileName(fileName: string): string | undefined {
  if (fileName === "oauth_creds.json") return DEFAULT_ACCOUNT;
  return OAUTH_FILE_NAME.exec(fileName)?.[1];
}
