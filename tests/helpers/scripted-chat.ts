/**
 * A chat-completions upstream on loopback that answers each request with the turn a test's
 * script chooses for it: reasoning, text, tool calls (their arguments in pieces), a finish
 * reason and usage, as SSE when the request streams and as one JSON completion otherwise.
 * Every request body is recorded.
 */
import type { Server } from "../../src/runtime/mod.ts";
import { startServer } from "./with-server.ts";

export interface ScriptedTurn {
  reasoning?: string[];
  text?: string[];
  toolCalls?: { id: string; name: string; args: string[] }[];
  finish: string;
  usage?: { prompt: number; completion: number; cached?: number };
}

export type ScriptedAnswer = ScriptedTurn | { status: number; body: unknown };

// deno-lint-ignore no-explicit-any
export type ChatBody = Record<string, any>;

export interface ScriptedChat {
  baseUrl: string;
  requests: ChatBody[];
  close(): Promise<void>;
}

export async function startScriptedChat(
  script: (body: ChatBody, index: number) => ScriptedAnswer,
): Promise<ScriptedChat> {
  const requests: ChatBody[] = [];
  const server: Server = await startServer(async (request) => {
    const body = await request.json() as ChatBody;
    requests.push(body);
    const answer = script(body, requests.length - 1);
    if ("status" in answer) return Response.json(answer.body, { status: answer.status });
    return body.stream ? streamed(answer) : Response.json(whole(answer, body.model));
  });
  return {
    baseUrl: `${server.url.replace(/\/$/, "")}/v1`,
    requests,
    close: () => server.close(true),
  };
}

function usageOf(turn: ScriptedTurn) {
  const usage = turn.usage ?? { prompt: 10, completion: 5 };
  return {
    prompt_tokens: usage.prompt,
    completion_tokens: usage.completion,
    total_tokens: usage.prompt + usage.completion,
    prompt_tokens_details: { cached_tokens: usage.cached ?? 0 },
  };
}

function streamed(turn: ScriptedTurn): Response {
  const chunks: unknown[] = [];
  const delta = (d: unknown, finish: string | null = null) =>
    chunks.push({ id: "chatcmpl-1", choices: [{ index: 0, delta: d, finish_reason: finish }] });
  delta({ role: "assistant", content: "" });
  for (const piece of turn.reasoning ?? []) delta({ reasoning_content: piece });
  for (const piece of turn.text ?? []) delta({ content: piece });
  (turn.toolCalls ?? []).forEach((call, index) => {
    delta({
      tool_calls: [{
        index,
        id: call.id,
        type: "function",
        function: { name: call.name, arguments: "" },
      }],
    });
    for (const piece of call.args) {
      delta({ tool_calls: [{ index, function: { arguments: piece } }] });
    }
  });
  delta({}, turn.finish);
  chunks.push({ id: "chatcmpl-1", choices: [], usage: usageOf(turn) });
  const text = chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n";
  return new Response(text, { headers: { "content-type": "text/event-stream" } });
}

function whole(turn: ScriptedTurn, model: string) {
  const message: Record<string, unknown> = {
    role: "assistant",
    content: (turn.text ?? []).join("") || null,
  };
  if (turn.reasoning) message.reasoning_content = turn.reasoning.join("");
  if (turn.toolCalls) {
    message.tool_calls = turn.toolCalls.map((call) => ({
      id: call.id,
      type: "function",
      function: { name: call.name, arguments: call.args.join("") },
    }));
  }
  return {
    id: "chatcmpl-1",
    object: "chat.completion",
    model,
    choices: [{ index: 0, message, finish_reason: turn.finish }],
    usage: usageOf(turn),
  };
}
