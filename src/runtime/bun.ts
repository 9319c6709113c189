/// <reference types="bun-types" />
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

/** What a request may ask of the server under it. */
class BunRequestInfo implements RequestInfo {
  constructor(
    private readonly server: ReturnType<typeof Bun.serve>,
    private readonly request: Request,
  ) {}

  disableIdleTimeout(): void {
    this.server.timeout(this.request, 0);
  }
}

export const bunRuntime: Runtime = {
  name: "bun",
  get version() {
    return Bun.version;
  },
  args() {
    return Bun.argv.slice(2);
  },
  executable() {
    // Bun.main of a compiled binary is a path in its embedded file system ("/$bunfs/root/..."),
    // so execPath is the only real path to the file; isStandaloneExecutable says which it is.
    return { path: process.execPath, compiled: Bun.isStandaloneExecutable, runtime: "bun" };
  },
  async run(command, args, options): Promise<RunResult> {
    let child;
    try {
      child = Bun.spawn([command, ...args], {
        env: definedEnv(options.env),
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
    } catch (error) {
      return notStarted(command, error);
    }
    const kill = () => child.kill("SIGTERM");
    options.signal?.addEventListener("abort", kill, { once: true });
    try {
      const [stdout, stderr, code] = await Promise.all([
        readOutput(child.stdout, 1, options.onOutput),
        readOutput(child.stderr, 2, options.onOutput),
        child.exited,
      ]);
      return { code: child.signalCode ? signalExitCode(child.signalCode) : code, stdout, stderr };
    } finally {
      options.signal?.removeEventListener("abort", kill);
    }
  },
  serve(handler: Handler, options: ServeOptions): Promise<Server> {
    let server: ReturnType<typeof Bun.serve>;
    // A busy spell leaves its garbage (request and answer bodies) on the heap: nothing prompts
    // a collection once the requests stop, so the process would keep that size while idle.
    // Half a second to a second after the last request of a spell, collect once.
    let requests = 0;
    let seen = 0;
    let busy = false;
    const idleCollector = setInterval(() => {
      if (requests !== seen) {
        seen = requests;
        busy = true;
      } else if (busy) {
        busy = false;
        Bun.gc(true);
      }
    }, IDLE_COLLECT_MS);
    idleCollector.unref();
    try {
      server = Bun.serve({
        hostname: options.hostname,
        port: options.port,
        // Bun closes connections idle for this many seconds (default 10, max 255); requests that
        // legitimately wait longer lift it per request through disableIdleTimeout().
        idleTimeout: 255,
        // Development mode (Bun's default outside NODE_ENV=production) answers an uncaught error
        // with an HTML page of paths and source lines, and logs its stack on every request.
        development: false,
        // Which in production mode turns SO_REUSEPORT on: a second `qwen serve` on the same port
        // would share it silently instead of being told the address is in use.
        reusePort: false,
        // Bun's own limit (128 MiB by default) answers a bare 413 before the handler sees the
        // request, whatever --max-body says. The app's limit is the only one: it reads every
        // body through its own bounded reader, and Bun drops a body nobody reads as it arrives.
        maxRequestBodySize: Number.MAX_SAFE_INTEGER,
        fetch(request, srv) {
          requests++;
          return handler(request, new BunRequestInfo(srv, request));
        },
        error: internalErrorResponse,
      });
    } catch (error) {
      clearInterval(idleCollector);
      if ((error as { code?: string }).code === "EADDRINUSE") {
        return Promise.reject(new AddressInUseError(options.hostname, options.port));
      }
      return Promise.reject(error);
    }
    const hostname = server.hostname ?? options.hostname;
    const port = server.port ?? options.port;
    return Promise.resolve({
      hostname,
      port,
      url: `http://${formatHost(hostname)}:${port}`,
      async close(force = false) {
        clearInterval(idleCollector);
        await server.stop(force);
      },
    });
  },
  isTerminal(fd) {
    // Loaded on demand: importing node:tty costs a compiled binary 2 ms at start-up, which
    // commands that never ask (--version, status --json) should not pay.
    return (require("node:tty") as typeof import("node:tty")).isatty(fd);
  },
  setRawMode(on) {
    // deno-lint-ignore no-explicit-any
    const stdin = process.stdin as any;
    if (typeof stdin.setRawMode === "function") stdin.setRawMode(on);
  },
  spawnDetached(command, args) {
    try {
      const child = Bun.spawn([command, ...args], {
        stdin: "ignore",
        stdout: "ignore",
        stderr: "ignore",
      });
      child.unref();
      return Promise.resolve(true);
    } catch {
      return Promise.resolve(false);
    }
  },
  exit(code) {
    process.exit(code);
  },
};

/** Quiet time after which the heap is collected once. */
const IDLE_COLLECT_MS = 500;

function formatHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}
