/**
 * What the `/v1/messages` translation itself costs, in process: `bun scripts/bench/translation.ts`
 * or `deno run -A scripts/bench/translation.ts` (`--quick`: fewer batches). Prints one JSON
 * object: the runtime and, per part, microseconds per request (the median of several batches,
 * after a warm-up that lets the JIT settle).
 *
 * The parts are the work the route does on top of what the chat path does, in the route's own
 * steps (src/server/routes/messages.ts, src/server/anthropic/stream.ts):
 * - the request: decode the body's bytes, `JSON.parse`, `translateRequest`, `JSON.stringify` of
 *   the chat body with its model (the chat path forwards its body as it came);
 * - a streamed answer: the fake upstream's 20-event stream, chunk by chunk as the fake sends it,
 *   through `ChatStreamReader`, `MessageTranslator` and `sseEvent`, encoded per read (the chat
 *   path passes the bytes on);
 * - a whole answer: the fake's JSON read, its events folded into a message, serialized.
 * The upstream's bytes come from the project's fake (tests/helpers/fake-upstream.ts) called as a
 * function: no socket is opened.
 */
import process from "node:process";
import { FakeUpstream } from "../../tests/helpers/fake-upstream.ts";
import { translateRequest } from "../../src/server/anthropic/request.ts";
import {
  type AnthropicEvent,
  foldMessage,
  MessageTranslator,
  sseEvent,
} from "../../src/server/anthropic/response.ts";
import {
  type ChatEvent,
  ChatStreamReader,
  completionEvents,
} from "../../src/upstream/stream/chat-events.ts";
import { agentMessagesBody, tinyMessagesBody } from "./bodies.ts";
import { BENCH_TOKEN, CHUNKS } from "./upstream.ts";

/** The name `claude-sonnet-4-5` maps to on an OAuth account. */
const UPSTREAM_MODEL = "qwen3-coder-plus";

export interface TranslationCosts {
  runtime: string;
  /** Part name → microseconds per request. */
  micros: Record<string, number>;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();
/** Results are summed here so that no call can be optimized away. */
let sink = 0;

function translateBody(bytes: Uint8Array): string {
  const parsed = translateRequest(JSON.parse(decoder.decode(bytes)));
  return JSON.stringify({ model: UPSTREAM_MODEL, ...parsed.chat });
}

/** The route's streamed answer (TranslatedSource.pull), one encoded write per upstream chunk. */
function translateStream(chunks: Uint8Array[]): number {
  const reader = new ChatStreamReader();
  const translator = new MessageTranslator({
    id: "msg_bench",
    model: "claude-sonnet-4-5",
    stopSequences: [],
  });
  const events: ChatEvent[] = [];
  const out: AnthropicEvent[] = [];
  translator.start(out);
  let bytes = 0;
  const flush = () => {
    for (let i = 0; i < events.length; i++) translator.accept(events[i], out);
    events.length = 0;
    let text = "";
    for (let i = 0; i < out.length; i++) text += sseEvent(out[i]);
    out.length = 0;
    if (text !== "") bytes += encoder.encode(text).length;
  };
  for (const chunk of chunks) {
    reader.push(chunk, events);
    flush();
  }
  reader.end(events);
  flush();
  translator.finish(out);
  flush();
  return bytes;
}

/** The route's whole answer: the completion's events, folded, serialized. */
function translateJson(bytes: Uint8Array): number {
  const translator = new MessageTranslator({
    id: "msg_bench",
    model: "claude-sonnet-4-5",
    stopSequences: [],
  });
  const out: AnthropicEvent[] = [];
  translator.start(out);
  for (const event of completionEvents(JSON.parse(decoder.decode(bytes)))) {
    translator.accept(event, out);
  }
  translator.finish(out);
  const folded = foldMessage(out);
  if ("error" in folded) throw new Error(`The fake's answer did not translate: ${folded.error}`);
  return JSON.stringify(folded.message).length;
}

/** The fake upstream's answer to a chat body, as the chunks it enqueued. */
async function upstreamAnswer(chatBody: string): Promise<Uint8Array[]> {
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
  return chunks;
}

/** Microseconds per call: the median over `batches` batches, after `warmup` calls. */
function measure(run: () => number, batches: number, warmup: number, minBatchMs = 20): number {
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

async function translationCosts(quick: boolean): Promise<TranslationCosts> {
  const batches = quick ? 5 : 15;
  const warmup = quick ? 500 : 2000;
  const agent = encoder.encode(agentMessagesBody(true));
  const agentJson = encoder.encode(agentMessagesBody(false));
  const tiny = encoder.encode(tinyMessagesBody(true));
  const chatBody = translateBody(agent);
  const streamChunks = await upstreamAnswer(chatBody);
  const jsonChunks = await upstreamAnswer(translateBody(agentJson));
  const jsonAnswer = new Uint8Array(jsonChunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of jsonChunks) {
    jsonAnswer.set(chunk, offset);
    offset += chunk.length;
  }
  const parsedAgent = JSON.parse(decoder.decode(agent));
  const chat = translateRequest(parsedAgent).chat;

  const micros: Record<string, number> = {};
  micros["agent request: decode + JSON.parse"] = measure(
    () => JSON.parse(decoder.decode(agent)).messages.length,
    batches,
    warmup,
  );
  micros["agent request: translateRequest"] = measure(
    () => (translateRequest(parsedAgent).chat.messages as unknown[]).length,
    batches,
    warmup,
  );
  micros["agent request: JSON.stringify"] = measure(
    () => JSON.stringify({ model: UPSTREAM_MODEL, ...chat }).length,
    batches,
    warmup,
  );
  micros["agent request, whole"] = measure(() => translateBody(agent).length, batches, warmup);
  micros["tiny request, whole"] = measure(() => translateBody(tiny).length, batches, warmup);
  micros["streamed answer (20 events)"] = measure(
    () => translateStream(streamChunks),
    batches,
    warmup,
  );
  micros["JSON answer"] = measure(() => translateJson(jsonAnswer), batches, warmup);
  // The translation's own share: what it does beyond the JSON codec, which re-reads and
  // re-writes the body as any translation must (reported above, and in the CPU per request).
  micros["agent, the translation's own: request + streamed answer"] =
    micros["agent request: translateRequest"] + micros["streamed answer (20 events)"];
  micros["agent, streamed: request + answer"] = micros["agent request, whole"] +
    micros["streamed answer (20 events)"];
  micros["agent, JSON: request + answer"] = micros["agent request, whole"] +
    micros["JSON answer"];
  const runtime = "Deno" in globalThis ? "Deno" : "Bun" in globalThis ? "Bun" : "Node";
  if (sink === 0) throw new Error("Nothing was measured");
  return { runtime, micros };
}

if (import.meta.main) {
  const costs = await translationCosts(process.argv.includes("--quick"));
  process.stdout.write(`${JSON.stringify(costs)}\n`);
}
