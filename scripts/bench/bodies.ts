/**
 * The request bodies of the benchmark, generated deterministically (a seeded PRNG, fixed word
 * list), so every run and every machine sends the same bytes:
 *
 * - tiny: one short user message;
 * - agent: what a coding agent sends mid-task, about 50 KB (the official Qwen Code CLI sends
 *   about 44 KB): a long system prompt, six tool definitions with JSON schemas, and a few turns
 *   with a tool call and a file read back as the tool's result.
 */

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "the a to of and in is for that with on as be by this file function code test change " +
  "read write edit run command project user tool result error type value return string " +
  "number object array module import export class method call request response server " +
  "client stream token model message content should must never always when before after " +
  "only each every path line diff patch build check lint format commit branch review " +
  "explain plan step first then next finally small clear safe fast correct minimal"
).split(" ");

function sentence(random: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(random() * WORDS.length)]);
  const text = out.join(" ");
  return `${text[0].toUpperCase()}${text.slice(1)}.`;
}

function paragraph(random: () => number, sentences: number): string {
  const out: string[] = [];
  for (let i = 0; i < sentences; i++) out.push(sentence(random, 8 + Math.floor(random() * 12)));
  return out.join(" ");
}

/** Text of about `bytes` bytes, in paragraphs and bullet lists like a system prompt. */
function prose(random: () => number, bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  let section = 1;
  while (size < bytes) {
    const part = random() < 0.3
      ? `# Section ${section++}\n` +
        Array.from({ length: 4 }, () => `- ${sentence(random, 10)}`).join("\n")
      : paragraph(random, 5);
    parts.push(part);
    size += part.length + 2;
  }
  return parts.join("\n\n");
}

/** Source-like text of about `bytes` bytes, as a `read_file` tool would return. */
function sourceFile(random: () => number, bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  let n = 0;
  while (size < bytes) {
    const name = `${WORDS[Math.floor(random() * WORDS.length)]}${n++}`;
    const block = [
      `export function ${name}(input: string, options: { limit: number }): string {`,
      `  // ${sentence(random, 9)}`,
      `  const value = input.slice(0, options.limit).trim();`,
      `  if (value.length === 0) throw new Error("${sentence(random, 5)}");`,
      `  return \`\${value}:${n}\`;`,
      `}`,
      ``,
    ];
    for (const line of block) {
      lines.push(line);
      size += line.length + 1;
    }
  }
  return lines.join("\n");
}

function tool(random: () => number, name: string, params: string[]) {
  const properties: Record<string, unknown> = {};
  for (const p of params) {
    properties[p] = { type: "string", description: paragraph(random, 2) };
  }
  return {
    type: "function",
    function: {
      name,
      description: paragraph(random, 6),
      parameters: { type: "object", properties, required: params.slice(0, 1) },
    },
  };
}

const MODEL = "coder-model";

export function tinyBody(stream: boolean, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    model: MODEL,
    messages: [{ role: "user", content: "Say hello." }],
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    ...extra,
  });
}

export function agentBody(stream: boolean): string {
  const random = prng(20260415);
  const tools = [
    tool(random, "read_file", ["path", "offset", "limit"]),
    tool(random, "write_file", ["path", "content"]),
    tool(random, "edit", ["path", "old_string", "new_string"]),
    tool(random, "run_shell_command", ["command", "description", "directory"]),
    tool(random, "glob", ["pattern", "path"]),
    tool(random, "search_file_content", ["pattern", "path", "include"]),
  ];
  const messages = [
    { role: "system", content: prose(random, 27_000) },
    { role: "user", content: paragraph(random, 4) },
    {
      role: "assistant",
      content: paragraph(random, 2),
      tool_calls: [{
        id: "call_1",
        type: "function",
        function: { name: "read_file", arguments: JSON.stringify({ path: "src/server/app.ts" }) },
      }],
    },
    { role: "tool", tool_call_id: "call_1", content: sourceFile(random, 14_000) },
    { role: "assistant", content: paragraph(random, 6) },
    { role: "user", content: paragraph(random, 3) },
  ];
  return JSON.stringify({
    model: MODEL,
    messages,
    tools,
    temperature: 0.2,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}
