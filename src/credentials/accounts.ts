/**
 * The accounts stored in `QWEN_HOME`. Today only OAuth files: `oauth_creds.json` ("default")
 * and `oauth_creds_<NAME>.json` (NAME). Each entry carries its `type` so that other kinds
 * (API keys) can be listed beside them later without changing the shape.
 */
import { join } from "node:path";
import { accountFromFileName, DEFAULT_ACCOUNT } from "./paths.ts";
import { listFolder } from "./private-file.ts";

export interface OAuthAccountFile {
  type: "oauth";
  /** `default` or NAME. */
  name: string;
  /** Absolute or QWEN_HOME-relative path of the credentials file. */
  file: string;
}

export type AccountFile = OAuthAccountFile;

/** Default first, then by name. A missing home directory means no accounts. */
export async function listOAuthAccounts(home: string): Promise<OAuthAccountFile[]> {
  const accounts: OAuthAccountFile[] = [];
  for (const fileName of await listFolder(home)) {
    const name = accountFromFileName(fileName);
    // `oauth_creds_default.json` is not the default account (`oauth_creds.json` is).
    if (name === DEFAULT_ACCOUNT && fileName !== "oauth_creds.json") continue;
    if (name !== undefined) accounts.push({ type: "oauth", name, file: join(home, fileName) });
  }
  return accounts.sort(compareAccounts);
}

export function compareAccounts(a: { name: string }, b: { name: string }): number {
  if (a.name === b.name) return 0;
  if (a.name === DEFAULT_ACCOUNT) return -1;
  if (b.name === DEFAULT_ACCOUNT) return 1;
  return a.name < b.name ? -1 : 1;
}
