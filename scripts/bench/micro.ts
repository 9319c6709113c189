/**
 * What the in-process micro-benchmarks share (scripts/bench/translation.ts for `/v1/messages`,
 * scripts/bench/translation-responses.ts for `/v1/responses`): a timing loop, the fake upstream's
 * answer to a chat body as the chunks it sends (called as a function: no socket), and that answer
 * read whole as the routes read it.
 */
import { FakeUpstream } from "../../tests/helpers/fake-upstream.ts";
import {
  type ChatEvent,
  ChatStreamReader,
  completionEvents,
} from "../../src/upstream/stream/chat-events.ts";
import { BENCH_TOKEN, CHUNKS } from "./upstream.ts";

/** What a micro-benchmark prints (one JSON object on stdout). */
export interface TranslationCosts {
  runtime: string;
  /** Part name → microseconds per request. */
  micros: Record<string, number>;
  /**
   * The translation's own share for the agent request (µs): the request's translation and the
   * streamed answer's.
   */
  own: number;
  /** Beside it (µs): the agent body's decoding and `JSON.parse`, and the chat body's encoding. */
  codec: number;
}

/** The fake's answer to a chat body. */
export interface UpstreamAnswer {
  /** As the fake enqueued them. */
  chunks: Uint8Array[];
  /** The same bytes in one array. */
  whole: Uint8Array;
  /** An event stream (the body asked for one), else a JSON completion. */
  sse: boolean;
}

const decoder = new TextDecoder();
/** Results are summed here so that no call can be optimized away. */
let sink = 0;

/** Microseconds per call: the median over `batches` batches, after `warmup` calls. */
export function measure(
  run: () => number,
  batches: number,
  warmup: number,
  minBatchMs = 20,
): number {
  for (let i = 0; i < warmup; i++) sink += run();
  // A batch long enough for the clock: as many calls as fit in `minBatchMs` after the warm-up.
  let perBatch = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < perBatch; i++) sink += run();
    if (performance.now() - start >= minBatchMs) break;
    perBatch *= 2;
  }
  const times: number[] = [];
  for (let b = 0; b < batches; b++) {
    const start = performance.now();
    for (let i = 0; i < perBatch; i++) sink += run();
    times.push(((performance.now() - start) * 1000) / perBatch);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

/** Throws when the measured calls returned nothing: the loops may have measured nothing. */
export function checkMeasured(): void {
  if (sink === 0) throw new Error("Cannot trust the timings: nothing was measured");
}

/** The fake upstream's answer to a chat body (a stream when the body says `stream: true`). */
export async function upstreamAnswer(chatBody: string): Promise<UpstreamAnswer> {
  const fake = new FakeUpstream({ record: false, defaultScenario: { kind: "ok", chunks: CHUNKS } });
  const response = await fake.handler(
    new Request("http://127.0.0.1/v1/chat/completions", {
      method: "POST",
      headers: {
        "authorization": `Bearer ${BENCH_TOKEN}`,
        "content-type": "application/json",
        "user-agent": "qwen-bench",
      },
      body: chatBody,
    }),
  );
  const chunks: Uint8Array[] = [];
  const reader = response.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  const whole = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.length;
  }
  const sse = (response.headers.get("content-type") ?? "").startsWith("text/event-stream");
  return { chunks, whole, sse };
}

/**
 * A whole answer's chat events, as `answerEvents` (src/server/translated-call.ts) reads them but
 * synchronously: a stream (a request with thinking on goes upstream streamed even when the
 * client wants a whole answer) chunk by chunk, or the JSON completion parsed.
 */
export function wholeAnswerEvents(answer: UpstreamAnswer): ChatEvent[] {
  if (!answer.sse) return completionEvents(JSON.parse(decoder.decode(answer.whole)));
  const events: ChatEvent[] = [];
  const reader = new ChatStreamReader();
  for (const chunk of answer.chunks) reader.push(chunk, events);
  reader.end(events);
  return events;
}

export function runtimeName(): string {
  return "Deno" in globalThis ? "Deno" : "Bun" in globalThis ? "Bun" : "Node";
}
