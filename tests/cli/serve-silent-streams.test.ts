/**
 * `qwen serve` as a process, its upstream silent mid-stream: every stream must end with the
 * idle timeout's error event. On Deno, a read of an aborted fetch body sometimes stayed pending,
 * and in most rounds of a dozen streams every client waited until it gave up; in-process (the
 * app called without the runtime's server) the hang did not show, so this runs the real thing.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { tempHome } from "../helpers/run-cli.ts";
import { startFakeUpstream } from "../helpers/fake-upstream.ts";
import { type RunningServe, startServe, stopServe } from "../helpers/serve-process.ts";
import { parseSse } from "../helpers/sse-events.ts";

const STREAMS = 12;
const ROUNDS = 4;

describe("qwen serve: an upstream silent mid-stream", () => {
  it("ends every stream with the idle timeout's error, round after round", {
    timeout: 60_000,
  }, async () => {
    const home = await tempHome();
    const upstream = await startFakeUpstream();
    let serve: RunningServe | undefined;
    try {
      serve = await startServe(["--idle-timeout", "1"], {
        QWEN_HOME: home.home,
        DASHSCOPE_API_KEY: "sk-silent-streams-0000",
        DASHSCOPE_BASE_URL: upstream.baseUrl,
      });
      for (let round = 1; round <= ROUNDS; round++) {
        // The first chunk comes at once, the next one after a minute.
        upstream.fake.next(
          ...Array.from({ length: STREAMS }, () => ({ kind: "ok", chunkDelayMs: 60_000 }) as const),
        );
        const outcomes = await Promise.all(Array.from({ length: STREAMS }, async () => {
          try {
            const response = await fetch(`${serve!.url}/v1/chat/completions`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({
                model: "qwen3-coder-plus",
                stream: true,
                messages: [{ role: "user", content: "hi" }],
              }),
              signal: AbortSignal.timeout(8_000),
            });
            const last = parseSse(await response.text()).at(-1)?.data;
            return (last?.error as { code?: string } | undefined)?.code ?? "no error event";
          } catch (error) {
            return `no end: ${(error as Error).name}`;
          }
        }));
        assert.deepEqual(outcomes, Array(STREAMS).fill("upstream_idle_timeout"), `round ${round}`);
      }
    } finally {
      await stopServe(serve);
      await upstream.close();
      await home.cleanup();
    }
  });
});
