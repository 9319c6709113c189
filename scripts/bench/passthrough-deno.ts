/**
 * The practical limit on Deno: the smallest proxy that forwards a request and returns the
 * upstream's answer (`deno run -A passthrough-deno.ts UPSTREAM_ORIGIN`).
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
  return fetch(upstream + url.pathname + url.search, { method: request.method, headers, body });
});
