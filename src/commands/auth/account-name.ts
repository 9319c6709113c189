/**
 * What the three `qwen auth` actions share: lines for the person (all on stderr), the account's
 * label, and the rule that one name is one account of one kind.
 */
import { reservedNameProblem } from "../../accounts/account.ts";
import { apiKeyPath, readApiKeyFile } from "../../accounts/api-key-store.ts";
import type { Context } from "../../lib/context.ts";
import { DEFAULT_ACCOUNT, oauthCredentialsPath } from "../../credentials/paths.ts";
import { readOAuthCredentials } from "../../credentials/store.ts";
import { UsageError } from "../../lib/errors.ts";

/** Writes one line to stderr: stdout stays empty so scripts can call `qwen auth`. */
export function sayTo(ctx: Context): (text?: string) => void {
  return (text = "") => ctx.stderr(`${text}\n`);
}

/** ` (account "NAME")` after a sentence, or nothing for the default account. */
export function accountLabel(account: string): string {
  return account === DEFAULT_ACCOUNT ? "" : ` (account "${account}")`;
}

/** Refuses a name kept for something else (`env-…`, or `default` for a key). */
export function checkAccountName(account: string, kind: "oauth" | "api_key"): void {
  const nameProblem = reservedNameProblem(account, kind);
  if (nameProblem) {
    throw new UsageError(`Cannot use the account name "${account}": ${nameProblem}`);
  }
}

/** Refuses to store an account of `kind` under a name that the other kind already uses. */
export async function checkNoOtherKind(
  home: string,
  account: string,
  kind: "oauth" | "api_key",
): Promise<void> {
  if (kind === "api_key") {
    const oauthPath = oauthCredentialsPath(home, account);
    if ((await readOAuthCredentials(oauthPath)).kind !== "missing") {
      throw new UsageError(
        `Account "${account}" is already an OAuth login ("${oauthPath}"): choose another name with "--account NAME", or remove it first with "qwen auth --logout --account ${account}"`,
      );
    }
  } else {
    const keyFile = apiKeyPath(home, account);
    if ((await readApiKeyFile(keyFile)).kind !== "missing") {
      throw new UsageError(
        `Account "${account}" is already an API-key account ("${keyFile}"): choose another --account, or remove it first with "qwen auth --logout --account ${account}"`,
      );
    }
  }
}
