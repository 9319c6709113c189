/**
 * The benchmark's model API: the project's fake upstream (tests/helpers/fake-upstream.ts) in a
 * process of its own, so the load it serves never shares an event loop with the driver. Prints
 * its base URL (`http://127.0.0.1:PORT`) as the first line of stdout and runs until killed.
 *
 * What a chat completion gets is chosen by the request body (qwen forwards unknown fields):
 * - by default, 20 events streamed back to back (or their text as one JSON answer);
 * - `"bench_chunk_delay_ms": N`, or `"user": "bench_chunk_delay_ms=N"` (what a `/v1/messages`
 *   request's `metadata.user_id` and a `/v1/responses` request's `safety_identifier` become):
 *   20 events N ms apart, each stamped with its send time, as a field of the event and at the
 *   end of its text (`word3 @1765043000123.45`);
 * - `"bench_hold": true`: the first event, then nothing for ten minutes (open streams).
 * No request is recorded, so a long run does not grow the fake's memory.
 */
import type { Scenario } from "../../tests/helpers/fake-upstream.ts";
import { startFakeUpstream } from "../../tests/helpers/fake-upstream.ts";
import { DELAY_USER_PREFIX } from "./bodies.ts";

export const BENCH_TOKEN = "bench-token";
export const CHUNKS = Array.from({ length: 20 }, (_, i) => `word${i} `);

const plain: Scenario = { kind: "ok", chunks: CHUNKS };
const hold: Scenario = { kind: "ok", chunks: CHUNKS, chunkDelayMs: 600_000 };

if (import.meta.main) {
  const upstream = await startFakeUpstream({
    acceptTokens: [BENCH_TOKEN],
    record: false,
    defaultScenario(body) {
      if (body.bench_hold === true) return hold;
      const delay = requestedDelay(body);
      if (delay !== undefined) {
        return {
          kind: "ok",
          chunks: CHUNKS,
          chunkDelayMs: delay,
          stampChunks: true,
          stampText: true,
        };
      }
      return plain;
    },
  });
  console.log(upstream.server.url);
}

function requestedDelay(body: Record<string, unknown>): number | undefined {
  if (typeof body.bench_chunk_delay_ms === "number") return body.bench_chunk_delay_ms;
  const user = body.user;
  if (typeof user === "string" && user.startsWith(DELAY_USER_PREFIX)) {
    return Number(user.slice(DELAY_USER_PREFIX.length));
  }
  return undefined;
}
