import { writeSync } from "node:fs";
import process from "node:process";
import { type Context, sleep } from "../lib/context.ts";

/** `isTerminal` is the runtime's: asked only when a command needs to know. */
export function processContext(
  signal: AbortSignal,
  isTerminal: (fd: 0 | 2) => boolean,
): Context {
  let stderrIsTTY: boolean | undefined;
  let stdinIsTTY: boolean | undefined;
  const stdinTTY = () => stdinIsTTY ??= isTerminal(0);
  return {
    env: process.env,
    stdout: (text) => writeAll(1, text),
    stderr: (text) => writeAll(2, text),
    get stderrIsTTY() {
      return stderrIsTTY ??= isTerminal(2);
    },
    get stdinIsTTY() {
      return stdinTTY();
    },
    async readStdin() {
      if (stdinTTY()) return undefined;
      const chunks: Uint8Array[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Uint8Array);
      return new TextDecoder().decode(Buffer.concat(chunks));
    },
    fetch: (input, init) => fetch(input, init),
    now: () => Date.now(),
    sleep,
    signal,
  };
}

/**
 * Writes to fd 1 or 2 at once: touching `process.stdout` builds Node's stream machinery, which
 * cost 8 ms of a 20 ms `qwen status`. A pipe that is full (EAGAIN) falls back to the stream.
 */
function writeAll(fd: 1 | 2, text: string): void {
  let bytes = encoder.encode(text);
  try {
    while (bytes.byteLength > 0) bytes = bytes.subarray(writeSync(fd, bytes));
  } catch {
    if (bytes.byteLength > 0) (fd === 1 ? process.stdout : process.stderr).write(bytes);
  }
}

const encoder = new TextEncoder();
