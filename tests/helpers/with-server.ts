import { type Handler, runtime, type Server } from "../../src/runtime/mod.ts";

/** Starts a handler on an ephemeral loopback port; close() it in after()/finally. */
export function startServer(handler: Handler): Promise<Server> {
  return runtime.serve(handler, { hostname: "127.0.0.1", port: 0 });
}

export async function withServer<T>(
  handler: Handler,
  body: (server: Server) => Promise<T>,
): Promise<T> {
  const server = await startServer(handler);
  try {
    return await body(server);
  } finally {
    await server.close(true);
  }
}
