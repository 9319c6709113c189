/**
 * Running the service manager's programs (systemctl, launchctl, journalctl, ...) with the
 * command's environment, and writing the files a service manager reads.
 */
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Context } from "../../lib/context.ts";
import { QwenError } from "../../lib/errors.ts";
import type { RunResult } from "../../runtime/mod.ts";
import type { Host } from "../host.ts";

export class Programs {
  constructor(private readonly host: Host, private readonly ctx: Context) {}

  /** Runs it and gives what it said, whatever its exit code. */
  call(command: string, args: readonly string[]): Promise<RunResult> {
    return this.host.run(command, args, { env: this.ctx.env, signal: this.ctx.signal });
  }

  /** Runs it; a failure is an error that names the command and says what it printed. */
  async must(command: string, args: readonly string[]): Promise<RunResult> {
    const result = await this.call(command, args);
    if (result.code !== 0) throw commandFailed(command, args, result);
    return result;
  }

  /** Runs it with its output passed on as it comes (journalctl -f, tail -f). */
  async follow(command: string, args: readonly string[]): Promise<number> {
    const result = await this.host.run(command, args, {
      env: this.ctx.env,
      signal: this.ctx.signal,
      onOutput: (fd, text) => (fd === 1 ? this.ctx.stdout : this.ctx.stderr)(text),
    });
    // Ctrl+C is how one stops following: not a failure.
    if (this.ctx.signal.aborted) return 0;
    if (result.code === 127) throw commandFailed(command, args, result);
    return result.code;
  }
}

function commandFailed(
  command: string,
  args: readonly string[],
  result: RunResult,
): QwenError {
  const said = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-3).join(" / ");
  return new QwenError(
    `"${[command, ...args].join(" ")}" failed (exit ${result.code})${said ? `: ${said}` : ""}`,
  );
}

/**
 * Writes a file others may read (a unit, an agent) so that a reader sees the old or the new one:
 * a temporary file beside it, then a rename. The folder is made when missing.
 */
export async function writeReadableFile(path: string, content: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  try {
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(temp, "wx", 0o644);
    try {
      await handle.writeFile(content, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new QwenError(`Cannot write "${path}": ${(error as Error).message}`);
  }
}
