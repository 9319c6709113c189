/**
 * What the translated routes (Anthropic Messages, OpenAI Responses) share around the one
 * upstream client: the chat body per account, a whole answer read into chat events, and log
 * lines said once per process.
 */
import type { Member } from "../pool/pool.ts";
import {
  type ChatEvent,
  ChatStreamReader,
  completionEvents,
} from "../upstream/stream/chat-events.ts";
import { responseTooLarge } from "../upstream/client.ts";
import type { ForwardRequest } from "../upstream/client.ts";
import type { BodyTransform } from "../upstream/stream/pass-through.ts";
import type { Logger } from "./log.ts";
import type { RouteContext } from "./routes/context.ts";
import type { StreamTranslator } from "./translated-stream.ts";

const encoder = new TextEncoder();

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
};

/**
 * The chat body as each account sends it: the model under the account's name for it (the model
 * map), serialized once per name however many accounts the call tries.
 */
function chatBodyPerAccount(
  model: string,
  chat: Record<string, unknown>,
): (member: Member) => string {
  let rendered: { model: string; text: string } | undefined;
  return (member) => {
    const upstreamModel = member.models.get(model) ?? model;
    if (rendered?.model !== upstreamModel) {
      rendered = { model: upstreamModel, text: JSON.stringify({ model: upstreamModel, ...chat }) };
    }
    return rendered.text;
  };
}

/**
 * The chat completion a translated request sends upstream: generation (its 5xx are retried), usage
 * counted, and a streamed answer translated on its way by `transform`.
 */
export function translatedForward(
  ctx: RouteContext,
  model: string,
  chat: Record<string, unknown>,
  transform: BodyTransform | undefined,
): ForwardRequest {
  return {
    method: "POST",
    path: "/chat/completions",
    model,
    body: chatBodyPerAccount(model, chat),
    contentType: "application/json",
    accept: chat.stream ? "text/event-stream" : "application/json",
    userAgent: ctx.request.headers.get("user-agent"),
    clientRequest: ctx.request,
    connection: ctx.connection,
    usage: true,
    retryServerErrors: true,
    transform,
  };
}

/**
 * Some Qwen models think only when streaming: a request for a whole answer with thinking on is
 * sent as a stream, and the answer read whole (`answerEvents`).
 */
export function streamedWhenThinking(
  chat: Record<string, unknown>,
  stream: boolean,
): Record<string, unknown> {
  if (stream || chat.enable_thinking !== true) return chat;
  return { ...chat, stream: true, stream_options: { include_usage: true } };
}

/**
 * A whole answer's events: a JSON completion (the upstream client read it, up to
 * `--max-response`), or a stream read to its end, which ends in an error event once it passed
 * `maxBytes`: the rest is not read.
 */
async function answerEvents(response: Response, maxBytes: number): Promise<ChatEvent[]> {
  const events: ChatEvent[] = [];
  if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    const reader = new ChatStreamReader();
    const body = response.body!.getReader();
    let size = 0;
    for (;;) {
      const { done, value } = await body.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await body.cancel().catch(() => {});
        const { message, code } = responseTooLarge(maxBytes);
        events.push({ type: "error", message, code });
        return events;
      }
      reader.push(value, events);
    }
    reader.end(events);
    return events;
  }
  const text = await response.text().catch(() => "");
  let completion: unknown;
  try {
    completion = JSON.parse(text);
  } catch {
    events.push({
      type: "error",
      message: "The upstream's answer is not valid JSON",
      code: "upstream_bad_answer",
    });
    return events;
  }
  return completionEvents(completion);
}

const said = new Set<string>();

/** A log line said once per process (e.g. per dropped tool type). */
export function logOnce(logger: Logger, key: string, message: string): void {
  if (said.has(key)) return;
  said.add(key);
  logger.info(message);
}

export function isEventStream(response: Response): boolean {
  return (response.headers.get("content-type") ?? "").startsWith("text/event-stream");
}

/** A whole answer (JSON, or a stream read to its end) through a dialect's translator. */
export async function translateWhole<E>(
  response: Response,
  translator: StreamTranslator<E>,
  maxBytes: number,
): Promise<E[]> {
  const events = await answerEvents(response, maxBytes);
  const out: E[] = [];
  translator.start(out);
  for (const event of events) translator.accept(event, out);
  translator.finish(out);
  return out;
}

/** Translated events sent at once, as a stream's body. */
export function eventStreamOf<E>(events: readonly E[], encode: (event: E) => string): Response {
  let text = "";
  for (const event of events) text += encode(event);
  return new Response(encoder.encode(text), { status: 200, headers: SSE_HEADERS });
}

/** One log line per dropped tool type per process. */
export function logDroppedTools(
  logger: Logger,
  path: string,
  types: readonly string[],
  whose: string,
): void {
  for (const type of types) {
    logOnce(
      logger,
      `${path} tool ${type}`,
      `dropping tools of type "${type}" from ${path} requests: no upstream here runs ${whose} ` +
        "(logged once)",
    );
  }
}
