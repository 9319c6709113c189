/** What a command touches of the outside world: types every layer may name, and `sleep`. */

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

/** Colour only where a person reads it and has not opted out (https://no-color.org). */
export function colorAllowed(ctx: Pick<Context, "env" | "stderrIsTTY">): boolean {
  const noColor = ctx.env.NO_COLOR;
  return ctx.stderrIsTTY && (noColor === undefined || noColor === "");
}
