import { writeFileAtomic } from "./atomic-write.ts";
import { jsonSyntaxError } from "../lib/json-syntax.ts";
import { z } from "../lib/zod.ts";
import { readPrivateFile } from "./private-file.ts";

/**
 * The credentials file shared with the official Qwen Code CLI (`oauth_creds.json`). Extra keys
 * are kept as they are: another tool may rely on them.
 */
const oauthCredentialsSchema = z.looseObject({
  access_token: z.string().check(z.minLength(1)),
  refresh_token: z.string().check(z.minLength(1)),
  token_type: z.string().check(z.minLength(1)),
  resource_url: z.optional(z.string()),
  expiry_date: z.number().check(
    z.refine((n) => n !== 0 && Number.isFinite(n), "must be a non-zero number"),
  ),
});

export type OAuthCredentials = z.infer<typeof oauthCredentialsSchema>;

export type ReadResult =
  | { kind: "missing"; path: string }
  /** Present but unusable: not JSON, wrong types, missing fields. `problem` names what. */
  | { kind: "invalid"; path: string; problem: string }
  /** Could not be read at all (permissions, a directory in its place, ...). */
  | { kind: "unreadable"; path: string; problem: string }
  | { kind: "ok"; path: string; credentials: OAuthCredentials };

/**
 * Reads and validates the file. One readable by others (older official versions wrote 0644) is
 * read as it is: its mode is not ours to change.
 */
export async function readOAuthCredentials(path: string): Promise<ReadResult> {
  const read = await readPrivateFile(path);
  if (read.kind !== "read") return { ...read, path };
  return parseOAuthCredentials(path, read.text);
}

function parseOAuthCredentials(path: string, text: string): ReadResult {
  if (text.trim() === "") return { kind: "invalid", path, problem: "the file is empty" };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the text around the fault, which is a token.
    return { kind: "invalid", path, problem: jsonSyntaxError(text) };
  }
  const parsed = oauthCredentialsSchema.safeParse(json);
  if (!parsed.success) {
    return { kind: "invalid", path, problem: describeIssues(parsed.error, json) };
  }
  return { kind: "ok", path, credentials: parsed.data };
}

function describeIssues(error: z.core.$ZodError, json: unknown): string {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return "expected a JSON object";
  }
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const issue of error.issues) {
    const key = issue.path.join(".");
    const value = (json as Record<string, unknown>)[String(issue.path[0])];
    if (value === undefined || value === "" || value === null) missing.push(`"${key}"`);
    else wrong.push(`"${key}" ${issue.message.toLowerCase()}`);
  }
  const parts = [];
  if (missing.length) parts.push(`missing ${missing.join(", ")}`);
  if (wrong.length) parts.push(`wrong ${wrong.join("; ")}`);
  return parts.join("; ");
}

/** Written as the official CLI writes it: 2-space JSON, atomically, mode 0600. */
export async function writeOAuthCredentials(
  path: string,
  credentials: OAuthCredentials,
): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(credentials, null, 2));
}

/** Official rule: a token is usable until 30 s before `expiry_date`. */
export const EXPIRY_MARGIN_MS = 30_000;

export function isTokenValid(
  credentials: Pick<OAuthCredentials, "expiry_date">,
  now: number,
): boolean {
  return now < credentials.expiry_date - EXPIRY_MARGIN_MS;
}
