/** The few things `qwen` needs from its host runtime; everything else is web standards or `node:`. */

export type Handler = (request: Request, info: RequestInfo) => Response | Promise<Response>;

export interface RequestInfo {
  /** Address of the peer, when the runtime knows it. */
  remoteAddress?: string;
  /**
   * Lifts the runtime's per-connection idle limit for this request, so a model that thinks
   * for minutes before its first byte is not cut by the server underneath us.
   */
  disableIdleTimeout(): void;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  /** Called when the server could not bind. */
  onError?: (error: unknown) => Response | Promise<Response>;
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
  readonly name: "bun" | "deno";
  readonly version: string;
  /** Command-line arguments after the program/script name. */
  args(): string[];
  serve(handler: Handler, options: ServeOptions): Promise<Server>;
  /**
   * A fixed set of request headers in the form this runtime's fetch takes fastest, for a set
   * built once and sent many times. Measured per `new Request` with 7 headers: Bun copies a
   * Headers object natively (0.5 us against 1.1 us for a record); Deno reads a record in 4.8 us
   * and iterates a Headers object in 11.
   */
  fetchHeaders(headers: Record<string, string>): HeadersInit;
  /**
   * Whether a request body is scanned faster as the string it decodes to than as bytes
   * (server/json-scan.ts). Measured on a 50 KB chat request: Deno decodes it in 2.5 us and V8
   * searches a string for a quote with vector instructions, where its Uint8Array.indexOf goes
   * byte by byte (34 us as bytes, 14 us decoded and scanned); Bun's byte search is memchr
   * and its decode costs 4.7 us (7 us as bytes).
   */
  readonly scanAsText: boolean;
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
