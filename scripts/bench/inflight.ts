/// <reference types="bun-types" />
/**
 * What one request keeps alive while it waits for the upstream (`bun scripts/bench/inflight.ts`),
 * or with `--stream` while its streamed answer waits for the next event.
 *
 * On Bun, whatever an in-flight request reaches is promoted by each young-generation collection
 * and freed only by a full one, so under load its size shows in CPU per request. This parks
 * 2,000 requests in a fetch that has not answered yet, reads the heap, and prints the bytes and
 * objects per request by type, for the app and for the floor (scripts/bench/floor-bun.ts's
 * handler, in process). The numbers are exact and repeatable, unlike timings on a shared machine.
 */
import { heapStats } from "bun:jsc";
import { floorHandler } from "./floor-bun.ts";
import { createApp } from "../../src/server/app.ts";
import { createLogger } from "../../src/server/log.ts";
import { Metrics } from "../../src/server/metrics.ts";
import type { TokenSource, UpstreamAuth } from "../../src/credentials/types.ts";

const PARKED = 2_000;
const STREAM = process.argv.includes("--stream");
const ANSWER = JSON.stringify({
  id: "x",
  object: "chat.completion",
  choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
});
const BODY = JSON.stringify({
  model: "qwen3-coder-plus",
  messages: [{ role: "user", content: "Say hello." }],
});

const EVENT = new TextEncoder().encode('data: {"choices":[]}\n\n');

/** A stream that sends one event and then waits until it is cancelled. */
function stalledStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(EVENT);
    },
    pull: () => new Promise<void>(() => {}),
  });
}

let parked: (() => void)[] = [];
const upstream = (_url: string | URL | Request, _init?: RequestInit) =>
  new Promise<Response>((resolve) => {
    parked.push(() =>
      resolve(
        STREAM
          ? new Response(stalledStream(), { headers: { "content-type": "text/event-stream" } })
          : new Response(ANSWER, { headers: { "content-type": "application/json" } }),
      )
    );
  });

const auth: UpstreamAuth = { kind: "oauth", token: "t", baseUrl: "http://127.0.0.1:9/v1" };
// Shaped like the real OAuth source on its fast path: a token known to be fresh is peeked.
const tokens = {
  account: "default",
  peekToken: () => auth,
  getToken: () => Promise.resolve(auth),
} as unknown as TokenSource;
const app = createApp({
  tokens,
  metrics: new Metrics(),
  fetch: upstream,
  logger: createLogger({ format: "text", verbose: false, write: () => {} }),
  security: { apiKeys: [], corsOrigins: [], allowHosts: [], loopback: true, port: () => 8080 },
  userAgent: "qwen/inflight",
});

const floor = floorHandler("http://127.0.0.1:9", upstream);

const info = { remoteAddress: "127.0.0.1", disableIdleTimeout() {} };
const handlers: Record<string, (request: Request) => Promise<Response>> = {
  app: (request) => app(request, info),
  floor,
};

function newRequest(): Request {
  return new Request("http://127.0.0.1:8080/v1/chat/completions", {
    method: "POST",
    headers: {
      host: "127.0.0.1:8080",
      "content-type": "application/json",
      "content-length": String(BODY.length),
      "user-agent": "probe",
    },
    body: BODY,
  });
}

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 20));
}

async function measure(handler: (request: Request) => Promise<Response>, n: number) {
  const requests = Array.from({ length: n }, newRequest);
  Bun.gc(true);
  const before = heapStats();
  const answers = requests.map(handler);
  // Let every request run up to its upstream call.
  await settle();
  if (!STREAM) {
    Bun.gc(true);
    const during = heapStats();
    for (const answer of parked) answer();
    parked = [];
    for (const response of await Promise.all(answers)) await response.arrayBuffer();
    return { before, during };
  }
  // Streams: answer, read the first event of each, and measure while they wait for the next.
  for (const answer of parked) answer();
  parked = [];
  const readers = (await Promise.all(answers)).map((response) => response.body!.getReader());
  await Promise.all(readers.map((reader) => reader.read()));
  await settle();
  Bun.gc(true);
  const during = heapStats();
  await Promise.all(readers.map((reader) => reader.cancel()));
  return { before, during };
}

for (const [name, handler] of Object.entries(handlers)) {
  await measure(handler, 200); // warm-up
  const { before, during } = await measure(handler, PARKED);
  const bytes = (during.heapSize - before.heapSize) / PARKED;
  const objects = (during.objectCount - before.objectCount) / PARKED;
  console.log(`${name}: ${bytes.toFixed(0)} bytes, ${objects.toFixed(1)} objects per request`);
  const rows = Object.entries(during.objectTypeCounts)
    .map(([type, count]) =>
      [type, (count - (before.objectTypeCounts[type] ?? 0)) / PARKED] as const
    )
    .filter(([, perRequest]) => perRequest >= 0.5)
    .sort((a, b) => b[1] - a[1]);
  for (const [type, perRequest] of rows) {
    console.log(`  ${type.padEnd(24)} ${perRequest.toFixed(1)}`);
  }
}
