/** The OAuth credentials files in `QWEN_HOME`: `oauth_creds.json` ("default") and named ones. */
import { join } from "node:path";
import { accountFromFileName, DEFAULT_ACCOUNT } from "./paths.ts";
import { listFolder } from "./private-file.ts";

/** Default first, then by name. A missing home directory means none. */
export async function listOAuthFiles(home: string): Promise<{ name: string; file: string }[]> {
  const found: { name: string; file: string }[] = [];
  for (const fileName of await listFolder(home)) {
    const name = accountFromFileName(fileName);
    // `oauth_creds_default.json` is not the default account (`oauth_creds.json` is).
    if (name === DEFAULT_ACCOUNT && fileName !== "oauth_creds.json") continue;
    if (name !== undefined) found.push({ name, file: join(home, fileName) });
  }
  return found.sort(defaultFirst);
}

function defaultFirst(a: { name: string }, b: { name: string }): number {
  if (a.name === b.name) return 0;
  if (a.name === DEFAULT_ACCOUNT) return -1;
  if (b.name === DEFAULT_ACCOUNT) return 1;
  return a.name < b.name ? -1 : 1;
}
