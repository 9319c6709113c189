/**
 * Writing variables into the service's env file (`KEY=value` lines, read by `qwen serve
 * --env-file` and systemd's EnvironmentFile=): the lines of the variables given are replaced or
 * added, every other line stays as the person wrote it. The file holds keys: mode 0600, written
 * atomically.
 */
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../../credentials/atomic-write.ts";
import { QwenError } from "../../lib/errors.ts";

/** Values written without quotes: nothing either reader would take for syntax. */
const PLAIN_VALUE = /^[A-Za-z0-9_@%+=:,./*-]*$/;

interface EnvFileUpdate {
  /** Whether the file did not exist before. */
  created: boolean;
  /** Whether its content changed. */
  changed: boolean;
}

export async function updateEnvFile(
  path: string,
  variables: Readonly<Record<string, string>>,
): Promise<EnvFileUpdate> {
  let before: string | undefined;
  try {
    before = await readFile(path, "utf8");
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") {
      throw new QwenError(`Cannot read the env file "${path}": ${(error as Error).message}`);
    }
  }
  const after = withVariables(before ?? NEW_FILE, variables);
  if (after !== before) {
    try {
      await writeFileAtomic(path, after);
    } catch (error) {
      throw new QwenError(`Cannot write the env file "${path}": ${(error as Error).message}`);
    }
  }
  return { created: before === undefined, changed: after !== before };
}

const NEW_FILE =
  `# Settings and keys of "qwen serve" as a service (mode 0600): QWEN_SERVE_* variables
# (QWEN_SERVE_API_KEYS=key1,key2) and key variables (DASHSCOPE_API_KEY=...). After a change:
# "systemctl --user reload qwen.service" (Linux) or "qwen service install" again.
`;

/** `text` with a `NAME=value` line for each variable: in place of its old one, else at the end. */
function withVariables(text: string, variables: Readonly<Record<string, string>>): string {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const out: string[] = [];
  const written = new Set<string>();
  let continued = false;
  for (const line of lines) {
    // The lines a trailing backslash joined to a replaced line go with it.
    if (continued) {
      continued = endsWithEscape(line);
      continue;
    }
    const name = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1];
    if (name !== undefined && Object.hasOwn(variables, name)) {
      continued = endsWithEscape(line);
      if (!written.has(name)) out.push(assignment(name, variables[name]));
      written.add(name);
      continue;
    }
    out.push(line);
  }
  for (const [name, value] of Object.entries(variables)) {
    if (!written.has(name)) out.push(assignment(name, value));
  }
  return `${out.join("\n")}\n`;
}

function endsWithEscape(line: string): boolean {
  return /(^|[^\\])(\\\\)*\\$/.test(line);
}

function assignment(name: string, value: string): string {
  if (/[\r\n]/.test(value)) {
    throw new QwenError(`Cannot write "${name}" into the env file: its value holds a line break`);
  }
  if (PLAIN_VALUE.test(value)) return `${name}=${value}`;
  return `${name}="${value.replace(/["\\`$]/g, (c) => `\\${c}`)}"`;
}
