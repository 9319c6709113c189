/**
 * Test homes: one temporary folder per test file with a new numbered QWEN_HOME in it for each
 * test, and the files that tests put there: OAuth credentials (`oauth_creds[_<NAME>].json`) and
 * API-key files (`qwen_key_<NAME>.json`).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempHome } from "./run-cli.ts";

export interface TempHomes {
  /** The path of a new home below the shared folder, not created yet. */
  next(): string;
  /** A new, empty home directory. */
  fresh(): Promise<string>;
  /** Removes the shared folder and every home in it. */
  cleanup(): Promise<void>;
}

export async function tempHomes(): Promise<TempHomes> {
  const { home: root, cleanup } = await tempHome();
  let n = 0;
  const next = () => join(root, `h${++n}`);
  return {
    next,
    async fresh() {
      const home = next();
      await mkdir(home, { recursive: true });
      return home;
    },
    cleanup,
  };
}

/** The content of a valid key file (format version 1, provider dashscope), with overrides. */
export function keyFileJson(overrides: Record<string, unknown> = {}) {
  return {
    version: 1 as const,
    type: "api_key" as const,
    provider: "dashscope" as const,
    base_url: "http://127.0.0.1:9/v1",
    api_key: "sk-0123456789abcdef9f2c",
    created_at: "2026-05-01T12:00:00.000Z",
    ...overrides,
  };
}

/** Writes `qwen_key_<name>.json` in `home`, mode 0600, for `key` at `baseUrl`, created now. */
export async function storeKeyFile(
  home: string,
  name: string,
  key: string,
  baseUrl: string,
): Promise<void> {
  await writeFile(
    join(home, `qwen_key_${name}.json`),
    JSON.stringify(
      keyFileJson({ base_url: baseUrl, api_key: key, created_at: new Date().toISOString() }),
    ),
    { mode: 0o600 },
  );
}

/**
 * Writes a credentials file in `home` (created, mode 0700, when missing), mode 0600, and returns
 * its path. `fileOrAccount`: a file name ending in `.json`, or an account name (`default` is
 * `oauth_creds.json`, NAME is `oauth_creds_NAME.json`). `content`: a string is written as it is
 * (broken files too), anything else as JSON indented by 2 spaces, as the official CLI writes it.
 */
export async function writeCreds(
  home: string,
  fileOrAccount: string,
  content: unknown,
): Promise<string> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  const file = fileOrAccount.endsWith(".json")
    ? fileOrAccount
    : fileOrAccount === "default"
    ? "oauth_creds.json"
    : `oauth_creds_${fileOrAccount}.json`;
  const path = join(home, file);
  await writeFile(
    path,
    typeof content === "string" ? content : JSON.stringify(content, null, 2),
    { mode: 0o600 },
  );
  return path;
}
