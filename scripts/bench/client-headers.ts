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

const CODEX_SESSION = "00000000-0000-4000-8000-000000000005";

/**
 * The headers of `/v1/responses` requests: those of Codex 0.169 (`codex exec`, recorded in
 * tests/fixtures/codex/requests.json), in its order, with the same placeholder ids. Codex asks for
 * an event stream on every request; the bench's JSON ones keep the header, as the route answers by
 * the body's `stream`.
 */
export const CODEX_HEADERS: Readonly<Record<string, string>> = {
  "x-codex-beta-features": "remote_compaction_v2",
  "x-codex-window-id": `${CODEX_SESSION}:0`,
  "x-codex-turn-metadata": JSON.stringify({
    installation_id: "00000000-0000-4000-8000-000000000006",
    session_id: CODEX_SESSION,
    thread_id: CODEX_SESSION,
    agent_name: "/root",
    turn_id: "00000000-0000-4000-8000-000000000007",
    window_id: `${CODEX_SESSION}:0`,
    window_number: 0,
    context_window_id: "00000000-0000-4000-8000-000000000008",
    request_kind: "turn",
    history_initialization: "new",
    root_turn_id: "00000000-0000-4000-8000-000000000007",
    thread_source: "user",
    turn_trigger: "exec",
    sandbox: "none",
    sandbox_mode: "danger-full-access",
    auto_review_enabled: false,
    turn_started_at_unix_ms: 1767225600000,
    analytics_enabled: false,
    model: "coder-model",
  }),
  "x-client-request-id": CODEX_SESSION,
  "session-id": CODEX_SESSION,
  "thread-id": CODEX_SESSION,
  "accept": "text/event-stream",
  "content-type": "application/json",
  "authorization": `Bearer ${BENCH_TOKEN}`,
  "originator": "codex_exec",
  "user-agent": "codex_exec/0.169.0 (Debian 12.0.0; x86_64) dumb (codex_exec; 0.169.0)",
};
