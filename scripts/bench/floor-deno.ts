/**
 * The floor on Deno (`deno run -A floor-deno.ts UPSTREAM_ORIGIN`): what floor-bun.ts is, on Deno,
 * with the cheapest chunk reads found there (a BYOB reader over one reused buffer, as qwen does).
 * Deno's fetch reads each chunk after the first through its event loop, so here a stream is never
 * all there when it starts, but the floor starts it the same way as qwen does.
 */
import { arrivedBody } from "./take-arrived.ts";

const upstream = Deno.args[0];
Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.error(`listening on http://127.0.0.1:${port}`),
}, async (request) => {
  const url = new URL(request.url);
  const headers = new Headers(request.headers);
  headers.delete("host");
  const body = await request.arrayBuffer();
  const controller = new AbortController();
  const response = await fetch(upstream + url.pathname + url.search, {
    method: request.method,
    headers,
    body,
    signal: controller.signal,
  });
  const init = { status: response.status, headers: response.headers };
  if (!(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    return new Response(await response.bytes(), init);
  }
  const byob = response.body!.getReader({ mode: "byob" });
  let buffer = new Uint8Array(64 * 1024);
  const reader = {
    async read(): Promise<ReadableStreamReadResult<Uint8Array<ArrayBuffer>>> {
      const { done, value } = await byob.read(buffer);
      if (done) return { done: true, value: undefined };
      buffer = new Uint8Array(value.buffer);
      return { done: false, value: value.slice() };
    },
  };
  const answer = await arrivedBody(reader, (reason) => {
    controller.abort(reason);
    return byob.cancel(reason);
  });
  return new Response(answer, init);
});
