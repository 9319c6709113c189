import {
  AddressInUseError,
  type Handler,
  internalErrorResponse,
  type RequestInfo,
  type Runtime,
  type ServeOptions,
  type Server,
} from "./types.ts";

/** Deno.serve has no idle limit on a response in progress: nothing to lift. */
const NO_IDLE_LIMIT: RequestInfo = { disableIdleTimeout() {} };

export const denoRuntime: Runtime = {
  args() {
    return [...Deno.args];
  },
  serve(handler: Handler, options: ServeOptions): Promise<Server> {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        hostname: options.hostname,
        port: options.port,
        onListen() {},
        // Deno's default logs the error with its stack and answers in plain text.
        onError: internalErrorResponse,
      }, (request) => handler(request, NO_IDLE_LIMIT));
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        return Promise.reject(new AddressInUseError(options.hostname, options.port));
      }
      return Promise.reject(error);
    }
    const { hostname, port } = server.addr;
    return Promise.resolve({
      hostname,
      port,
      url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
      async close(force = false) {
        const done = server.shutdown();
        // Deno cannot cut open responses; with force we stop waiting and let the process exit.
        if (!force) await done;
      },
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
