import {
  AddressInUseError,
  definedEnv,
  type Handler,
  internalErrorResponse,
  notStarted,
  readOutput,
  type RequestInfo,
  type RunResult,
  type Runtime,
  type ServeOptions,
  type Server,
  signalExitCode,
} from "./types.ts";

/** Deno.serve has no idle limit on a response in progress: nothing to lift. */
const NO_IDLE_LIMIT: RequestInfo = { disableIdleTimeout() {} };

export const denoRuntime: Runtime = {
  name: "deno",
  get version() {
    return Deno.version.deno;
  },
  args() {
    return [...Deno.args];
  },
  executable() {
    return { path: Deno.execPath(), compiled: Deno.build.standalone, runtime: "deno" };
  },
  async run(command, args, options): Promise<RunResult> {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(command, {
        args: [...args],
        env: definedEnv(options.env),
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      return notStarted(command, error);
    }
    const kill = () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Ended already.
      }
    };
    options.signal?.addEventListener("abort", kill, { once: true });
    try {
      const [stdout, stderr, status] = await Promise.all([
        readOutput(child.stdout, 1, options.onOutput),
        readOutput(child.stderr, 2, options.onOutput),
        child.status,
      ]);
      return { code: status.signal ? signalExitCode(status.signal) : status.code, stdout, stderr };
    } finally {
      options.signal?.removeEventListener("abort", kill);
    }
  },
  serve(handler: Handler, options: ServeOptions): Promise<Server> {
    let listener: Listener;
    try {
      listener = new Listener((request) => handler(request, NO_IDLE_LIMIT), options);
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        return Promise.reject(new AddressInUseError(options.hostname, options.port));
      }
      return Promise.reject(error);
    }
    const { hostname, port } = listener;
    return Promise.resolve({
      hostname,
      port,
      url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
      close: (force = false) => listener.close(force),
    });
  },
  isTerminal(fd) {
    return (fd === 0 ? Deno.stdin : fd === 1 ? Deno.stdout : Deno.stderr).isTerminal();
  },
  setRawMode(on) {
    try {
      Deno.stdin.setRaw(on);
    } catch {
      // Not a terminal: nothing to change.
    }
  },
  spawnDetached(command, args) {
    try {
      const child = new Deno.Command(command, {
        args,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      child.unref();
      return Promise.resolve(true);
    } catch {
      return Promise.resolve(false);
    }
  },
  exit(code) {
    Deno.exit(code);
  },
};

/** Failures of the accept loop this close together count as one spell, whose waits grow. */
const RELISTEN_SPELL_MS = 10_000;
const RELISTEN_FIRST_MS = 50;
const RELISTEN_MAX_MS = 1_000;

/**
 * Deno.serve, opened again when its accept loop fails. Deno ends that loop and closes the socket
 * on the first error from accept (EMFILE when file descriptors run out), rejecting `finished`,
 * which left unhandled ends the process. Requests already accepted go on; after a short wait the
 * same address is listened on again, until it works.
 */
class Listener {
  readonly hostname: string;
  readonly port: number;
  /** Every server opened: one whose loop failed may still be answering requests. */
  readonly #servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  #retry?: ReturnType<typeof setTimeout>;
  #closing = false;
  #failures = 0;
  #lastFailure = -Infinity;

  constructor(
    private readonly handler: (request: Request) => Response | Promise<Response>,
    private readonly options: ServeOptions,
  ) {
    const first = this.#open(options.port);
    ({ hostname: this.hostname, port: this.port } = first.addr);
  }

  #open(port: number): Deno.HttpServer<Deno.NetAddr> {
    const server = Deno.serve(
      {
        hostname: this.options.hostname,
        port,
        onListen() {},
        // Deno's default logs the error with its stack and answers in plain text.
        onError: internalErrorResponse,
      },
      this.handler,
    );
    this.#servers.push(server);
    server.finished.catch((error) => {
      if (this.#closing) return;
      const reason = String((error as Error)?.message ?? error).replace(/^Error: /, "");
      this.options.log?.(`cannot accept connections: ${reason}; listening again`);
      this.#scheduleRetry();
    });
    return server;
  }

  #scheduleRetry(): void {
    const now = Date.now();
    if (now - this.#lastFailure > RELISTEN_SPELL_MS) this.#failures = 0;
    this.#lastFailure = now;
    const wait = Math.min(RELISTEN_MAX_MS, RELISTEN_FIRST_MS * 2 ** this.#failures++);
    this.#retry = setTimeout(() => this.#reopen(), wait);
  }

  #reopen(): void {
    this.#retry = undefined;
    if (this.#closing) return;
    try {
      this.#open(this.port);
      this.options.log?.(`listening again on port ${this.port}`);
    } catch (error) {
      // Still out of descriptors, or the port was taken meanwhile: wait longer.
      if (this.#failures === 1) {
        this.options.log?.(`cannot listen again on port ${this.port}: ${(error as Error).message}`);
      }
      this.#scheduleRetry();
    }
  }

  async close(force: boolean): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#retry);
    const done = Promise.allSettled(this.#servers.map(async (server) => await server.shutdown()));
    // Deno cannot cut open responses; with force we stop waiting and let the process exit.
    if (!force) await done;
  }
}
