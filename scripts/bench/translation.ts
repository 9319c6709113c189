/**
 * What the `/v1/messages` translation itself costs, in process: `bun scripts/bench/translation.ts`
 * or `deno run -A scripts/bench/translation.ts` (`--quick`: fewer batches). Prints one JSON
 * object: the runtime and, per part, microseconds per request (the median of several batches,
 * after a warm-up that lets the JIT settle).
 *
 * The parts are the work the route does on top of what the chat path does, in the route's own
 * steps (src/server/routes/messages.ts, src/server/translated-stream.ts):
 * - the request: decode the body's bytes, `JSON.parse`, `translateRequest`, `JSON.stringify` of
 *   the chat body with its model (the chat path forwards its body as it came);
 * - a streamed answer: the fake upstream's 20-event stream, chunk by chunk as the fake sends it,
 *   through `TranslatingTransform` (`ChatStreamReader`, `MessageTranslator`, `sseEvent`), encoded
 *   per read (the chat path passes the bytes on);
 * - a whole answer: the fake's answer read whole (a stream, as the agent request has thinking on
 *   and goes upstream streamed), its events folded into a message, serialized.
 * The upstream's bytes come from the project's fake (tests/helpers/fake-upstream.ts) called as a
 * function: no socket is opened (scripts/bench/micro.ts).
 */
import process from "node:process";
import { encodeChunk } from "../../src/runtime/tactics.ts";
import { translateRequest } from "../../src/server/anthropic/request.ts";
import {
  type AnthropicEvent,
  foldMessage,
  MessageTranslator,
  sseEvent,
} from "../../src/server/anthropic/response.ts";
import { streamedWhenThinking } from "../../src/server/translated-call.ts";
import { TranslatingTransform } from "../../src/server/translated-stream.ts";
import { agentMessagesBody, tinyMessagesBody } from "./bodies.ts";
import {
  checkMeasured,
  measure,
  runtimeName,
  type TranslationCosts,
  type UpstreamAnswer,
  upstreamAnswer,
  wholeAnswerEvents,
} from "./micro.ts";

export type { TranslationCosts } from "./micro.ts";

/** The name `claude-sonnet-4-5` maps to on an OAuth account. */
const UPSTREAM_MODEL = "qwen3-coder-plus";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The chat body as the route sends it (a whole answer with thinking on is asked as a stream). */
function chatBody(parsed: ReturnType<typeof translateRequest>): string {
  return JSON.stringify({
    model: UPSTREAM_MODEL,
    ...streamedWhenThinking(parsed.chat, parsed.stream),
  });
}

function translateBody(bytes: Uint8Array): string {
  return chatBody(translateRequest(JSON.parse(decoder.decode(bytes))));
}

/**
 * The route's streamed answer: the pass-through hands each upstream chunk to the route's
 * TranslatingTransform and encodes what it returns (src/upstream/stream/pass-through.ts).
 */
function translateStream(chunks: Uint8Array[]): number {
  const translator = new MessageTranslator({
    id: "msg_bench",
    model: "claude-sonnet-4-5",
    stopSequences: [],
  });
  const transform = new TranslatingTransform(translator, sseEvent);
  let bytes = 0;
  for (const chunk of chunks) bytes += encodeChunk(transform.chunk(chunk)).length;
  return bytes + encodeChunk(transform.end()).length;
}

/** The route's whole answer: the upstream's answer read whole, folded, serialized. */
function translateWhole(answer: UpstreamAnswer): number {
  const translator = new MessageTranslator({
    id: "msg_bench",
    model: "claude-sonnet-4-5",
    stopSequences: [],
  });
  const out: AnthropicEvent[] = [];
  translator.start(out);
  for (const event of wholeAnswerEvents(answer)) translator.accept(event, out);
  translator.finish(out);
  const folded = foldMessage(out);
  if ("error" in folded) throw new Error(`The fake's answer did not translate: ${folded.error}`);
  return JSON.stringify(folded.message).length;
}

async function translationCosts(quick: boolean): Promise<TranslationCosts> {
  const batches = quick ? 5 : 15;
  const warmup = quick ? 500 : 2000;
  const agent = encoder.encode(agentMessagesBody(true));
  const agentJson = encoder.encode(agentMessagesBody(false));
  const tiny = encoder.encode(tinyMessagesBody(true));
  const streamed = await upstreamAnswer(translateBody(agent));
  const whole = await upstreamAnswer(translateBody(agentJson));
  const parsedAgent = JSON.parse(decoder.decode(agent));
  const translated = translateRequest(parsedAgent);

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
    () => chatBody(translated).length,
    batches,
    warmup,
  );
  micros["agent request, whole"] = measure(() => translateBody(agent).length, batches, warmup);
  micros["tiny request, whole"] = measure(() => translateBody(tiny).length, batches, warmup);
  micros["streamed answer (20 events)"] = measure(
    () => translateStream(streamed.chunks),
    batches,
    warmup,
  );
  micros["JSON answer"] = measure(() => translateWhole(whole), batches, warmup);
  // The translation's own share: what it does beyond the JSON codec, which re-reads and
  // re-writes the body as any translation must (reported above, and in the CPU per request).
  const own = micros["agent request: translateRequest"] + micros["streamed answer (20 events)"];
  const codec = micros["agent request: decode + JSON.parse"] +
    micros["agent request: JSON.stringify"];
  micros["agent, the translation's own: request + streamed answer"] = own;
  micros["agent, streamed: request + answer"] = micros["agent request, whole"] +
    micros["streamed answer (20 events)"];
  micros["agent, JSON: request + answer"] = micros["agent request, whole"] +
    micros["JSON answer"];
  checkMeasured();
  return { runtime: runtimeName(), micros, own, codec };
}

if (import.meta.main) {
  const costs = await translationCosts(process.argv.includes("--quick"));
  process.stdout.write(`${JSON.stringify(costs)}\n`);
}
