/// <reference types="bun-types" />
/**
 * The practical limit on Bun: the smallest proxy that forwards a request and returns the
 * upstream's answer (`bun passthrough-bun.ts UPSTREAM_ORIGIN`).
 */
const upstream = Bun.argv[2];
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    headers.delete("host");
    const body = await request.arrayBuffer();
    return fetch(upstream + url.pathname + url.search, { method: request.method, headers, body });
  },
});
console.error(`listening on ${server.url.origin}`);
