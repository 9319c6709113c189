/// <reference types="bun-types" />
/**
 * The floor on Bun (`bun floor-bun.ts UPSTREAM_ORIGIN`): the smallest proxy that does what the
 * features of `qwen serve` require of every request, and nothing else. Its fetch can be aborted
 * (a client that leaves, a timeout); a JSON answer is read whole (its usage is counted); a stream
 * goes through JavaScript chunk by chunk (an idle timeout, an error event when it breaks, the usage
 * at its end), except that a stream whose bytes had all arrived when it was answered goes out as
 * bytes (as qwen does: src/upstream/pass-through.ts). No validation, routing, accounts, logs or
 * metrics. What this costs over the limit (passthrough-bun.ts) is the price of the features on
 * this runtime, however they are written.
 */
import { arrivedBody } from "./take-arrived.ts";

type Send = (url: string, init: RequestInit) => Promise<Response>;

/** The floor's handler for an upstream at `origin`; `send` is fetch (a fake in inflight.ts). */
export function floorHandler(
  origin: string,
  send: Send = fetch,
): (r: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    headers.delete("host");
    const body = await request.arrayBuffer();
    const controller = new AbortController();
    const response = await send(origin + url.pathname + url.search, {
      method: request.method,
      headers,
      body,
      signal: controller.signal,
    });
    const init = { status: response.status, headers: response.headers };
    if (!(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
      return new Response(await response.bytes(), init);
    }
    const reader = response.body!.getReader();
    const answer = await arrivedBody(reader, (reason) => {
      controller.abort(reason);
      return reader.cancel(reason);
    });
    return new Response(answer, init);
  };
}

if (import.meta.main) {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: floorHandler(Bun.argv[2]) });
  console.error(`listening on ${server.url.origin}`);
}
