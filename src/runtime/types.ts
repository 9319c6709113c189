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

export interface Runtime {
  /** Which runtime this is, and its version (`qwen version --verbose`). */
  readonly name: "bun" | "deno";
  readonly version: string;
  /** Command-line arguments after the program/script name. */
  args(): string[];
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
