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
