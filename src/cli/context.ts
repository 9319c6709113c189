import { writeSync } from "node:fs";
import process from "node:process";

/** `fetch` as we call it; narrower than `typeof fetch`, which each runtime extends. */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * Everything a command touches in the outside world, injected so tests can run commands
 * in-process with fakes and so `main.ts` stays the only place that reads the real process.
 */
export interface Context {
  env: Readonly<Record<string, string | undefined>>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stderr is a terminal (colour, QR, prompts). */
  stderrIsTTY: boolean;
  stdinIsTTY: boolean;
  /** Reads all of stdin when it is piped; undefined when stdin is a terminal. */
  readStdin(): Promise<string | undefined>;
  fetch: Fetch;
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Aborted on Ctrl+C (SIGINT) while a command runs. */
  signal: AbortSignal;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

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

/** Colour only where a person reads it and has not opted out (https://no-color.org). */
export function colorAllowed(ctx: Pick<Context, "env" | "stderrIsTTY">): boolean {
  const noColor = ctx.env.NO_COLOR;
  return ctx.stderrIsTTY && (noColor === undefined || noColor === "");
}
