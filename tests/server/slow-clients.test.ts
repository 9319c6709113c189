/**
 * Clients that hold a connection without finishing their request: headers sent in part, or a
 * body that trickles in. The app on the runtime's real server, a raw socket on loopback.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { startServer } from "../helpers/with-server.ts";
import type { Server } from "../../src/runtime/mod.ts";
import { type Harness, HELLO, setup } from "./harness.ts";

const isDeno = "Deno" in globalThis;

/** A raw connection that records what it received and when it closed. */
class RawClient {
  readonly socket: Socket;
  received = "";
  closedAt: number | undefined;
  readonly startedAt = Date.now();
  readonly #closed: Promise<void>;

  constructor(port: number) {
    this.socket = connect(port, "127.0.0.1");
    this.socket.setEncoding("utf8");
    this.socket.on("data", (text: string) => (this.received += text));
    this.socket.on("error", () => {});
    this.#closed = new Promise((resolve) =>
      this.socket.on("close", () => {
        this.closedAt = Date.now();
        resolve();
      })
    );
  }

  /** Resolves true once the server closed the connection, false after `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      this.#closed.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
    clearTimeout(timer);
    return outcome;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

describe("slow clients", () => {
  let h: Harness;
  let server: Server;
  before(async () => {
    h = await setup({ app: { bodyTimeoutMs: 300 }, security: { allowHosts: ["127.0.0.1"] } });
    server = await startServer(h.app);
  });
  after(async () => {
    await server.close(true);
    await h.close();
  });

  it(
    "a connection that sends half its headers is closed (Bun: after about 10 s)",
    {
      timeout: 30_000,
      // Deno.serve has no header timeout and no hook to add one: docs/serve.md#limits.
      skip: isDeno ? "Deno.serve cannot bound the time to send headers" : false,
    },
    async () => {
      const client = new RawClient(server.port);
      try {
        client.socket.write("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ");
        assert.ok(await client.closedWithin(20_000), "the connection is still open after 20 s");
        assert.equal(client.received, "");
      } finally {
        client.destroy();
      }
    },
  );

  it("a request body that trickles in gets 408 once the body timeout passes", {
    timeout: 15_000,
  }, async () => {
    const client = new RawClient(server.port);
    // Long enough that the trickle lasts 10 s, well past the 300 ms limit.
    const body = JSON.stringify({ ...HELLO, user: "x".repeat(150) });
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < body.length && !client.socket.destroyed) client.socket.write(body[sent++]);
    }, 50);
    try {
      client.socket.write(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      const deadline = Date.now() + 4_000;
      while (!client.received.includes("\r\n\r\n") && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.match(client.received, /^HTTP\/1\.1 408 /, "no 408 within 4 s");
      assert.match(client.received, /^connection: close\r$/im);
      assert.match(client.received, /"code":"request_timeout"/);
      // Bun closes the connection with the answer. Deno keeps reading the rest of the body
      // first, whatever the answer says: docs/serve.md#limits.
      if (!isDeno) assert.ok(await client.closedWithin(2_000), "the connection is still open");
      assert.ok(sent < body.length, "the whole body was sent before the answer");
    } finally {
      clearInterval(trickle);
      client.destroy();
    }
  });

  it("a body that arrives in time is served as usual", async () => {
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(HELLO),
    });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).choices[0].message.content, "Hello!");
  });
});
