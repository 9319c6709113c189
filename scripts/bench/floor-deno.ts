/**
 * The floor on Deno (`deno run -A floor-deno.ts UPSTREAM_ORIGIN`): what floor-bun.ts is, on Deno,
 * with the cheapest chunk reads found there (a BYOB reader over one reused buffer, as qwen does).
 */
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
  const reader = response.body!.getReader({ mode: "byob" });
  let buffer = new Uint8Array(64 * 1024);
  return new Response(
    new ReadableStream<Uint8Array>({
      async pull(stream) {
        const { done, value } = await reader.read(buffer);
        if (done) return stream.close();
        buffer = new Uint8Array(value.buffer);
        stream.enqueue(value.slice());
      },
      cancel(reason) {
        controller.abort(reason);
        return reader.cancel(reason);
      },
    }),
    init,
  );
});
