/**
 * The headers of the bench's requests (wrk's through post.lua, and the driver's own): those a
 * coding agent's requests carry. Captured in this repo from the official `openai` npm client
 * (7.57.0, which Qwen Code is built on) on Node 20, in the order it sent them; Host and
 * Content-Length are added by whoever sends. A pass-through forwards them all; qwen reads a few
 * and sends its own set upstream.
 */
import { BENCH_TOKEN } from "./upstream.ts";

export const CLIENT_HEADERS: Readonly<Record<string, string>> = {
  "connection": "keep-alive",
  "accept": "application/json",
  "user-agent": "OpenAI/JS 7.57.0",
  "x-stainless-retry-count": "0",
  "x-stainless-lang": "js",
  "x-stainless-package-version": "7.57.0",
  "x-stainless-os": "Linux",
  "x-stainless-arch": "x64",
  "x-stainless-runtime": "node",
  "x-stainless-runtime-version": "v20.20.2",
  "authorization": `Bearer ${BENCH_TOKEN}`,
  "content-type": "application/json",
  "accept-language": "*",
  "sec-fetch-mode": "cors",
  "accept-encoding": "gzip, deflate",
};

/**
 * The headers of `/v1/messages` requests: those of Claude Code 2.1.328 (the dev dependency, run
 * against a server on loopback), in its order, with a shorter `anthropic-beta` list. The key goes
 * in `x-api-key`, which `qwen serve` without `--api-key` does not check.
 */
export const CLAUDE_CODE_HEADERS: Readonly<Record<string, string>> = {
  "accept": "application/json",
  "content-type": "application/json",
  "user-agent": "claude-cli/2.1.328 (external, cli)",
  "x-claude-code-session-id": "00000000-0000-4000-8000-000000000000",
  "x-stainless-arch": "x64",
  "x-stainless-lang": "js",
  "x-stainless-os": "Linux",
  "x-stainless-package-version": "0.128.0",
  "x-stainless-retry-count": "0",
  "x-stainless-runtime": "node",
  "x-stainless-runtime-version": "v26.12.1",
  "x-stainless-timeout": "600",
  "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14," +
    "context-management-2025-06-27,effort-2025-11-24",
  "anthropic-dangerous-direct-browser-access": "true",
  "anthropic-version": "2023-06-01",
  "x-api-key": BENCH_TOKEN,
  "x-app": "cli",
  "connection": "keep-alive",
  "accept-encoding": "gzip, deflate, br, zstd",
};
