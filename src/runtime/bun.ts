/// <reference types="bun-types" />
import {
  AddressInUseError,
  type Handler,
  type Runtime,
  type ServeOptions,
  type Server,
} from "./types.ts";

export const bunRuntime: Runtime = {
  name: "bun",
  get version() {
    return Bun.version;
  },
  args() {
    return Bun.argv.slice(2);
  },
  serve(handler: Handler, options: ServeOptions): Promise<Server> {
    let server: ReturnType<typeof Bun.serve>;
    try {
      server = Bun.serve({
        hostname: options.hostname,
        port: options.port,
        // Bun closes connections idle for this many seconds (default 10, max 255); requests that
        // legitimately wait longer lift it per request through disableIdleTimeout().
        idleTimeout: 255,
        fetch(request, srv) {
          // The peer's address is looked up only if someone asks (nothing on the hot path does).
          return handler(request, {
            get remoteAddress() {
              return srv.requestIP(request)?.address;
            },
            disableIdleTimeout: () => srv.timeout(request, 0),
          });
        },
      });
    } catch (error) {
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
        await server.stop(force);
      },
    });
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

function formatHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}
