/**
 * `POST /v1/messages` and `POST /v1/messages/count_tokens`: Anthropic's Messages API (Claude
 * Code's) over the one upstream client. The request goes upstream as a chat completion, so the
 * pool, failover, retries, usage and metrics are the chat path's; the answer comes back as an
 * Anthropic message, streamed or whole (docs/anthropic.md).
 */
import { estimateChatTokens } from "../../lib/token-estimate.ts";
import { anthropicError, failureResponse } from "../anthropic/errors.ts";
import {
  AnthropicRequestError,
  type TranslatedRequest,
  translateRequest,
} from "../anthropic/request.ts";
import { foldMessage, MessageTranslator, sseEvent } from "../anthropic/response.ts";
import { readBody } from "../body.ts";
import { nestedTooDeep, TOO_DEEP_MESSAGE } from "../json-scan.ts";
import { TranslatingTransform } from "../translated-stream.ts";
import {
  eventStreamOf,
  isEventStream,
  logDroppedTools,
  streamedWhenThinking,
  translatedForward,
  translateWhole,
} from "../translated-call.ts";
import type { DialectCall, RouteContext } from "./context.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export async function messages(ctx: RouteContext): Promise<Response | DialectCall> {
  const parsed = await parseRequest(ctx, false);
  if (parsed instanceof Response) return parsed;
  const { entry } = ctx;
  entry.model = parsed.model;
  logDroppedTools(ctx.logger, "/v1/messages", parsed.droppedTools, "Anthropic's server tools");

  const { model, stream } = parsed;
  const chat = streamedWhenThinking(parsed.chat, stream);
  const translator = new MessageTranslator({
    id: messageId(),
    model,
    stopSequences: parsed.stopSequences,
  });
  return {
    // A streamed answer is translated on its way through the upstream client's pass-through.
    forward: translatedForward(
      ctx,
      model,
      chat,
      stream
        ? new TranslatingTransform(translator, sseEvent, { timer: ctx.keepAlive, bytes: PING })
        : undefined,
    ),
    answer: (response) => answer(parsed, translator, response, ctx.maxResponseBytes),
    failure: failureResponse,
  };
}

export async function countTokens(ctx: RouteContext): Promise<Response> {
  const parsed = await parseRequest(ctx, true);
  if (parsed instanceof Response) return parsed;
  ctx.entry.model = parsed.model;
  return Response.json({ input_tokens: estimateChatTokens(parsed.chat) });
}

async function parseRequest(
  ctx: RouteContext,
  countOnly: boolean,
): Promise<TranslatedRequest | Response> {
  const read = await readBody(ctx.request, ctx.maxBodyBytes, ctx.bodyDeadline);
  if (read.kind === "too_large") {
    return anthropicError(
      413,
      `The request body is larger than ${ctx.maxBodyBytes} bytes: raise "--max-body" to allow it`,
    );
  }
  const text = decoder.decode(read.bytes);
  if (nestedTooDeep(text)) return anthropicError(400, TOO_DEEP_MESSAGE);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return anthropicError(400, `The request body is not valid JSON: ${(error as Error).message}`);
  }
  try {
    return translateRequest(json, { countOnly });
  } catch (error) {
    if (error instanceof AnthropicRequestError) return anthropicError(400, error.message);
    throw error;
  }
}

/**
 * The upstream's 2xx answer as an Anthropic message. A stream the client asked for is already
 * translated; anything else is read whole and rendered at once.
 */
async function answer(
  request: TranslatedRequest,
  translator: MessageTranslator,
  response: Response,
  maxResponseBytes: number,
): Promise<Response> {
  if (request.stream && isEventStream(response)) return response;
  const out = await translateWhole(response, translator, maxResponseBytes);
  if (request.stream) return eventStreamOf(out, sseEvent);
  const folded = foldMessage(out);
  if ("error" in folded) return anthropicError(502, folded.error.message);
  return Response.json(folded.message);
}

const PING = encoder.encode(sseEvent({ type: "ping" }));
function messageId(): string {
  return `msg_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
}
