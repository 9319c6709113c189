/**
 * What the `/v1/responses` translation itself costs, in process:
 * `bun scripts/bench/translation-responses.ts` or
 * `deno run -A scripts/bench/translation-responses.ts` (`--quick`: fewer batches). Prints one JSON
 * object as scripts/bench/translation.ts does for `/v1/messages` (TranslationCosts).
 *
 * The parts are the work the route does on top of what the chat path does, in the route's own
 * steps (src/server/routes/responses.ts, src/server/translated-stream.ts), on the Codex-shaped
 * agent request of scripts/bench/bodies.ts:
 * - the request: decode the body's bytes, `JSON.parse`, `translateResponsesRequest`,
 *   `JSON.stringify` of the chat body with its model (the chat path forwards its body as it came);
 * - a streamed answer: a `ResponseTranslator` (and the response's id) for the request, then the
 *   fake upstream's 20-event stream, chunk by chunk as the fake sends it, through
 *   `TranslatingTransform` (`ChatStreamReader`, `ResponseTranslator`, `sseEvent`), encoded per
 *   read as the pass-through does; for the agent request and for the tiny one;
 * - a whole answer: the fake's JSON answer read (the agent request asks for no reasoning effort,
 *   as Codex asks a Qwen model, so it goes upstream unstreamed), translated, the response object
 *   serialized;
 * - with `store: true` (OpenAI's default; Codex sends false): the answer kept in a
 *   `ResponseStore` (its chat messages, the response object, the size estimate).
 * The translation's own share is the request's translation and the streamed answer; the body's
 * JSON codec is reported beside it, as any translation must re-read and re-write the body.
 */
import process from "node:process";
import { encodeChunk } from "../../src/runtime/tactics.ts";
import {
  type ChatMessage,
  type TranslatedResponsesRequest,
  translateResponsesRequest,
} from "../../src/server/openai-responses/request.ts";
import {
  type ResponsesEvent,
  ResponseTranslator,
  sseEvent,
} from "../../src/server/openai-responses/response.ts";
import { ResponseStore } from "../../src/server/openai-responses/store.ts";
import { streamedWhenThinking } from "../../src/server/translated-call.ts";
import { TranslatingTransform } from "../../src/server/translated-stream.ts";
import { agentResponsesBody, tinyResponsesBody } from "./bodies.ts";
import {
  checkMeasured,
  measure,
  runtimeName,
  type TranslationCosts,
  type UpstreamAnswer,
  upstreamAnswer,
  wholeAnswerEvents,
} from "./micro.ts";

/** `coder-model` on an OAuth account: sent upstream under its own name. */
const UPSTREAM_MODEL = "coder-model";
/** The route's default store size (src/server/app.ts). */
const STORE_ENTRIES = 1_000;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The chat body as the route sends it (a whole answer with thinking on is asked as a stream). */
function chatBody(request: TranslatedResponsesRequest): string {
  return JSON.stringify({
    model: UPSTREAM_MODEL,
    ...streamedWhenThinking(request.chat, request.stream),
  });
}

function translateBody(bytes: Uint8Array): string {
  return chatBody(translateResponsesRequest(JSON.parse(decoder.decode(bytes))));
}

/** The route's translator for a request, with a fresh id as the route makes one. */
function translatorFor(request: TranslatedResponsesRequest): ResponseTranslator {
  return new ResponseTranslator({
    id: `resp_${crypto.randomUUID().replaceAll("-", "")}`,
    model: request.model,
    createdAt: Math.floor(Date.now() / 1000),
    tools: request.tools,
    echo: request.echo,
  });
}

/** The route's streamed answer: TranslatingTransform in the pass-through, one write per chunk. */
function translateStream(request: TranslatedResponsesRequest, chunks: Uint8Array[]): number {
  const transform = new TranslatingTransform(translatorFor(request), sseEvent);
  let bytes = 0;
  for (const chunk of chunks) bytes += encodeChunk(transform.chunk(chunk)).length;
  return bytes + encodeChunk(transform.end()).length;
}

/** A translator that has seen the whole answer. */
function answered(request: TranslatedResponsesRequest, answer: UpstreamAnswer): ResponseTranslator {
  const translator = translatorFor(request);
  const out: { type: string }[] = [];
  translator.start(out);
  for (const event of wholeAnswerEvents(answer)) translator.accept(event, out);
  translator.finish(out);
  return translator;
}

/** The route's whole answer: read whole, translated, the response object serialized. */
function translateWhole(request: TranslatedResponsesRequest, answer: UpstreamAnswer): number {
  const translator = answered(request, answer);
  if (translator.failed) throw new Error("The fake's answer did not translate");
  return JSON.stringify(translator.response()).length;
}

async function translationCosts(quick: boolean): Promise<TranslationCosts> {
  const batches = quick ? 5 : 15;
  const warmup = quick ? 500 : 2000;
  const agent = encoder.encode(agentResponsesBody(true));
  const agentJson = encoder.encode(agentResponsesBody(false));
  const tiny = encoder.encode(tinyResponsesBody(true));
  const streamed = await upstreamAnswer(translateBody(agent));
  const tinyRequest = translateResponsesRequest(JSON.parse(decoder.decode(tiny)));
  const tinyStreamed = await upstreamAnswer(chatBody(tinyRequest));
  const whole = await upstreamAnswer(translateBody(agentJson));
  if (!streamed.sse || whole.sse) {
    throw new Error("Cannot measure: the fake did not answer the agent request as it was asked");
  }
  const parsedAgent = JSON.parse(decoder.decode(agent));
  const request = translateResponsesRequest(parsedAgent);
  const done = answered(request, streamed);
  const store = new ResponseStore(STORE_ENTRIES);
  let stored = 0;

  const micros: Record<string, number> = {};
  micros["agent request: decode + JSON.parse"] = measure(
    () => JSON.parse(decoder.decode(agent)).input.length,
    batches,
    warmup,
  );
  micros["agent request: translateResponsesRequest"] = measure(
    () => translateResponsesRequest(parsedAgent).chat.messages.length,
    batches,
    warmup,
  );
  micros["agent request: JSON.stringify"] = measure(
    () => chatBody(request).length,
    batches,
    warmup,
  );
  micros["agent request, whole"] = measure(() => translateBody(agent).length, batches, warmup);
  micros["tiny request, whole"] = measure(() => translateBody(tiny).length, batches, warmup);
  micros["streamed answer (20 events)"] = measure(
    () => translateStream(request, streamed.chunks),
    batches,
    warmup,
  );
  micros["tiny streamed answer (20 events)"] = measure(
    () => translateStream(tinyRequest, tinyStreamed.chunks),
    batches,
    warmup,
  );
  // `response.created`, `response.in_progress` and `response.completed` carry the response
  // object, which repeats the request's settings, its tools included: those three events alone
  // (a translator started and finished with no answer between).
  micros["of which: the three events that carry the response object"] = measure(
    () => {
      const translator = translatorFor(request);
      const out: ResponsesEvent[] = [];
      translator.start(out);
      translator.finish(out);
      let bytes = 0;
      for (const event of out) bytes += sseEvent(event).length;
      return bytes;
    },
    batches,
    warmup,
  );
  micros["JSON answer"] = measure(() => translateWhole(request, whole), batches, warmup);
  micros["store: true: the answer kept"] = measure(
    () => {
      const added = [...request.input, ...done.chatMessages() as ChatMessage[]];
      store.put(`resp_${stored++}`, { response: done.response(), conversation: added }, added);
      return store.size;
    },
    batches,
    warmup,
  );
  const own = micros["agent request: translateResponsesRequest"] +
    micros["streamed answer (20 events)"];
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
