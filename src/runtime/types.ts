/** The few things `qwen` needs from its host runtime; everything else is web standards or `node:`. */

export type Handler = (request: Request, info: RequestInfo) => Response | Promise<Response>;

export interface RequestInfo {
  /**
   * Lifts the runtime's per-connection idle limit for this request, so a model that thinks
   * for minutes before its first byte is not cut by the server underneath us.
   */
  disableIdleTimeout(): void;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  /** What the server has to say about itself: a listener that failed and was opened again. */
  log?: (message: string) => void;
}

export interface Server {
  /** The address actually bound (the real port when 0 was asked for). */
  readonly hostname: string;
  readonly port: number;
  readonly url: string;
  /** Stop accepting; resolve when in-flight requests are done (or at once with `force`). */
  close(force?: boolean): Promise<void>;
}

/** This program as the system sees it. */
export interface Executable {
  /** The absolute path of the file being run: the binary, or the runtime running the source. */
  readonly path: string;
  /** Whether `path` is a standalone binary (`bun build --compile`, `deno compile`). */
  readonly compiled: boolean;
  /** Whose: a release has one binary per compiler. */
  readonly runtime: "bun" | "deno";
}

export interface RunOptions {
  /** The whole environment of the program (the command is looked up on its PATH). */
  env: Readonly<Record<string, string | undefined>>;
  /** Aborting it ends the program (SIGTERM). */
  signal?: AbortSignal;
  /** Output handed over as it comes instead of collected: for a program that may run for long. */
  onOutput?: (fd: 1 | 2, text: string) => void;
}

export interface RunResult {
  /** The exit code; 127 when the program could not be started, 128+N after signal N. */
  code: number;
  /** Empty with `onOutput`. */
  stdout: string;
  stderr: string;
}

export interface Runtime {
  /** Which runtime this is, and its version (`qwen version --verbose`). */
  readonly name: "bun" | "deno";
  readonly version: string;
  /** Command-line arguments after the program/script name. */
  args(): string[];
  executable(): Executable;
  /** Runs a program to its end, stdin empty. */
  run(command: string, args: readonly string[], options: RunOptions): Promise<RunResult>;
  serve(handler: Handler, options: ServeOptions): Promise<Server>;
  /** Whether the file descriptor (0, 1, 2) is a terminal. */
  isTerminal(fd: 0 | 1 | 2): boolean;
  /** Turns raw mode on or off for stdin, for hidden prompts. */
  setRawMode(on: boolean): void;
  /** Runs a command detached, without waiting; resolves false when it could not be started. */
  spawnDetached(command: string, args: string[]): Promise<boolean>;
  exit(code: number): never;
}

/** Thrown by `serve` when the port is taken, so callers can say so in one line. */
export class AddressInUseError extends Error {
  constructor(readonly hostname: string, readonly port: number) {
    super(`Cannot listen on "${hostname}:${port}": address already in use`);
    this.name = "AddressInUseError";
  }
}

/** The result of a program that could not be started, as a shell reports it. */
export function notStarted(command: string, error: unknown): RunResult {
  const reason = (error as { code?: string })?.code === "ENOENT" ||
      (error as Error)?.name === "NotFound"
    ? "not found"
    : String((error as Error)?.message ?? error);
  return { code: 127, stdout: "", stderr: `Cannot run "${command}": ${reason}\n` };
}

/** The signals a program we run is ended by, in practice. */
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** 128 + the signal's number, as a shell reports a program a signal ended. */
export function signalExitCode(signal: string | number): number {
  return 128 + (typeof signal === "number" ? signal : SIGNAL_NUMBERS[signal] ?? 0);
}

/** Passes a program's output on, or collects it. */
export async function readOutput(
  stream: ReadableStream<Uint8Array>,
  fd: 1 | 2,
  onOutput: RunOptions["onOutput"],
): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    const part = decoder.decode(chunk, { stream: true });
    if (onOutput) onOutput(fd, part);
    else text += part;
  }
  const rest = decoder.decode();
  if (onOutput) {
    if (rest) onOutput(fd, rest);
  } else text += rest;
  return text;
}

/** The environment without unset variables, as the spawn APIs take it. */
export function definedEnv(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

/**
 * What the runtime answers when the handler itself fails (the app catches its own errors, so
 * this is the last resort): the API's JSON error shape, and nothing about the server.
 */
export function internalErrorResponse(): Response {
  return Response.json({
    error: {
      message: "Internal error in qwen serve",
      type: "api_error",
      param: null,
      code: "internal",
    },
  }, { status: 500 });
}
