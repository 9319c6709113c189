/**
 * `qwen serve` as a process at the edge of its resources: out of file descriptors. The real
 * entrypoint under `ulimit -n`, flooded with connections on loopback.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { tempHome } from "../helpers/run-cli.ts";
import { type RunningServe, startServe, stopServe } from "../helpers/serve-process.ts";
import { waitFor } from "../helpers/wait-for.ts";

/** More connections than a process under `ulimit -n 64` can hold, fewer than the listen queue. */
const FLOOD = 200;

async function healthStatus(url: string): Promise<number> {
  try {
    const response = await fetch(`${url}/health`);
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}

describe("qwen serve: out of file descriptors", () => {
  it(
    "keeps answering /health after a flood of connections under ulimit -n 64",
    { timeout: 60_000 },
    async () => {
      const home = await tempHome();
      let serve: RunningServe | undefined;
      const sockets: Socket[] = [];
      try {
        serve = await startServe([], {
          QWEN_HOME: home.home,
          // An account from the environment, so that /health says 200; never called.
          DASHSCOPE_API_KEY: "sk-fd-flood-0000",
          DASHSCOPE_BASE_URL: "http://127.0.0.1:9/v1",
        }, { fileLimit: 64 });
        assert.equal(await healthStatus(serve.url), 200);
        const port = Number(new URL(serve.url).port);
        for (let i = 0; i < FLOOD; i++) {
          const socket = connect(port, "127.0.0.1");
          socket.on("error", () => {});
          sockets.push(socket);
        }
        // Time for the server to accept what it can and run out.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        for (const socket of sockets) socket.destroy();
        await waitFor(async () => (await healthStatus(serve!.url)) === 200, {
          timeoutMs: 10_000,
          intervalMs: 100,
          what: "/health to answer 200 after the flood",
        });
        assert.equal(serve.child.exitCode, null, `qwen serve exited: ${serve.stderr()}`);
        // Deno's accept loop fails and is restarted (Bun's goes on by itself, silently): proof
        // that the flood did use up the descriptors.
        if ("Deno" in globalThis) {
          assert.match(serve.stderr(), /cannot accept connections: .*; listening again/);
        }
      } finally {
        for (const socket of sockets) socket.destroy();
        await stopServe(serve);
        await home.cleanup();
      }
    },
  );
});
