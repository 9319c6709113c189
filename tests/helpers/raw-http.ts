/**
 * One HTTP request written byte for byte on a fresh loopback connection: what `fetch` would
 * refuse to send (no `Host`, `TRACE`, a path it would normalize, a length it would not declare).
 */
import net from "node:net";

export interface RawAnswer {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * Sends `head` (request line and headers, without the blank line) and reads the answer: until
 * its `Content-Length` is there, or the server closes. Rejects when the server closed without an
 * answer or after `timeoutMs`. The socket is always destroyed.
 */
export function rawRequest(port: number, head: string, timeoutMs = 5_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = Buffer.alloc(0);
    const timer = setTimeout(
      () => done(new Error(`No whole answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) return reject(error);
      const answer = parse(received);
      if (answer === undefined) {
        return reject(new Error(`No HTTP answer: ${JSON.stringify(received.toString("latin1"))}`));
      }
      resolve(answer);
    };
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const answer = parse(received);
      const length = answer?.headers.get("content-length");
      if (answer && length !== null && length !== undefined && answer.bodyBytes >= Number(length)) {
        done();
      }
    });
    socket.on("end", () => done());
    // A server that answers before reading the whole body may reset the connection: what came
    // before the reset is the answer.
    socket.on("error", (error) => parse(received) ? done() : done(error));
    socket.write(`${head}\r\n\r\n`);
  });
}

function parse(bytes: Buffer): (RawAnswer & { bodyBytes: number }) | undefined {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [statusLine, ...lines] = bytes.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!Number.isInteger(status)) return undefined;
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const body = bytes.subarray(end + 4);
  return { status, headers, body: body.toString("utf8"), bodyBytes: body.length };
}
