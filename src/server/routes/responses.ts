/**
 * `POST /v1/responses`, `GET` and `DELETE /v1/responses/{id}`: OpenAI's Responses API (Codex's)
 * over the one upstream client. The request goes upstream as a chat completion, so the pool,
 * failover, retries, usage and metrics are the chat path's; the answer comes back as a response
 * object, streamed or whole, and is kept in memory when the client asks it to be
 * (docs/responses.md).
 */
import {
  type ChatMessage,
  prependConversation,
  type TranslatedResponsesRequest,
  translateResponsesRequest,
} from "../openai-responses/request.ts";
import { ResponsesRequestError } from "../openai-responses/request-checks.ts";
import { ResponseTranslator, sseEvent } from "../openai-responses/response.ts";
import type { ResponseStore } from "../openai-responses/store.ts";
import { readBody } from "../body.ts";
import { nestedTooDeep, TOO_DEEP_MESSAGE } from "../json-scan.ts";
import { badRequest, failureResponse, notFound, tooLarge } from "../responses.ts";
import { TranslatingTransform } from "../translated-stream.ts";
import {
  eventStreamOf,
  isEventStream,
  logDroppedTools,
  logOnce,
  streamedWhenThinking,
  translatedForward,
  translateWhole,
} from "../translated-call.ts";
import type { DialectCall, RouteContext } from "./context.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
/** An SSE comment: every SSE reader skips it, and it keeps idle connections open. */
const KEEP_ALIVE = encoder.encode(": keep-alive\n\n");

export async function createResponse(
  ctx: RouteContext,
  store: ResponseStore,
): Promise<Response | DialectCall> {
  const read = await readBody(ctx.request, ctx.maxBodyBytes, ctx.bodyDeadline);
  if (read.kind === "too_large") return tooLarge(ctx.maxBodyBytes);
  const text = decoder.decode(read.bytes);
  if (nestedTooDeep(text)) return badRequest(TOO_DEEP_MESSAGE, "invalid_json", null);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return badRequest(
      `The request body is not valid JSON: ${(error as Error).message}`,
      "invalid_json",
      null,
    );
  }
  let request: TranslatedResponsesRequest;
  let previous: readonly ChatMessage[] = [];
  try {
    request = translateResponsesRequest(json);
    if (request.previousResponseId !== undefined) {
      const stored = store.get(request.previousResponseId);
      if (stored === undefined) {
        return badRequest(
          `Previous response "${request.previousResponseId}" is not in this server's store: ` +
            "responses are kept in memory (the last " + `${store.maxEntries}), and lost on ` +
            "restart; send the whole conversation as input instead",
          "previous_response_not_found",
          "previous_response_id",
        );
      }
      previous = stored.conversation;
      prependConversation(request, previous);
    }
  } catch (error) {
    if (error instanceof ResponsesRequestError) {
      return badRequest(error.message, "invalid_request_error", error.param);
    }
    throw error;
  }
  ctx.entry.model = request.model;
  logDroppedTools(ctx.logger, "/v1/responses", request.droppedTools, "OpenAI's built-in tools");

  const { model, stream } = request;
  const chat = streamedWhenThinking(request.chat, stream);
  const id = `resp_${randomHex()}`;
  const translator = new ResponseTranslator({
    id,
    model,
    createdAt: Math.floor(ctx.now() / 1000),
    tools: request.tools,
    echo: request.echo,
    now: ctx.now,
    sealReasoning: request.include.includes("reasoning.encrypted_content"),
    // A whole answer needs only the final object; a stream its events.
    events: stream,
  });
  const keep = () => {
    if (!request.store || translator.failed) return;
    const added = [...request.input, ...translator.chatMessages() as ChatMessage[]];
    store.put(
      id,
      { response: translator.response(), conversation: [...previous, ...added] },
      added,
    );
  };
  return {
    // A streamed answer is translated on its way through the upstream client's pass-through.
    forward: translatedForward(
      ctx,
      model,
      chat,
      stream
        ? new TranslatingTransform(
          translator,
          sseEvent,
          { timer: ctx.keepAlive, bytes: KEEP_ALIVE },
          keep,
        )
        : undefined,
    ),
    answer: (response) => answer(request, translator, response, keep, ctx.maxResponseBytes),
    failure: failureResponse,
  };
}

/** `GET /v1/responses/{id}` */
export function getResponse(store: ResponseStore, id: string): Response {
  const stored = store.get(id);
  return stored === undefined ? unknownResponse(id) : Response.json(stored.response);
}

/** `DELETE /v1/responses/{id}` */
export function deleteResponse(store: ResponseStore, id: string): Response {
  if (!store.delete(id)) return unknownResponse(id);
  return Response.json({ id, object: "response.deleted", deleted: true });
}

/**
 * Codex may first try the Responses API over a WebSocket: 426 makes it fall back to HTTP
 * (docs/responses.md#websocket).
 */
export function webSocketRefused(ctx: RouteContext): Response {
  logOnce(
    ctx.logger,
    "websocket",
    "refusing a WebSocket on /v1/responses with 426: clients fall back to HTTP (logged once)",
  );
  const response = Response.json({
    error: {
      message: "The Responses API is served over HTTP only: send POST /v1/responses",
      type: "invalid_request_error",
      param: null,
      code: "websocket_not_supported",
    },
  }, { status: 426 });
  response.headers.set("upgrade", "HTTP/1.1");
  return response;
}

function unknownResponse(id: string): Response {
  return notFound(
    `No response "${id}" in this server's store: responses are kept in memory, the most ` +
      "recent ones only, and lost on restart",
  );
}

/**
 * The upstream's 2xx answer as a response object. A stream the client asked for is already
 * translated; anything else is read whole and rendered at once.
 */
async function answer(
  request: TranslatedResponsesRequest,
  translator: ResponseTranslator,
  response: Response,
  keep: () => void,
  maxResponseBytes: number,
): Promise<Response> {
  if (request.stream && isEventStream(response)) return response;
  const out = await translateWhole(response, translator, maxResponseBytes);
  keep();
  if (request.stream) return eventStreamOf(out, sseEvent);
  return Response.json(translator.response(), { status: translator.failed ? 502 : 200 });
}

function randomHex(): string {
  return crypto.randomUUID().replaceAll("-", "");
}
