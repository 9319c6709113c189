/**
 * `encrypted_content` of the reasoning items we make: the reasoning text itself, encoded, so a
 * client that sends the item back with only that field (as OpenAI's stateless clients do) gives
 * the reasoning back without any server memory: any process, after any restart, opens it. It is
 * opaque to clients, not secret: it holds what the summary already shows
 * (docs/responses.md#reasoning).
 */
import { Buffer } from "node:buffer";

const PREFIX = "qwen-reasoning-v1:";

export function sealReasoning(text: string): string {
  return PREFIX + Buffer.from(text, "utf8").toString("base64");
}

/** The text of a sealed reasoning, or undefined for anything else (OpenAI's own, say). */
export function openReasoning(value: unknown): string | undefined {
  if (typeof value !== "string" || !value.startsWith(PREFIX)) return undefined;
  return Buffer.from(value.slice(PREFIX.length), "base64").toString("utf8");
}
