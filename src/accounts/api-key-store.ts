/**
 * Stored API-key accounts: one file per account in QWEN_HOME, `qwen_key_<NAME>.json`, in our
 * own format (docs/credentials.md#api-key-files). Written atomically with mode 0600; validated
 * with zod on read. Unknown keys are tolerated (a later version may add some). A file that does
 * not validate is reported, never rewritten.
 */
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../credentials/atomic-write.ts";
import { ACCOUNT_NAME, validateAccountName } from "../credentials/paths.ts";
import { listFolder, readPrivateFile } from "../credentials/private-file.ts";
import { z } from "../lib/zod.ts";
import { PRESET_NAMES } from "./providers.ts";

export const KEY_FILE_VERSION = 1;

const apiKeyFileSchema = z.looseObject({
  version: z.literal(KEY_FILE_VERSION),
  type: z.literal("api_key"),
  provider: z.enum(PRESET_NAMES),
  base_url: z.string().check(z.regex(/^https?:\/\/[^\s]+$/, "must be an http(s) URL")),
  api_key: z.string().check(z.minLength(1), z.regex(/^\S+$/, "must not contain whitespace")),
  created_at: z.string().check(z.minLength(1)),
});

export type ApiKeyFile = z.infer<typeof apiKeyFileSchema>;

export type KeyReadResult =
  | { kind: "missing"; path: string }
  | { kind: "invalid"; path: string; problem: string }
  | { kind: "unreadable"; path: string; problem: string }
  | { kind: "ok"; path: string; file: ApiKeyFile; identity: string };

const FILE_NAME = new RegExp(`^qwen_key_(${ACCOUNT_NAME})\\.json$`);

export function apiKeyPath(home: string, account: string): string {
  return join(home, `qwen_key_${validateAccountName(account)}.json`);
}

/** The account name of a key file name, or undefined when it is not one. */
function accountFromKeyFileName(fileName: string): string | undefined {
  return FILE_NAME.exec(fileName)?.[1];
}

/** Every key file in `home`, by account name. A missing home means none. */
export async function listApiKeyFiles(home: string): Promise<{ name: string; file: string }[]> {
  const found: { name: string; file: string }[] = [];
  for (const fileName of await listFolder(home)) {
    const name = accountFromKeyFileName(fileName);
    if (name !== undefined) found.push({ name, file: join(home, fileName) });
  }
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Reads and validates a key file; like the OAuth file, its mode is left as it is. */
export async function readApiKeyFile(path: string): Promise<KeyReadResult> {
  const read = await readPrivateFile(path);
  if (read.kind !== "read") return { ...read, path };
  return parseApiKeyFile(path, read.text, read.identity);
}

function parseApiKeyFile(path: string, text: string, identity = ""): KeyReadResult {
  if (text.trim() === "") return { kind: "invalid", path, problem: "the file is empty" };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's message may quote the file's content, and so the key: not repeated.
    return { kind: "invalid", path, problem: "not valid JSON" };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { kind: "invalid", path, problem: "expected a JSON object" };
  }
  const parsed = apiKeyFileSchema.safeParse(json);
  if (!parsed.success) {
    const record = json as Record<string, unknown>;
    const parts = parsed.error.issues.map((issue) => {
      const key = issue.path.join(".");
      const value = record[String(issue.path[0])];
      if (value === undefined || value === null || value === "") return `missing "${key}"`;
      if (key === "version") return `unsupported "version" ${JSON.stringify(value)}`;
      // Never the value itself: it may be the key.
      return `wrong "${key}"`;
    });
    return { kind: "invalid", path, problem: [...new Set(parts)].join("; ") };
  }
  return { kind: "ok", path, file: parsed.data, identity };
}

export async function writeApiKeyFile(path: string, file: ApiKeyFile): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`);
}

/** Removes a key file; false when there was none. */
export async function removeApiKeyFile(path: string): Promise<boolean> {
  try {
    await stat(path);
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return false;
    throw error;
  }
  await rm(path);
  return true;
}
