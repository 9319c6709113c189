/**
 * The translated API dialects the bench holds against the chat path of the same process:
 * `/v1/messages` (Anthropic, Claude Code's) and `/v1/responses` (OpenAI Responses, Codex's). Each
 * says how a client calls it, what its bodies are, where its stamped text is, how to check an
 * answer, and which script times its translation in process.
 */
import {
  agentMessagesBody,
  agentResponsesBody,
  tinyMessagesBody,
  tinyResponsesBody,
} from "./bodies.ts";
import { CLAUDE_CODE_HEADERS, CODEX_HEADERS } from "./client-headers.ts";
import { CHUNKS } from "./upstream.ts";

export type Dialect = "messages" | "responses";

export interface DialectSpec {
  name: Dialect;
  /** The route, as the report names it. */
  title: string;
  /** Its column label in the report's tables. */
  short: string;
  /** Path and query as the client calls them. */
  path: string;
  headers: Readonly<Record<string, string>>;
  /** The issue whose goals the report checks. */
  issue: number;
  /** The bodies of the throughput cells: the chat ones' text in this dialect. */
  body(size: "tiny" | "agent", stream: boolean): string;
  /** A tiny streamed request for the fake's slow stream, stamped events `delayMs` apart. */
  slowBody(delayMs: number): string;
  /** Text every SSE event that carries a word of the answer contains (and no other does). */
  deltaMarker: string;
  /** Throws unless a JSON and a streamed tiny request through `url` come back right. */
  verify(url: string, label: string): Promise<void>;
  /** The in-process micro-benchmark of its translation, from the repository's root. */
  translationScript: string;
  /** How the requests are shaped, for the report. */
  shape: string;
  /** What the in-process table times, for the report. */
  translationParts: string;
}

const ANSWER = CHUNKS.join("");

async function post(url: string, headers: Readonly<Record<string, string>>, body: string) {
  return await fetch(url, { method: "POST", headers, body });
}

/** The streamed text: what each delta event carries, in order. */
function streamedText(sse: string, pattern: RegExp): string {
  return [...sse.matchAll(pattern)].map((m) => JSON.parse(`"${m[1]}"`)).join("");
}

export const DIALECTS: Readonly<Record<Dialect, DialectSpec>> = {
  messages: {
    name: "messages",
    title: "/v1/messages",
    short: "msg",
    // Claude Code's path: its SDK adds `?beta=true` when it sends beta headers.
    path: "/v1/messages?beta=true",
    headers: CLAUDE_CODE_HEADERS,
    issue: 14,
    body: (size, stream) => size === "tiny" ? tinyMessagesBody(stream) : agentMessagesBody(stream),
    slowBody: (delayMs) => tinyMessagesBody(true, delayMs),
    deltaMarker: '"text_delta"',
    async verify(url, label) {
      const json = await post(url, CLAUDE_CODE_HEADERS, tinyMessagesBody(false));
      const answer = await json.json() as { content?: { text?: string }[]; stop_reason?: string };
      if (
        json.status !== 200 || answer.content?.[0]?.text !== ANSWER ||
        answer.stop_reason !== "end_turn"
      ) {
        throw new Error(
          `${label} (/v1/messages) answered ${json.status}: ${JSON.stringify(answer)}`,
        );
      }
      const sse = await post(url, CLAUDE_CODE_HEADERS, tinyMessagesBody(true));
      const text = await sse.text();
      // Deltas that arrive together go out as one event: the words count, not the events.
      const streamed = streamedText(text, /"text_delta","text":"((?:[^"\\]|\\.)*)"/g);
      if (sse.status !== 200 || streamed !== ANSWER || !text.includes("event: message_stop")) {
        throw new Error(
          `${label} (/v1/messages) streamed ${sse.status} with the text "${streamed}": ${text}`,
        );
      }
    },
    translationScript: "scripts/bench/translation.ts",
    shape: "shaped as Claude Code sends it: system blocks with cache markers, tools with an " +
      "`input_schema`, `tool_use` and `tool_result` blocks, adaptive thinking",
    translationParts: "the request decoded, parsed, translated and serialized again; the fake's " +
      "20-event answer read and written as Anthropic events, or its whole answer folded into a " +
      "message",
  },
  responses: {
    name: "responses",
    title: "/v1/responses",
    short: "resp",
    path: "/v1/responses",
    headers: CODEX_HEADERS,
    issue: 15,
    body: (size, stream) =>
      size === "tiny" ? tinyResponsesBody(stream) : agentResponsesBody(stream),
    slowBody: (delayMs) => tinyResponsesBody(true, { delayMs }),
    deltaMarker: "event: response.output_text.delta\n",
    async verify(url, label) {
      const json = await post(url, CODEX_HEADERS, tinyResponsesBody(false));
      const answer = await json.json() as {
        status?: string;
        output?: { type?: string; content?: { text?: string }[] }[];
      };
      const message = answer.output?.find((item) => item.type === "message");
      if (
        json.status !== 200 || message?.content?.[0]?.text !== ANSWER ||
        answer.status !== "completed"
      ) {
        throw new Error(
          `${label} (/v1/responses) answered ${json.status}: ${JSON.stringify(answer)}`,
        );
      }
      const sse = await post(url, CODEX_HEADERS, tinyResponsesBody(true));
      const text = await sse.text();
      const streamed = streamedText(
        text,
        /"type":"response\.output_text\.delta".*?"delta":"((?:[^"\\]|\\.)*)"/g,
      );
      if (
        sse.status !== 200 || streamed !== ANSWER || !text.includes("event: response.completed\n")
      ) {
        throw new Error(
          `${label} (/v1/responses) streamed ${sse.status} with the text "${streamed}": ${text}`,
        );
      }
    },
    translationScript: "scripts/bench/translation-responses.ts",
    shape: "shaped as Codex sends it: the system prompt as a developer message, the history as " +
      "`input` items with `function_call` and `function_call_output`, flat function tools, " +
      "`reasoning.summary` without an effort (as Codex sends it to a Qwen model), `store: false`, " +
      "`include`",
    translationParts: "the request decoded, parsed, translated and serialized again; the fake's " +
      "20-event answer read and written as Responses events (a fresh translator per answer), or " +
      "its whole answer rendered as a response object; and, for `store: true`, the answer kept",
  },
};
