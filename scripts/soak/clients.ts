/**
 * The soak's clients: one request on one of the three generation endpoints, streamed or not,
 * read to its end (or left early on purpose), and what came of it. A complete answer is checked
 * all the way: its text, and for the translated streams the grammar of their dialect
 * (tests/helpers/anthropic-grammar.ts, responses-grammar.ts).
 */
import { assertGrammar as assertAnthropicGrammar } from "../../tests/helpers/anthropic-grammar.ts";
import { DEFAULT_CHUNKS } from "../../tests/helpers/fake-upstream.ts";
import { assertGrammar as assertResponsesGrammar } from "../../tests/helpers/responses-grammar.ts";
import { markerOf, type RequestFault } from "./fakes.ts";

export type Endpoint = "chat" | "messages" | "responses";

export const PATHS: Record<Endpoint, string> = {
  chat: "/v1/chat/completions",
  messages: "/v1/messages",
  responses: "/v1/responses",
};

const EXPECTED_TEXT = DEFAULT_CHUNKS.join("");

export interface Plan {
  id: number;
  endpoint: Endpoint;
  stream: boolean;
  model: string;
  fault?: RequestFault;
  /** Leave after this many ms, or once the first bytes of the body came. */
  leave?: { afterMs: number } | "after-first-bytes";
}

export type Outcome =
  | { kind: "ok" }
  | { kind: "left" }
  /** An error answer before any body: status, and the error's code (or type) and message. */
  | { kind: "http"; status: number; code: string; message: string }
  /** A stream that ended with its dialect's error event. */
  | { kind: "stream-error"; code: string; message: string }
  /** An answer that ended early without saying so, or is not what its dialect allows. */
  | { kind: "broken"; status: number; detail: string }
  /** No answer at all: the connection failed or broke. */
  | { kind: "network"; detail: string }
  | { kind: "timeout" };

/** The longest a client waits for a whole answer; the servers time out stalls after 3 s. */
const CLIENT_TIMEOUT_MS = 60_000;

export function requestBody(plan: Plan): string {
  const user = markerOf(plan.id, plan.fault);
  const text = "Say hello.";
  switch (plan.endpoint) {
    case "chat":
      return JSON.stringify({
        model: plan.model,
        messages: [{ role: "user", content: text }],
        stream: plan.stream,
        user,
      });
    case "messages":
      return JSON.stringify({
        model: plan.model,
        max_tokens: 64,
        messages: [{ role: "user", content: text }],
        stream: plan.stream,
        metadata: { user_id: user },
      });
    case "responses":
      return JSON.stringify({
        model: plan.model,
        input: text,
        stream: plan.stream,
        store: false,
        user,
      });
  }
}

export async function send(origin: string, plan: Plan): Promise<Outcome> {
  const controller = new AbortController();
  let left = false;
  const leave = () => {
    left = true;
    controller.abort();
  };
  const timeout = setTimeout(() => controller.abort(), CLIENT_TIMEOUT_MS);
  let early: ReturnType<typeof setTimeout> | undefined;
  if (typeof plan.leave === "object") early = setTimeout(leave, plan.leave.afterMs);
  try {
    let response: Response;
    try {
      response = await fetch(origin + PATHS[plan.endpoint], {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "anthropic-version": "2023-06-01",
          "user-agent": "qwen-soak/1",
        },
        body: requestBody(plan),
        signal: controller.signal,
      });
    } catch (error) {
      if (left) return { kind: "left" };
      if (controller.signal.aborted) return { kind: "timeout" };
      return { kind: "network", detail: describe(error) };
    }
    let text: string;
    try {
      text = await readBody(response, plan.leave === "after-first-bytes" ? leave : undefined);
    } catch (error) {
      if (left) return { kind: "left" };
      if (controller.signal.aborted) return { kind: "timeout" };
      return { kind: "broken", status: response.status, detail: `body: ${describe(error)}` };
    }
    if (left) return { kind: "left" };
    if (response.status !== 200) return httpError(response.status, text);
    const type = response.headers.get("content-type") ?? "";
    if (plan.stream !== type.startsWith("text/event-stream")) {
      return { kind: "broken", status: 200, detail: `content-type ${type}` };
    }
    return plan.stream ? readStream(plan.endpoint, text) : readWhole(plan.endpoint, text);
  } finally {
    clearTimeout(timeout);
    if (early) clearTimeout(early);
  }
}

async function readBody(response: Response, onFirstBytes?: () => void): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return "";
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (onFirstBytes) {
      onFirstBytes();
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return text + decoder.decode();
}

function httpError(status: number, text: string): Outcome {
  try {
    const json = JSON.parse(text) as {
      error?: { code?: unknown; type?: unknown; message?: unknown };
    };
    const error = json.error ?? {};
    // OpenAI's shape has a code; Anthropic's a type.
    const code = String(error.code ?? error.type ?? "");
    return { kind: "http", status, code, message: String(error.message ?? "") };
  } catch {
    return { kind: "broken", status, detail: `error body is not JSON: ${clip(text)}` };
  }
}

function readWhole(endpoint: Endpoint, text: string): Outcome {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: "broken", status: 200, detail: `not JSON (${text.length} bytes)` };
  }
  const got = wholeText(endpoint, json);
  if (got !== EXPECTED_TEXT) {
    return { kind: "broken", status: 200, detail: `text ${JSON.stringify(clip(got ?? ""))}` };
  }
  return { kind: "ok" };
}

// deno-lint-ignore no-explicit-any
function wholeText(endpoint: Endpoint, json: any): string | undefined {
  switch (endpoint) {
    case "chat":
      return json.choices?.[0]?.message?.content;
    case "messages":
      return (json.content ?? []).filter((b: { type: string }) => b.type === "text")
        .map((b: { text: string }) => b.text).join("");
    case "responses":
      if (json.status !== "completed") return `(status ${json.status})`;
      return (json.output ?? []).flatMap((item: { content?: unknown[] }) => item.content ?? [])
        .filter((c: { type: string }) => c.type === "output_text")
        .map((c: { text: string }) => c.text).join("");
  }
}

interface Event {
  event: string;
  data: string;
}

/** SSE events; comments (keep-alives) are skipped. */
function events(text: string): Event[] {
  const out: Event[] = [];
  for (const block of text.split("\n\n")) {
    let event = "";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    if (data.length > 0) out.push({ event, data: data.join("\n") });
  }
  return out;
}

function readStream(endpoint: Endpoint, text: string): Outcome {
  const list = events(text);
  switch (endpoint) {
    case "chat":
      return readChatStream(list);
    case "messages":
      return readTranslatedStream(list, {
        isError: (e) => e.event === "error",
        errorOf: (d) => d.error ?? {},
        isEnd: (e) => e.event === "message_stop",
        check: assertAnthropicGrammar,
        text: (parsed) =>
          parsed.filter((e) => e.event === "content_block_delta")
            // deno-lint-ignore no-explicit-any
            .map((e) => (e.data.delta as any)?.text ?? "").join(""),
      });
    case "responses":
      return readTranslatedStream(list, {
        isError: (e) => e.event === "response.failed",
        // deno-lint-ignore no-explicit-any
        errorOf: (d) => (d.response as any)?.error ?? {},
        isEnd: (e) => e.event === "response.completed",
        check: assertResponsesGrammar,
        text: (parsed) =>
          parsed.filter((e) => e.event === "response.output_text.delta")
            .map((e) => String(e.data.delta ?? "")).join(""),
      });
  }
}

function readChatStream(list: Event[]): Outcome {
  let text = "";
  let done = false;
  for (const { data } of list) {
    if (done) return { kind: "broken", status: 200, detail: "events after [DONE]" };
    if (data === "[DONE]") {
      done = true;
      continue;
    }
    let json: { error?: { code?: unknown; message?: unknown }; choices?: unknown };
    try {
      json = JSON.parse(data);
    } catch {
      return { kind: "broken", status: 200, detail: `an event is not JSON: ${clip(data)}` };
    }
    if (json.error) {
      return {
        kind: "stream-error",
        code: String(json.error.code ?? ""),
        message: String(json.error.message ?? ""),
      };
    }
    // deno-lint-ignore no-explicit-any
    text += (json.choices as any)?.[0]?.delta?.content ?? "";
  }
  if (!done) return { kind: "broken", status: 200, detail: "no [DONE] and no error event" };
  if (text !== EXPECTED_TEXT) {
    return { kind: "broken", status: 200, detail: `text ${JSON.stringify(clip(text))}` };
  }
  return { kind: "ok" };
}

interface Parsed {
  event: string;
  data: Record<string, unknown>;
}

interface Dialect {
  isError(e: Parsed): boolean;
  errorOf(data: Record<string, unknown>): { type?: unknown; code?: unknown; message?: unknown };
  isEnd(e: Parsed): boolean;
  check(events: Parsed[]): void;
  text(events: Parsed[]): string;
}

function readTranslatedStream(list: Event[], dialect: Dialect): Outcome {
  const parsed: Parsed[] = [];
  for (const { event, data } of list) {
    try {
      parsed.push({ event, data: JSON.parse(data) });
    } catch {
      return { kind: "broken", status: 200, detail: `an event is not JSON: ${clip(data)}` };
    }
  }
  const last = parsed.at(-1);
  try {
    dialect.check(parsed);
  } catch (error) {
    const what = last === undefined
      ? "no events"
      : dialect.isError(last) || dialect.isEnd(last)
      ? "grammar"
      : "no end event and no error event";
    return { kind: "broken", status: 200, detail: `${what}: ${describe(error)}` };
  }
  if (last && dialect.isError(last)) {
    const error = dialect.errorOf(last.data);
    return {
      kind: "stream-error",
      code: String(error.code ?? error.type ?? ""),
      message: String(error.message ?? ""),
    };
  }
  const text = dialect.text(parsed);
  if (text !== EXPECTED_TEXT) {
    return { kind: "broken", status: 200, detail: `text ${JSON.stringify(clip(text))}` };
  }
  return { kind: "ok" };
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const message = error.message.split("\n")[0];
  return clip(code ? `${code}: ${message}` : message, 160);
}

export function clip(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
