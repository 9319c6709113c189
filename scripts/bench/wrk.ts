/** Runs wrk with scripts/bench/post.lua and parses its report (`--latency` percentiles). */
import { join } from "node:path";
import process from "node:process";
import { CLIENT_HEADERS } from "./client-headers.ts";
import { run } from "./procs.ts";

const LUA = join(import.meta.dirname ?? "scripts/bench", "post.lua");

/** The request headers for post.lua, one `name: value` per line. */
function headerLines(headers: Readonly<Record<string, string>>): string {
  return Object.entries(headers).map(([name, value]) => `${name}: ${value}`).join("\n");
}

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  /** Non-2xx answers plus socket errors: anything but 0 invalidates the cell. */
  errors: number;
}

export interface WrkOptions {
  url: string;
  /** Files holding the bodies, sent in turn. */
  bodies: string[];
  connections: number;
  seconds: number;
  threads?: number;
  /** Default: the `openai` client's (CLIENT_HEADERS). */
  headers?: Readonly<Record<string, string>>;
}

export async function wrk(options: WrkOptions): Promise<WrkResult> {
  const args = [
    "-t",
    String(options.threads ?? 1),
    "-c",
    String(options.connections),
    "-d",
    `${options.seconds}s`,
    "--timeout",
    "30s",
    "--latency",
    "-s",
    LUA,
    options.url,
  ];
  const { code, stdout, stderr } = await run("wrk", args, {
    PATH: process.env.PATH,
    BENCH_BODIES: options.bodies.join(";"),
    BENCH_HEADERS: headerLines(options.headers ?? CLIENT_HEADERS),
  });
  if (code !== 0) throw new Error(`wrk failed (${code}): ${stderr || stdout}`);
  return parseWrk(stdout);
}

export function parseWrk(text: string): WrkResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(text);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p50 = /^\s*50%\s+([\d.]+)(us|ms|s|m|h)/m.exec(text);
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m|h)/m.exec(text);
  if (!total || !rps || !p50 || !p99) throw new Error(`Cannot read the wrk report:\n${text}`);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    requests: Number(total[1]),
    seconds: toMs(total[2], total[3]) / 1000,
    rps: Number(rps[1]),
    p50: toMs(p50[1], p50[2]),
    p99: toMs(p99[1], p99[2]),
    errors: non2xx + socketErrors,
  };
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  switch (unit) {
    case "us":
      return n / 1000;
    case "ms":
      return n;
    case "s":
      return n * 1000;
    case "m":
      return n * 60_000;
    default:
      return n * 3_600_000;
  }
}
