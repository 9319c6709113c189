/**
 * `npm run bench` (`bun scripts/bench.ts [--quick]`): what `qwen serve` costs, measured against
 * the practical limit in one run, on loopback only.
 *
 * Set-up: `wrk` from Debian's packages (`apt-get install -y wrk`). The script checks for it and,
 * when it is missing, prints that command and exits 2; it never installs anything itself.
 *
 * One run starts, each in its own process:
 *   - the project's fake model API (scripts/bench/upstream.ts → tests/helpers/fake-upstream.ts);
 *   - the minimal pass-through proxies, the practical limit (scripts/bench/passthrough-*.ts);
 *   - the floors: the limit plus only what qwen's features need (scripts/bench/floor-*.ts);
 *   - `qwen serve` from source on Bun, from source on Deno, and the compiled binary dist/qwen
 *     (rebuilt with `bun scripts/build.ts --host` when missing or older than src/);
 * and measures, with every target side by side in the same run:
 *   1. wrk (`--latency`, one thread): non-streaming and streaming (20 events) chat completions,
 *      a tiny and a ~50 KB coding-agent request, at 1, 16 and 256 connections; requests/s, p50,
 *      p99, and the ratios qwen ÷ limit and qwen ÷ direct. Each target first serves 3 s of all
 *      four request kinds (JIT compilers at their steady state); then, per cell, the targets
 *      take turns for three rounds of 2 s after a 1 s warm-up each; the median round counts;
 *   2. a stream of 20 events 50 ms apart: the fake stamps each event with its send time and the
 *      driver notes when it arrives (delay = arrival − send, same machine clock); median and
 *      worst, through each target and directly;
 *   3. resident memory (VmRSS) of a fresh dist/qwen: idle, with 256 open streams, and after
 *      10,000 and 100,000 requests (a mix of the four request kinds at 16 connections);
 *   4. wall time of `dist/qwen --version` and `dist/qwen status --json` against a hello-world
 *      compiled the same way (`bun build --compile --minify --bytecode`), median of many runs;
 *   5. the translated routes, `POST /v1/messages` (Anthropic Messages) and `POST /v1/responses`
 *      (OpenAI Responses), each translated to and from a chat completion, against
 *      `/v1/chat/completions` on each qwen target (scripts/bench/dialects.ts): the same tiny and
 *      agent requests in each dialect, JSON and streamed, at 16 connections, the paths taking
 *      turns; requests/s, p50, p99 and the serving process's CPU time per request
 *      (/proc/PID/stat); each translation's own cost in process (scripts/bench/translation.ts,
 *      translation-responses.ts, on Bun and on Deno); the slow stream's event delay through each
 *      path (the fake stamps the send time into each event's text, which the translations keep);
 *      and, in the memory sequence, dist/qwen's RSS after 10,000 and 100,000 translated streams,
 *      then after 10,000 and 100,000 tiny and agent responses kept in the response store.
 * Prints a Markdown report and writes it to .bench/results.md (raw numbers: .bench/results.json).
 * `--quick` (about two minutes): 1 s per cell, four chat cells and the four cells of each
 * translated route, one delayed stream per path, memory up to 10,000.
 * `--only memory`: the memory sequence alone (binary and Bun limit). `--only messages` or
 * `--only responses`: part 5 for that route alone, with the chat rows it compares with (about 5
 * minutes; with `--quick`, about one); its report goes to .bench/results-messages.md or
 * .bench/results-responses.md.
 * Every child process is killed at the end, also on failure and on Ctrl+C.
 */
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import process from "node:process";
import { agentBody, agentResponsesBody, tinyBody, tinyResponsesBody } from "./bench/bodies.ts";
import { type Dialect, DIALECTS, type DialectSpec } from "./bench/dialects.ts";
import {
  cpuSeconds,
  killChildrenOnExit,
  rssMiB,
  run,
  sleep,
  type Started,
  startServerProcess,
  stop,
  stopAll,
  unexpectedExits,
} from "./bench/procs.ts";
import { CLIENT_HEADERS, CODEX_HEADERS } from "./bench/client-headers.ts";
import type { TranslationCosts } from "./bench/micro.ts";
import { BENCH_TOKEN, CHUNKS } from "./bench/upstream.ts";
import { wrk, type WrkResult } from "./bench/wrk.ts";

const ROOT = join(import.meta.dirname ?? ".", "..");
const OUT = join(ROOT, ".bench");
const TMP = join(OUT, "tmp");
const LOGS = join(OUT, "logs");
const BUN = existsSync(join(ROOT, "node_modules/.bin/bun"))
  ? join(ROOT, "node_modules/.bin/bun")
  : process.execPath;
const DENO = join(ROOT, "node_modules/.bin/deno");
const BINARY = join(ROOT, "dist/qwen");
const HELLO = join(OUT, "hello");

const quick = process.argv.includes("--quick");
/**
 * `--only memory`: the memory sequence alone (binary and Bun limit); `--only messages`, `--only
 * responses`: that translated route's rows and the chat rows they compare with. To iterate on one
 * part quickly.
 */
const only = process.argv.includes("--only")
  ? process.argv[process.argv.indexOf("--only") + 1]
  : undefined;
if (only !== undefined && only !== "memory" && only !== "messages" && only !== "responses") {
  process.stderr.write(
    `bench: --only takes "memory", "messages" or "responses", not ${JSON.stringify(only)}\n`,
  );
  process.exit(2);
}
/** The translated routes this run measures: one with `--only messages|responses`, else all. */
const DIALECTS_RUN: Dialect[] = only === "messages" || only === "responses"
  ? [only]
  : ["messages", "responses"];
/** A run of one translated route's part alone. */
const translatedOnly = only === "messages" || only === "responses";
/** The translated routes' cells: the four request kinds at 16 connections. */
const TRANSLATED_CELLS: Cell[] = (["json", "stream"] as const).flatMap((mode) =>
  (["tiny", "agent"] as const).map((size) => ({ mode, size, c: 16 }))
);
const plan = quick
  ? {
    steadySeconds: 0,
    warmupSeconds: 0,
    seconds: 1,
    rounds: 1,
    cells: [
      { mode: "json", size: "tiny", c: 16 },
      { mode: "stream", size: "tiny", c: 16 },
      { mode: "json", size: "tiny", c: 1 },
      { mode: "json", size: "agent", c: 1 },
    ] as Cell[],
    delayedStreams: 1,
    memoryCounts: [10_000],
    translatedCounts: [10_000],
    startupRuns: 10,
  }
  : {
    steadySeconds: 3,
    warmupSeconds: 1,
    seconds: 2,
    rounds: 3,
    cells: (["json", "stream"] as const).flatMap((mode) =>
      (["tiny", "agent"] as const).flatMap((size) => [1, 16, 256].map((c) => ({ mode, size, c })))
    ),
    delayedStreams: 5,
    memoryCounts: [10_000, 100_000],
    translatedCounts: [10_000, 100_000],
    startupRuns: 30,
  };

interface Cell {
  mode: "json" | "stream";
  size: "tiny" | "agent";
  c: number;
}

type TargetName =
  | "direct"
  | "limit-bun"
  | "floor-bun"
  | "qwen-bun"
  | "qwen-bin"
  | "limit-deno"
  | "floor-deno"
  | "qwen-deno";

interface Target {
  name: TargetName;
  label: string;
  /** The chat completions URL. */
  url: string;
  /** `http://127.0.0.1:PORT` */
  origin: string;
  /** A qwen target: it serves the translated routes too. */
  qwen: boolean;
  /** The target it is held against (the minimal pass-through of its runtime). */
  limit?: TargetName;
  pid?: number;
}

const TARGET_ORDER: TargetName[] = [
  "direct",
  "limit-bun",
  "floor-bun",
  "qwen-bun",
  "qwen-bin",
  "limit-deno",
  "floor-deno",
  "qwen-deno",
];

const LABELS: Record<TargetName, string> = {
  "direct": "direct",
  "limit-bun": "limit Bun",
  "floor-bun": "floor Bun",
  "qwen-bun": "qwen Bun",
  "qwen-bin": "qwen binary",
  "limit-deno": "limit Deno",
  "floor-deno": "floor Deno",
  "qwen-deno": "qwen Deno",
};

const CHUNK_INTERVAL_MS = 50;

/** The targets that serve the translated routes. */
const QWEN_TARGETS: TargetName[] = ["qwen-bun", "qwen-bin", "qwen-deno"];
/** A path of the translated cells: the chat path or a translated route. */
type Path = "chat" | Dialect;

function dialectUrl(target: Target, dialect: Dialect): string {
  return `${target.origin}${DIALECTS[dialect].path}`;
}

// ---------------------------------------------------------------------------------------------

function requireWrk(): void {
  const found = spawnSync("wrk", ["-v"], { stdio: "ignore" });
  if (found.error) {
    process.stderr.write(
      "The benchmark needs wrk (an HTTP load generator) and it is not installed.\n" +
        "Install it with:\n\n  apt-get install -y wrk\n\n(as root, or with sudo), then run " +
        '"npm run bench" again.\n',
    );
    process.exit(2);
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

async function ensureBinaries(): Promise<void> {
  const stale = !existsSync(BINARY) ||
    statSync(BINARY).mtimeMs < newestMtime(join(ROOT, "src"));
  if (stale) {
    log("building dist/qwen (missing or older than src/) with scripts/build.ts --host");
    const r = await run(BUN, [join(ROOT, "scripts/build.ts"), "--host"], process.env);
    if (r.code !== 0) throw new Error(`Cannot build dist/qwen:\n${r.stderr}${r.stdout}`);
  }
  const source = join(ROOT, "scripts/bench/hello.ts");
  if (
    !existsSync(HELLO) || statSync(HELLO).mtimeMs < statSync(source).mtimeMs ||
    statSync(HELLO).mtimeMs < statSync(join(ROOT, "scripts/bench.ts")).mtimeMs
  ) {
    // The same flags scripts/build.ts gives qwen.
    const r = await run(BUN, [
      "build",
      "--compile",
      "--minify",
      "--sourcemap=none",
      "--bytecode",
      source,
      "--outfile",
      HELLO,
    ], process.env);
    if (r.code !== 0) throw new Error(`Cannot build the hello-world:\n${r.stderr}${r.stdout}`);
  }
}

/** The environment of every child: loopback only, our own QWEN_HOME, no proxies. */
function childEnv(home: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(https?|all|no)_proxy$/i.test(name) || name.startsWith("QWEN_")) delete env[name];
  }
  env.NO_PROXY = "127.0.0.1,localhost";
  env.QWEN_HOME = home;
  // A refresh is never due (the token expires in a day); if one were, it would go nowhere.
  env.QWEN_OAUTH_BASE_URL = "http://127.0.0.1:9";
  env.NO_COLOR = "1";
  return env;
}

function writeCredentials(home: string, upstream: string): void {
  mkdirSync(home, { recursive: true });
  writeFileSync(
    join(home, "oauth_creds.json"),
    JSON.stringify({
      access_token: BENCH_TOKEN,
      refresh_token: "bench-refresh-token",
      token_type: "Bearer",
      resource_url: upstream,
      expiry_date: Date.now() + 24 * 3600_000,
    }),
    { mode: 0o600 },
  );
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

// ---------------------------------------------------------------------------------------------

/** One request of each kind through `url`, checked: a target that answers wrongly is no target. */
async function verify(target: Target): Promise<void> {
  const json = await fetch(target.url, {
    method: "POST",
    headers: CLIENT_HEADERS,
    body: tinyBody(false),
  });
  const answer = await json.json() as { choices?: { message?: { content?: string } }[] };
  if (json.status !== 200 || answer.choices?.[0]?.message?.content !== CHUNKS.join("")) {
    throw new Error(`${target.label} answered ${json.status}: ${JSON.stringify(answer)}`);
  }
  const sse = await fetch(target.url, {
    method: "POST",
    headers: CLIENT_HEADERS,
    body: tinyBody(true),
  });
  const text = await sse.text();
  const contents = text.match(/"content":"word\d+ "/g)?.length ?? 0;
  if (sse.status !== 200 || contents !== 20 || !text.trimEnd().endsWith("data: [DONE]")) {
    throw new Error(`${target.label} streamed ${sse.status} with ${contents} events: ${text}`);
  }
}

/** A few hundred requests of every kind, so JITs and connection pools are warm. */
async function warmUp(
  url: string,
  bodies: string[],
  headers: Readonly<Record<string, string>> = CLIENT_HEADERS,
): Promise<void> {
  for (let round = 0; round < 25; round++) {
    await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const response = await fetch(url, {
        method: "POST",
        headers,
        body: bodies[(round + i) % bodies.length],
      });
      await response.arrayBuffer();
    }));
  }
}

interface Delays {
  /** Chat path, the stamp as a field of every event (words, finish, usage): the first table. */
  chat: number[];
  /** The stamp at the end of each word's text, the one every dialect carries: chat path. */
  chatText: number[];
  /** The same through each translated route (qwen targets). */
  text: Partial<Record<Dialect, number[]>>;
}

/**
 * Delays (ms) between the fake sending each event and it reaching us, over `streams` slow
 * streams; a qwen target takes a chat stream and one through each translated route in turn.
 */
async function chunkDelays(target: Target, streams: number): Promise<Delays> {
  const delays: Delays = { chat: [], chatText: [], text: {} };
  for (let s = 0; s < streams; s++) {
    const seen = await slowStream(
      target.url,
      CLIENT_HEADERS,
      tinyBody(true, {
        bench_chunk_delay_ms: CHUNK_INTERVAL_MS,
      }),
      delays.chat,
      delays.chatText,
    );
    // The 20 words, the finish event and the usage event (`stream_options.include_usage`).
    if (seen.field !== CHUNKS.length + 2 || seen.text !== CHUNKS.length) {
      throw new Error(
        `${target.label}: ${seen.field} stamped events (${seen.text} in the text) instead of ` +
          `${CHUNKS.length + 2} (${CHUNKS.length})`,
      );
    }
    if (!target.qwen) continue;
    for (const dialect of DIALECTS_RUN) {
      const spec = DIALECTS[dialect];
      const seen = await slowStream(
        dialectUrl(target, dialect),
        spec.headers,
        spec.slowBody(CHUNK_INTERVAL_MS),
        [],
        delays.text[dialect] ??= [],
        spec.deltaMarker,
      );
      if (seen.text !== CHUNKS.length) {
        throw new Error(
          `${target.label} (${spec.title}): ${seen.text} stamped text deltas instead of ` +
            `${CHUNKS.length}`,
        );
      }
    }
  }
  return delays;
}

/**
 * Reads one slow stream, noting each stamp's delay; returns how many stamps of each kind. With
 * `deltaMarker`, only the events that contain it count for the text stamps.
 */
async function slowStream(
  url: string,
  headers: Readonly<Record<string, string>>,
  body: string,
  fieldDelays: number[],
  textDelays: number[],
  deltaMarker?: string,
): Promise<{ field: number; text: number }> {
  const decoder = new TextDecoder();
  const response = await fetch(url, { method: "POST", headers, body });
  const reader = response.body!.getReader();
  let buffer = "";
  const seen = { field: 0, text: 0 };
  for (;;) {
    const { done, value } = await reader.read();
    const arrivedAt = performance.timeOrigin + performance.now();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const sentAt = /"sent_at":([\d.]+)/.exec(event)?.[1];
      if (sentAt !== undefined) {
        fieldDelays.push(arrivedAt - Number(sentAt));
        seen.field++;
      }
      // `"content":"word3 @<ms>"` on the chat path, `"text":"word3 @<ms>"` through
      // /v1/messages, `"delta":"word3 @<ms>"` through /v1/responses.
      if (deltaMarker !== undefined && !event.includes(deltaMarker)) continue;
      const textSentAt = /"word\d+ @([\d.]+)"/.exec(event)?.[1];
      if (textSentAt !== undefined) {
        textDelays.push(arrivedAt - Number(textSentAt));
        seen.text++;
      }
    }
  }
  return seen;
}

/** Opens a stream the fake holds open after its first event; resolves once that event is in. */
function openHeldStream(origin: string): Promise<Socket> {
  const { hostname, port } = new URL(origin);
  const body = tinyBody(true, { bench_hold: true });
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(
        `POST /v1/chat/completions HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
          Object.entries(CLIENT_HEADERS).map(([name, value]) => `${name}: ${value}\r\n`).join("") +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    });
    let received = "";
    const onData = (data: Buffer) => {
      received += data.toString("latin1");
      if (received.includes("data: {")) {
        socket.off("data", onData);
        socket.on("data", () => {});
        resolve(socket);
      }
    };
    socket.on("data", onData);
    socket.on("error", reject);
    socket.setTimeout(30_000, () => reject(new Error("no first event within 30 s")));
  });
}

// ---------------------------------------------------------------------------------------------

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function timeRun(command: string, args: string[], env: Record<string, string | undefined>) {
  const start = performance.now();
  const r = spawnSync(command, args, { env, stdio: "ignore" });
  const ms = performance.now() - start;
  if (r.status !== 0) throw new Error(`"${command} ${args.join(" ")}" exited with ${r.status}`);
  return ms;
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));
const rps = (n: number) => Math.round(n).toLocaleString("en-US");

interface CellResult extends Cell {
  results: Partial<Record<TargetName, WrkResult>>;
}

/** One wrk run and the CPU time the serving process spent on it, per request. */
interface PathResult extends WrkResult {
  cpuMicros: number;
}

/** One translated cell: per qwen target, its chat run and its run through each translated route. */
interface TranslatedCellResult extends Cell {
  results: Partial<Record<TargetName, Partial<Record<Path, PathResult>>>>;
}

interface Check {
  goal: string;
  measured: string;
  pass: boolean;
}

/**
 * The bodies as files for wrk: `tiny-json`, `agent-stream`, … per path; and the streamed
 * `/v1/responses` requests of the memory sequence, which ask for their response to be kept.
 */
interface BodyFiles {
  paths: Record<Path, Record<string, string>>;
  storedResponses: { tiny: string; agent: string };
}

function writeBodies(): BodyFiles {
  const write = (name: string, body: string) => {
    const file = join(TMP, `${name}.json`);
    writeFileSync(file, body);
    return file;
  };
  const paths: Record<Path, Record<string, string>> = { chat: {}, messages: {}, responses: {} };
  for (const size of ["tiny", "agent"] as const) {
    for (const mode of ["json", "stream"] as const) {
      const stream = mode === "stream";
      const key = `${size}-${mode}`;
      paths.chat[key] = write(key, size === "tiny" ? tinyBody(stream) : agentBody(stream));
      for (const dialect of ["messages", "responses"] as const) {
        paths[dialect][key] = write(`${dialect}-${key}`, DIALECTS[dialect].body(size, stream));
      }
    }
  }
  return {
    paths,
    storedResponses: {
      tiny: write("responses-tiny-stream-stored", tinyResponsesBody(true, { store: true })),
      agent: write("responses-agent-stream-stored", agentResponsesBody(true, { store: true })),
    },
  };
}

async function main(): Promise<void> {
  requireWrk();
  killChildrenOnExit();
  for (const dir of [OUT, TMP, LOGS]) mkdirSync(dir, { recursive: true });
  const started = Date.now();
  await ensureBinaries();

  const files = writeBodies();
  const bodyFiles = files.paths.chat;
  const allBodies = Object.values(bodyFiles).map((p) => readFileSync(p, "utf8"));

  // Processes.
  const home = join(TMP, "qwen-home");
  const env = childEnv(home);
  const serve = ["serve", "--host", "127.0.0.1", "--port", "0"];
  if (only === "memory") {
    const report = renderMemory((await measureMemory(env, home, files, serve)).points).join("\n");
    process.stdout.write(`${report}\n`);
    return;
  }
  const logFile = (name: string) => join(LOGS, `${name}.log`);
  const upstream = await startServerProcess(
    "the fake upstream",
    BUN,
    [join(ROOT, "scripts/bench/upstream.ts")],
    { env, log: logFile("upstream") },
  );
  writeCredentials(home, upstream.url);
  const entry = join(ROOT, "src/main.ts");
  const spawns: [TargetName, string, string[]][] = [
    ["limit-bun", BUN, [join(ROOT, "scripts/bench/passthrough-bun.ts"), upstream.url]],
    ["floor-bun", BUN, [join(ROOT, "scripts/bench/floor-bun.ts"), upstream.url]],
    ["qwen-bun", BUN, [entry, ...serve]],
    ["qwen-bin", BINARY, serve],
    ["limit-deno", DENO, [
      "run",
      "-A",
      join(ROOT, "scripts/bench/passthrough-deno.ts"),
      upstream.url,
    ]],
    ["floor-deno", DENO, ["run", "-A", join(ROOT, "scripts/bench/floor-deno.ts"), upstream.url]],
    ["qwen-deno", DENO, ["run", "-A", entry, ...serve]],
  ];
  const wanted = (name: TargetName) => !translatedOnly || QWEN_TARGETS.includes(name);
  const servers = new Map<TargetName, Started>();
  for (const [name, command, args] of spawns) {
    if (!wanted(name)) continue;
    servers.set(name, await startServerProcess(name, command, args, { env, log: logFile(name) }));
  }
  const targets: Target[] = TARGET_ORDER.filter(wanted).map((name) => {
    const origin = name === "direct" ? upstream.url : servers.get(name)!.url;
    return {
      name,
      label: LABELS[name],
      url: `${origin}/v1/chat/completions`,
      origin,
      qwen: QWEN_TARGETS.includes(name),
      limit: name === "qwen-deno"
        ? "limit-deno"
        : name.startsWith("qwen")
        ? "limit-bun"
        : undefined,
      pid: servers.get(name)?.pid,
    };
  });
  const qwenTargets = targets.filter((t) => t.qwen);
  for (const target of targets) {
    await verify(target);
    await warmUp(target.url, allBodies);
    if (!target.qwen) continue;
    for (const dialect of DIALECTS_RUN) {
      const spec = DIALECTS[dialect];
      const url = dialectUrl(target, dialect);
      await spec.verify(url, target.label);
      const bodies = Object.values(files.paths[dialect]).map((p) => readFileSync(p, "utf8"));
      await warmUp(url, bodies, spec.headers);
    }
  }
  // A JIT reaches its steady state only after thousands of calls, and qwen has far more code to
  // compile than the limit: from a cold start, its p99 at one connection measured 2.2 to 3.7 ms
  // over the first two seconds of load and 1.1 to 1.7 ms after. A service runs warm; so does
  // each target here, with a few seconds of all four request kinds before the first cell (and
  // of all four kinds of each translated route on the qwen targets).
  if (plan.steadySeconds > 0) {
    for (const target of targets) {
      const r = await wrk({
        url: target.url,
        bodies: Object.values(bodyFiles),
        connections: 16,
        seconds: plan.steadySeconds,
      });
      if (r.errors > 0) throw new Error(`${target.label}, warming up: ${r.errors} failed requests`);
      if (!target.qwen) continue;
      for (const dialect of DIALECTS_RUN) {
        const m = await wrk({
          url: dialectUrl(target, dialect),
          bodies: Object.values(files.paths[dialect]),
          headers: DIALECTS[dialect].headers,
          connections: 16,
          seconds: plan.steadySeconds,
        });
        if (m.errors > 0) {
          throw new Error(
            `${target.label} (${DIALECTS[dialect].title}), warming up: ${m.errors} failed requests`,
          );
        }
      }
    }
  }
  const chatCells = translatedOnly ? [] : plan.cells;
  log(
    `all targets answer correctly; ${chatCells.length} cells × ${targets.length} targets, then ` +
      `${TRANSLATED_CELLS.length} translated cells × ${qwenTargets.length} targets × ` +
      `${1 + DIALECTS_RUN.length} paths (chat, ${
        DIALECTS_RUN.map((d) => DIALECTS[d].title).join(", ")
      })`,
  );

  // 1. Throughput and latency: the targets take turns, round after round, so that drift of a
  // shared machine falls on all of them; each reports its median round (by requests/s).
  const cells: CellResult[] = [];
  for (const cell of chatCells) {
    const result: CellResult = { ...cell, results: {} };
    const rounds = new Map<TargetName, WrkResult[]>(targets.map((t) => [t.name, []]));
    const options = (target: Target) => ({
      url: target.url,
      bodies: [bodyFiles[`${cell.size}-${cell.mode}`]],
      connections: cell.c,
    });
    if (plan.warmupSeconds > 0) {
      for (const target of targets) await wrk({ ...options(target), seconds: plan.warmupSeconds });
    }
    for (let round = 0; round < plan.rounds; round++) {
      for (const target of targets) {
        const r = await wrk({ ...options(target), seconds: plan.seconds });
        if (r.errors > 0) {
          throw new Error(`${target.label}, ${describeCell(cell)}: ${r.errors} failed requests`);
        }
        rounds.get(target.name)!.push(r);
      }
    }
    for (const target of targets) {
      const sorted = rounds.get(target.name)!.sort((a, b) => a.rps - b.rps);
      const r = sorted[Math.floor(sorted.length / 2)];
      result.results[target.name] = r;
      log(`${describeCell(cell)} ${target.label}: ${rps(r.rps)} req/s, p50 ${ms(r.p50)} ms`);
    }
    cells.push(result);
  }
  const peakMiB: Partial<Record<TargetName, number>> = {};
  for (const target of targets) {
    if (target.pid !== undefined) peakMiB[target.name] = hwmMiB(target.pid);
  }

  // 5. The translated routes against the chat path of the same process.
  const translatedCells = await measureTranslated(qwenTargets, files);
  const translation: Partial<Record<Dialect, TranslationCosts[]>> = {};
  for (const dialect of DIALECTS_RUN) {
    const script = join(ROOT, DIALECTS[dialect].translationScript);
    for (const [command, args] of [[BUN, []], [DENO, ["run", "-A"]]] as const) {
      const r = await run(command, [...args, script, ...(quick ? ["--quick"] : [])], env);
      if (r.code !== 0) {
        throw new Error(`The translation micro-benchmark ${script} failed:\n${r.stderr}`);
      }
      (translation[dialect] ??= []).push(JSON.parse(r.stdout));
    }
  }
  log("translations measured in process");

  // 2. Per-event delay of a slow stream.
  const delays: Partial<Record<TargetName, Delays>> = {};
  for (const target of targets) {
    delays[target.name] = await chunkDelays(target, plan.delayedStreams);
  }
  log("chunk delays measured");

  // 3. Memory of a fresh compiled binary, and of the Bun limit under the same sequence.
  await stopAll();
  const { points: memory, store } = await measureMemory(env, home, files, serve);
  const translated: TranslatedData = { cells: translatedCells, translation, delays, memory, store };
  if (translatedOnly) {
    const report = renderTranslatedOnly(translated, DIALECTS[only], started);
    writeFileSync(join(OUT, `results-${only}.md`), report);
    writeFileSync(
      join(OUT, `results-${only}.json`),
      JSON.stringify({ quick, plan, ...translated }, null, 2),
    );
    process.stdout.write(report);
    log(`written to .bench/results-${only}.md in ${Math.round((Date.now() - started) / 1000)} s`);
    return;
  }
  // 4. Start-up of the compiled binary.
  const startup = { hello: [] as number[], version: [] as number[], status: [] as number[] };
  for (let i = 0; i < 3; i++) {
    timeRun(HELLO, [], env);
    timeRun(BINARY, ["--version"], env);
    timeRun(BINARY, ["status", "--json"], env);
  }
  for (let i = 0; i < plan.startupRuns; i++) {
    startup.hello.push(timeRun(HELLO, [], env));
    startup.version.push(timeRun(BINARY, ["--version"], env));
    startup.status.push(timeRun(BINARY, ["status", "--json"], env));
  }

  // Report.
  const report = render({ cells, delays, memory, peakMiB, startup, started, translated });
  writeFileSync(join(OUT, "results.md"), report);
  writeFileSync(
    join(OUT, "results.json"),
    JSON.stringify(
      {
        quick,
        plan,
        cells,
        delays,
        memory,
        peakMiB,
        startup,
        translated: {
          cells: translated.cells,
          translation: translated.translation,
          store: translated.store,
        },
      },
      null,
      2,
    ),
  );
  process.stdout.write(report);
  log(`written to .bench/results.md in ${Math.round((Date.now() - started) / 1000)} s`);
}

/**
 * Each translated cell on each qwen target, its chat twin right next to it: per round, the
 * targets take turns and each runs every path (which one first rotates by round). The serving
 * process's CPU time is read around every run; a run's median round counts, by requests/s, and
 * the CPU per request is the median over the rounds.
 */
async function measureTranslated(
  targets: Target[],
  files: BodyFiles,
): Promise<TranslatedCellResult[]> {
  const paths: Path[] = ["chat", ...DIALECTS_RUN];
  const out: TranslatedCellResult[] = [];
  for (const cell of TRANSLATED_CELLS) {
    const key = `${cell.size}-${cell.mode}`;
    const options = (target: Target, path: Path) =>
      path === "chat"
        ? { url: target.url, bodies: [files.paths.chat[key]], connections: cell.c }
        : {
          url: dialectUrl(target, path),
          bodies: [files.paths[path][key]],
          headers: DIALECTS[path].headers,
          connections: cell.c,
        };
    if (plan.warmupSeconds > 0) {
      for (const target of targets) {
        for (const path of paths) {
          await wrk({ ...options(target, path), seconds: plan.warmupSeconds });
        }
      }
    }
    const rounds = new Map<string, PathResult[]>();
    for (let round = 0; round < plan.rounds; round++) {
      const first = round % paths.length;
      const order = [...paths.slice(first), ...paths.slice(0, first)];
      for (const target of targets) {
        for (const path of order) {
          const before = cpuSeconds(target.pid!);
          const r = await wrk({ ...options(target, path), seconds: plan.seconds });
          const cpu = cpuSeconds(target.pid!) - before;
          if (r.errors > 0) {
            throw new Error(
              `${target.label}, ${path} ${describeCell(cell)}: ${r.errors} failed requests`,
            );
          }
          const id = `${target.name} ${path}`;
          if (!rounds.has(id)) rounds.set(id, []);
          rounds.get(id)!.push({ ...r, cpuMicros: (cpu * 1e6) / r.requests });
        }
      }
    }
    const result: TranslatedCellResult = { ...cell, results: {} };
    for (const target of targets) {
      const pick = (path: Path): PathResult => {
        const runs = rounds.get(`${target.name} ${path}`)!;
        const byRate = [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)];
        return { ...byRate, cpuMicros: median(runs.map((r) => r.cpuMicros)) };
      };
      const all: Partial<Record<Path, PathResult>> = {};
      for (const path of paths) all[path] = pick(path);
      result.results[target.name] = all;
      log(
        `${describeCell(cell)} ${target.label}: ` +
          paths.map((path) =>
            `${path} ${rps(all[path]!.rps)} req/s ${Math.round(all[path]!.cpuMicros)} µs CPU`
          ).join(", "),
      );
    }
    out.push(result);
  }
  return out;
}

interface TranslatedData {
  cells: TranslatedCellResult[];
  /** Per translated route, its in-process micro-benchmark on Bun and on Deno. */
  translation: Partial<Record<Dialect, TranslationCosts[]>>;
  delays: Partial<Record<TargetName, Delays>>;
  memory: MemoryPoint[];
  store?: StoreCheck;
}

type MemoryPoint = { point: string; mib: number; requests?: number; limitMiB?: number };

/**
 * Whether the response store let go of old responses and kept new ones: `GET /v1/responses/{id}`
 * of one kept before the stored streams of the memory sequence, and of one kept after them.
 */
interface StoreCheck {
  /** The status of the first one after them all: 404 once evicted. */
  first: number;
  /** The status of the last one: 200. */
  last: number;
  /** The stored streams in between. */
  between: number;
}

/** What the store keeps at most (src/server/app.ts, src/server/openai-responses/store.ts). */
const STORE_CAP = { entries: 1_000, mib: 64 };

/** The memory point of the `/v1/responses` streams that ask for nothing to be kept. */
const UNSTORED = "/v1/responses streams, tiny and agent, store: false";
/** The memory points of the stored responses: `after 10,000 ${STORED[size]}`. */
const STORED = {
  tiny: "stored tiny /v1/responses streams",
  agent: "stored agent /v1/responses streams",
} as const;

/**
 * RSS of a fresh dist/qwen: idle, at 256 open streams, after 10,000 and 100,000 requests (the
 * four request kinds in turn, 16 connections), then after 10,000 and 100,000 more that are tiny
 * /v1/messages streams (translated chunk by chunk); then after 10,000 /v1/responses streams that
 * keep nothing (tiny and agent in turn), and after 10,000 and 100,000 tiny and then agent ones
 * with `store: true`, each kept in the response store (its count cap holds the tiny ones, its
 * size cap the agent ones). The minimal Bun pass-through runs the same
 * sequence afterwards but the translated parts, which it cannot serve: its growth is what the
 * runtime itself does. `--only messages|responses` runs only that route's part, on a fresh binary.
 */
async function measureMemory(
  env: Record<string, string | undefined>,
  home: string,
  files: BodyFiles,
  serve: string[],
): Promise<{ points: MemoryPoint[]; store?: StoreCheck }> {
  const upstream = await startServerProcess(
    "the fake upstream",
    BUN,
    [join(ROOT, "scripts/bench/upstream.ts")],
    { env, log: join(LOGS, "upstream-memory.log") },
  );
  writeCredentials(home, upstream.url);
  let store: StoreCheck | undefined;
  const sequence = async (name: string, command: string, args: string[], translated: boolean) => {
    const proc = await startServerProcess(name, command, args, {
      env,
      log: join(LOGS, `${name}-memory.log`),
    });
    await sleep(1000);
    const points: { point: string; mib: number; requests?: number }[] = [];
    points.push({ point: "idle (started, no request yet)", mib: rssMiB(proc.pid) });
    /** Runs wrk until `counts` requests are done, noting the RSS at each count. */
    const load = async (
      url: string,
      bodies: string[],
      headers: Readonly<Record<string, string>>,
      counts: number[],
      what: string,
    ) => {
      let done = 0;
      let rate = 0;
      for (const count of counts) {
        while (done < count) {
          const seconds = rate === 0 ? 1 : Math.max(1, Math.ceil((count - done) / rate));
          const r = await wrk({ url, bodies, headers, connections: 16, seconds });
          if (r.errors > 0) throw new Error(`memory run (${name}): ${r.errors} failed requests`);
          done += r.requests;
          rate = r.rps;
        }
        await sleep(2000);
        points.push({
          point: `after ${count.toLocaleString("en-US")} ${what}`,
          mib: rssMiB(proc.pid),
          requests: done,
        });
        log(`${name}: memory after ${done} ${what}: ${f1(rssMiB(proc.pid))} MiB`);
      }
    };
    if (!translatedOnly) {
      const held = await Promise.all(Array.from({ length: 256 }, () => openHeldStream(proc.url)));
      let heldMiB = 0;
      for (let i = 0; i < 5; i++) {
        heldMiB = Math.max(heldMiB, rssMiB(proc.pid));
        await sleep(200);
      }
      points.push({ point: "256 open streams", mib: heldMiB });
      for (const socket of held) socket.destroy();
      await sleep(500);
      await load(
        `${proc.url}/v1/chat/completions`,
        Object.values(files.paths.chat),
        CLIENT_HEADERS,
        plan.memoryCounts,
        "requests",
      );
    }
    if (translated && DIALECTS_RUN.includes("messages")) {
      const spec = DIALECTS.messages;
      await load(
        `${proc.url}${spec.path}`,
        [files.paths.messages["tiny-stream"]],
        spec.headers,
        plan.translatedCounts,
        "/v1/messages streams",
      );
    }
    if (translated && DIALECTS_RUN.includes("responses")) {
      const url = `${proc.url}${DIALECTS.responses.path}`;
      // The same traffic with nothing kept first: what the process grows to anyway, the
      // baseline of the store's share.
      await load(
        url,
        [files.paths.responses["tiny-stream"], files.paths.responses["agent-stream"]],
        CODEX_HEADERS,
        plan.translatedCounts.slice(0, 1),
        UNSTORED,
      );
      const first = await keepOneResponse(url);
      let between = 0;
      for (const size of ["tiny", "agent"] as const) {
        await load(
          url,
          [files.storedResponses[size]],
          CODEX_HEADERS,
          plan.translatedCounts,
          STORED[size],
        );
        between += points.at(-1)!.requests!;
      }
      const last = await keepOneResponse(url);
      store = {
        first: await storedStatus(url, first),
        last: await storedStatus(url, last),
        between,
      };
      log(`${name}: GET the first stored response: ${store.first}, the last: ${store.last}`);
    }
    await stop(proc.child);
    return points;
  };
  const qwen = await sequence("qwen-bin", BINARY, serve, true);
  const limit = translatedOnly ? [] : await sequence("limit-bun", BUN, [
    join(ROOT, "scripts/bench/passthrough-bun.ts"),
    upstream.url,
  ], false);
  await stopAll();
  const points = qwen.map((m) => ({ ...m, limitMiB: limit.find((l) => l.point === m.point)?.mib }));
  return { points, store };
}

/** A tiny JSON response kept in the store (`store: true`); its id. */
async function keepOneResponse(url: string): Promise<string> {
  const response = await fetch(url, {
    method: "POST",
    headers: CODEX_HEADERS,
    body: tinyResponsesBody(false, { store: true }),
  });
  const answer = await response.json() as { id?: string };
  if (response.status !== 200 || typeof answer.id !== "string") {
    throw new Error(`Cannot keep a response: ${response.status} ${JSON.stringify(answer)}`);
  }
  return answer.id;
}

/** The status of `GET /v1/responses/{id}`. */
async function storedStatus(url: string, id: string): Promise<number> {
  const response = await fetch(`${url}/${id}`, { headers: CODEX_HEADERS });
  await response.arrayBuffer();
  return response.status;
}

function renderMemory(memory: MemoryPoint[]): string[] {
  const out = ["## Memory (resident, VmRSS)", ""];
  out.push("| Fresh process, same sequence | qwen binary MiB | limit Bun MiB |");
  out.push("| --- | --- | --- |");
  for (const m of memory) {
    const done = m.requests === undefined ? "" : ` (${m.requests.toLocaleString("en-US")} done)`;
    out.push(
      `| ${m.point}${done} | ${f1(m.mib)} | ${m.limitMiB === undefined ? "" : f1(m.limitMiB)} |`,
    );
  }
  return out;
}

function hwmMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

function describeCell(cell: Cell): string {
  return `${cell.mode === "json" ? "JSON" : "stream"} ${cell.size} c=${cell.c}`;
}

/** The title and the line that says when, where and how. */
function renderHeading(started: number): string[] {
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "?";
  const uname = spawnSync("uname", ["-srm"], { encoding: "utf8" }).stdout.trim();
  const bunVersion = spawnSync(BUN, ["--version"], { encoding: "utf8" }).stdout.trim();
  const denoVersion = /deno (\S+)/.exec(
    spawnSync(DENO, ["--version"], { encoding: "utf8" }).stdout,
  )?.[1];
  const flags = [quick ? "--quick" : "", only ? `--only ${only}` : ""].filter(Boolean).join(" ");
  const what = translatedOnly ? `${DIALECTS[only].title} benchmark` : "benchmark";
  return [
    `# qwen serve ${what}${quick ? " (quick)" : ""}`,
    "",
    `${new Date(started).toISOString().slice(0, 16).replace("T", " ")} UTC · ` +
    `${cpus().length} cores (${cpu}) · ${uname} · Bun ${bunVersion} · Deno ${denoVersion} · ` +
    `wrk -t1, ${
      plan.steadySeconds ? `${plan.steadySeconds} s of mixed load per target, then ` : ""
    }` +
    `${plan.warmupSeconds ? `${plan.warmupSeconds} s warm-up + ` : ""}` +
    `${plan.rounds > 1 ? `the median of ${plan.rounds} interleaved rounds of ` : ""}` +
    `${plan.seconds} s per cell · \`npm run bench${flags ? ` -- ${flags}` : ""}\``,
    "",
  ];
}

function render(data: {
  cells: CellResult[];
  delays: Partial<Record<TargetName, Delays>>;
  memory: MemoryPoint[];
  peakMiB: Partial<Record<TargetName, number>>;
  startup: { hello: number[]; version: number[]; status: number[] };
  started: number;
  translated: TranslatedData;
}): string {
  const { cells, delays, memory, peakMiB, startup } = data;
  const out: string[] = renderHeading(data.started);
  out.push(
    "Targets: **direct** = the fake upstream itself; **limit** = a minimal pass-through proxy " +
      "(forward, return the upstream's answer) on the same runtime; **floor** = the limit plus " +
      "only what qwen's features need (see below); **qwen** = `qwen serve` from source, and the " +
      "compiled `dist/qwen`. Ratios: qwen ÷ the limit of its runtime (Bun's for the binary). " +
      "Streams: 20 events.",
  );
  out.push("");

  out.push("## Throughput (requests/s)");
  out.push("");
  out.push(
    "| Load | " + TARGET_ORDER.map((t) => LABELS[t]).join(" | ") +
      " | Bun ÷ limit | binary ÷ limit | Deno ÷ limit | Bun ÷ direct |",
  );
  out.push("|" + " --- |".repeat(TARGET_ORDER.length + 5));
  for (const cell of cells) {
    const r = cell.results;
    const ratio = (a: TargetName, b: TargetName) => f2(r[a]!.rps / r[b]!.rps);
    out.push(
      `| ${describeCell(cell)} | ` + TARGET_ORDER.map((t) => rps(r[t]!.rps)).join(" | ") +
        ` | ${ratio("qwen-bun", "limit-bun")} | ${ratio("qwen-bin", "limit-bun")} | ` +
        `${ratio("qwen-deno", "limit-deno")} | ${ratio("qwen-bun", "direct")} |`,
    );
  }
  out.push("");

  out.push("## What the features cost");
  out.push("");
  out.push(
    "Requests/s ratios. **floor** = the smallest proxy that does what qwen's features require " +
      "of every request and nothing else: an abortable fetch, the JSON answer read whole (usage), " +
      "a stream passed chunk by chunk through JavaScript (idle timeout, error event, usage), " +
      "sent as one body when it had all arrived by the time it starts, as qwen does " +
      "(scripts/bench/floor-*.ts). floor ÷ limit is the price of those features on the runtime; " +
      "qwen ÷ floor is what qwen's own code costs on top.",
  );
  out.push("");
  out.push(
    "| Load | floor Bun ÷ limit | qwen Bun ÷ floor | floor Deno ÷ limit | qwen Deno ÷ floor |",
  );
  out.push("| --- | --- | --- | --- | --- |");
  for (const cell of cells) {
    const r = cell.results;
    const ratio = (a: TargetName, b: TargetName) => f2(r[a]!.rps / r[b]!.rps);
    out.push(
      `| ${describeCell(cell)} | ${ratio("floor-bun", "limit-bun")} | ` +
        `${ratio("qwen-bun", "floor-bun")} | ${ratio("floor-deno", "limit-deno")} | ` +
        `${ratio("qwen-deno", "floor-deno")} |`,
    );
  }
  out.push("");

  out.push("## Latency p50 / p99 (ms)");
  out.push("");
  out.push(
    "| Load | " + TARGET_ORDER.map((t) => LABELS[t]).join(" | ") +
      " | Bun ÷ limit | binary ÷ limit | Deno ÷ limit |",
  );
  out.push("|" + " --- |".repeat(TARGET_ORDER.length + 4));
  for (const cell of cells) {
    const r = cell.results;
    const ratio = (a: TargetName, b: TargetName) =>
      `${f2(r[a]!.p50 / r[b]!.p50)} / ${f2(r[a]!.p99 / r[b]!.p99)}`;
    out.push(
      `| ${describeCell(cell)} | ` +
        TARGET_ORDER.map((t) => `${ms(r[t]!.p50)} / ${ms(r[t]!.p99)}`).join(" | ") +
        ` | ${ratio("qwen-bun", "limit-bun")} | ${ratio("qwen-bin", "limit-bun")} | ` +
        `${ratio("qwen-deno", "limit-deno")} |`,
    );
  }
  out.push("");

  out.push(`## A stream of 20 events ${CHUNK_INTERVAL_MS} ms apart`);
  out.push("");
  out.push("Delay from the fake sending an event to the client reading it (ms).");
  out.push("");
  out.push("| Target | events | median | worst | median − direct |");
  out.push("| --- | --- | --- | --- | --- |");
  const directMedian = median(delays.direct!.chat);
  for (const t of TARGET_ORDER) {
    const d = delays[t]!.chat;
    out.push(
      `| ${LABELS[t]} | ${d.length} | ${ms(median(d))} | ${ms(Math.max(...d))} | ` +
        `${t === "direct" ? "" : ms(median(d) - directMedian)} |`,
    );
  }
  out.push("");

  out.push(...renderMemory(memory));
  out.push(
    "| peak during the load above (VmHWM): " +
      ([
        "qwen-bun",
        "qwen-bin",
        "qwen-deno",
        "limit-bun",
        "floor-bun",
        "limit-deno",
        "floor-deno",
      ] as TargetName[])
        .map((t) => `${LABELS[t]} ${f1(peakMiB[t] ?? 0)}`).join(", ") +
      " | | |",
  );
  out.push("");

  const hello = median(startup.hello);
  out.push("## Start-up (wall time, median of " + startup.hello.length + " runs)");
  out.push("");
  out.push("| Command | ms | ÷ hello-world |");
  out.push("| --- | --- | --- |");
  out.push(`| compiled hello-world (\`bun build --compile --bytecode\`) | ${ms(hello)} | 1.00 |`);
  out.push(
    `| \`dist/qwen --version\` | ${ms(median(startup.version))} | ${
      f2(median(startup.version) / hello)
    } |`,
  );
  out.push(
    `| \`dist/qwen status --json\` | ${ms(median(startup.status))} | ${
      f2(median(startup.status) / hello)
    } |`,
  );
  out.push("");

  for (const dialect of DIALECTS_RUN) {
    out.push(...renderDialect(data.translated, DIALECTS[dialect]));
  }
  out.push(...renderChecks("## Targets (issue 5)", evaluate(data, hello)));
  for (const dialect of DIALECTS_RUN) {
    out.push(...renderDialectChecks(data.translated, DIALECTS[dialect]));
  }
  return out.join("\n");
}

function renderChecks(title: string, checks: Check[]): string[] {
  const out = [title, "", "| Goal | Measured | |", "| --- | --- | --- |"];
  for (const c of checks) {
    out.push(`| ${c.goal} | ${c.measured} | ${c.pass ? "pass" : "**FAIL**"} |`);
  }
  out.push("");
  return out;
}

/** The report of `--only messages|responses`: that route's part, its memory rows, its goals. */
function renderTranslatedOnly(data: TranslatedData, spec: DialectSpec, started: number): string {
  const out = renderHeading(started);
  out.push(...renderDialect(data, spec));
  out.push(...renderMemory(data.memory), "");
  out.push(...renderDialectChecks(data, spec));
  return out.join("\n");
}

function renderDialectChecks(data: TranslatedData, spec: DialectSpec): string[] {
  return renderChecks(
    `## Targets of ${spec.title} (issue ${spec.issue})`,
    evaluateDialect(data, spec),
  );
}

const QWEN_LABELS: Record<string, string> = {
  "qwen-bun": "Bun",
  "qwen-bin": "binary",
  "qwen-deno": "Deno",
};

/** One translated route against the chat path: throughput, latency, CPU, in process, delays. */
function renderDialect(data: TranslatedData, spec: DialectSpec): string[] {
  const { cells, delays } = data;
  const translation = data.translation[spec.name] ?? [];
  const d = spec.name;
  const x = spec.short;
  const out: string[] = [];
  const names = QWEN_TARGETS;
  const paths = (cell: TranslatedCellResult, t: TargetName) => cell.results[t]!;
  out.push(`## ${spec.title} against /v1/chat/completions`);
  out.push("");
  out.push(
    `The same requests in both dialects (the agent one with the same text, ${spec.shape}), ` +
      "through the same process, the paths taking turns. **chat** = `/v1/chat/completions`, " +
      `**${x}** = \`${spec.title}\` (translated to a chat completion and back); ÷ = ${x} ÷ chat.`,
  );
  out.push("");
  out.push("### Throughput (requests/s)");
  out.push("");
  out.push(
    "| Load | " +
      names.map((t) => `${QWEN_LABELS[t]} chat | ${QWEN_LABELS[t]} ${x} | ÷`).join(" | ") + " |",
  );
  out.push("|" + " --- |".repeat(1 + names.length * 3));
  for (const cell of cells) {
    out.push(
      `| ${describeCell(cell)} | ` + names.map((t) => {
        const r = paths(cell, t);
        return `${rps(r.chat!.rps)} | ${rps(r[d]!.rps)} | ${f2(r[d]!.rps / r.chat!.rps)}`;
      }).join(" | ") + " |",
    );
  }
  out.push("");
  out.push("### Latency p50 / p99 (ms)");
  out.push("");
  out.push(
    "| Load | " + names.map((t) => `${QWEN_LABELS[t]} chat | ${QWEN_LABELS[t]} ${x}`).join(" | ") +
      " |",
  );
  out.push("|" + " --- |".repeat(1 + names.length * 2));
  for (const cell of cells) {
    out.push(
      `| ${describeCell(cell)} | ` + names.map((t) => {
        const r = paths(cell, t);
        return `${ms(r.chat!.p50)} / ${ms(r.chat!.p99)} | ${ms(r[d]!.p50)} / ${ms(r[d]!.p99)}`;
      }).join(" | ") + " |",
    );
  }
  out.push("");
  out.push("### CPU time per request (µs)");
  out.push("");
  out.push(
    "The serving process's user + system time (/proc/PID/stat, every thread) over a run, " +
      `divided by the requests it answered; the median of the rounds. + = ${x} − chat.`,
  );
  out.push("");
  out.push(
    "| Load | " +
      names.map((t) => `${QWEN_LABELS[t]} chat | ${QWEN_LABELS[t]} ${x} | +`).join(" | ") + " |",
  );
  out.push("|" + " --- |".repeat(1 + names.length * 3));
  for (const cell of cells) {
    out.push(
      `| ${describeCell(cell)} | ` + names.map((t) => {
        const r = paths(cell, t);
        return `${Math.round(r.chat!.cpuMicros)} | ${Math.round(r[d]!.cpuMicros)} | ` +
          `${signed(r[d]!.cpuMicros - r.chat!.cpuMicros)}`;
      }).join(" | ") + " |",
    );
  }
  out.push("");
  out.push("### The translation alone (in process, µs per request)");
  out.push("");
  out.push(
    "What the route does that the chat path does not, timed in a loop " +
      `(${spec.translationScript}; the median of several batches): ${spec.translationParts}.`,
  );
  out.push("");
  out.push(`| Part | ${translation.map((t) => t.runtime).join(" | ")} |`);
  out.push("|" + " --- |".repeat(1 + translation.length));
  for (const part of Object.keys(translation[0]?.micros ?? {})) {
    out.push(`| ${part} | ${translation.map((t) => f1(t.micros[part])).join(" | ")} |`);
  }
  out.push("");
  out.push(`### A stream of 20 events ${CHUNK_INTERVAL_MS} ms apart, through each path`);
  out.push("");
  out.push(
    "The fake puts each event's send time at the end of its text, which the translation " +
      "keeps; delay = arrival − send (ms), over the 20 words of each stream, chat and " +
      `${spec.title} streams in turn.`,
  );
  out.push("");
  out.push(
    `| Target | events | chat median | ${x} median | ${x} − chat | chat worst | ${x} worst |`,
  );
  out.push("| --- | --- | --- | --- | --- | --- | --- |");
  for (const t of names) {
    const chat = delays[t]!.chatText;
    const text = delays[t]!.text[d] ?? [];
    out.push(
      `| ${LABELS[t]} | ${text.length} | ${ms(median(chat))} | ${ms(median(text))} | ` +
        `${signed(median(text) - median(chat), ms)} | ${ms(Math.max(...chat))} | ` +
        `${ms(Math.max(...text))} |`,
    );
  }
  out.push("");
  if (d === "responses" && data.store !== undefined) {
    const { first, last, between } = data.store;
    out.push(
      `The response store, after ${between.toLocaleString("en-US")} stored streams in the ` +
        `memory sequence: \`GET /v1/responses/{id}\` of a response kept before them ${first}, ` +
        `of one kept after them ${last}.`,
    );
    out.push("");
  }
  return out;
}

function signed(n: number, format: (n: number) => string = (n) => String(Math.round(n))): string {
  return `${n < 0 ? "−" : "+"}${format(Math.abs(n))}`;
}

function evaluateDialect(data: TranslatedData, spec: DialectSpec): Check[] {
  const { cells, delays, memory } = data;
  const d = spec.name;
  const translation = data.translation[d] ?? [];
  const checks: Check[] = [];
  for (const t of QWEN_TARGETS) {
    const tiny = cells.filter((cell) => cell.size === "tiny" && cell.c === 16).map((cell) => ({
      cell,
      ratio: cell.results[t]![d]!.rps / cell.results[t]!.chat!.rps,
    })).sort((a, b) => a.ratio - b.ratio)[0];
    if (tiny !== undefined) {
      checks.push({
        goal: `${QWEN_LABELS[t]}: ${spec.title} tiny at c=16 ≥ 0.8 × chat req/s`,
        measured: `worst ${f2(tiny.ratio)} (${describeCell(tiny.cell)})`,
        pass: tiny.ratio >= 0.8,
      });
    }
  }
  for (const costs of translation) {
    const target = costs.runtime === "Deno" ? "qwen-deno" : "qwen-bun";
    const endToEnd = cells.filter((cell) => cell.size === "agent").map((cell) => {
      const r = cell.results[target]!;
      return `${cell.mode === "json" ? "JSON" : "stream"} ${
        signed(r[d]!.cpuMicros - r.chat!.cpuMicros)
      }`;
    }).join(", ");
    checks.push({
      goal: `${costs.runtime}: the translation's own CPU, agent request and streamed answer, ` +
        "< 100 µs (in process)",
      measured: `${f1(costs.own)} µs; besides, the body's JSON parse and re-encoding ` +
        `${f1(costs.codec)} µs` +
        (endToEnd ? `; end to end ${spec.short} − chat: ${endToEnd} µs` : ""),
      pass: costs.own < 100,
    });
  }
  for (const t of QWEN_TARGETS) {
    const delay = delays[t];
    if (delay === undefined) continue;
    const extra = median(delay.text[d] ?? []) - median(delay.chatText);
    checks.push({
      goal: `${LABELS[t]}: ${spec.title} median event delay ≤ chat + 1 ms`,
      measured: `${signed(extra, ms)} ms`,
      pass: extra <= 1,
    });
  }
  if (d === "messages") {
    const growth = memoryGrowth(memory, "/v1/messages streams");
    if (growth !== undefined) {
      checks.push({
        goal: "binary after 100,000 /v1/messages streams within 10 % of after 10,000",
        measured: `${growth >= 0 ? "+" : ""}${f1(growth * 100)} %`,
        pass: Math.abs(growth) <= 0.1,
      });
    }
  } else {
    checks.push(...evaluateStore(data));
  }
  return checks;
}

/**
 * The response store bounded: by 10,000 stored responses it is full (1,000 entries), so RSS must
 * not grow from there to 100,000, for tiny responses (the count cap binds) and for agent ones
 * (the 64 MiB size cap binds first); and all it holds must fit in its cap: RSS after the agent
 * ones at most RSS after the same traffic with `store: false` + 64 MiB. A response kept before
 * them all must be gone, one kept after them there.
 */
function evaluateStore(data: TranslatedData): Check[] {
  const { memory, store } = data;
  const checks: Check[] = [];
  for (const size of ["tiny", "agent"] as const) {
    const growth = memoryGrowth(memory, STORED[size]);
    if (growth === undefined) continue;
    checks.push({
      goal: `binary after 100,000 ${STORED[size]} within 10 % of after 10,000`,
      measured: `${growth >= 0 ? "+" : ""}${f1(growth * 100)} %`,
      pass: Math.abs(growth) <= 0.1,
    });
  }
  const before = memory.find((m) => m.point.endsWith(UNSTORED));
  const agent = memory.filter((m) => m.point.endsWith(STORED.agent)).at(-1);
  if (before !== undefined && agent !== undefined) {
    const grown = agent.mib - before.mib;
    checks.push({
      goal: `binary after the ${STORED.agent} ≤ after as many kept nowhere + ` +
        `${STORE_CAP.mib} MiB (the store's size cap)`,
      measured: `${signed(grown, f1)} MiB (${f1(before.mib)} → ${f1(agent.mib)})`,
      pass: grown <= STORE_CAP.mib,
    });
  }
  if (store !== undefined) {
    checks.push({
      goal: `the store lets old responses go (${STORE_CAP.entries.toLocaleString("en-US")} at ` +
        "most): GET of the first → 404, of the last → 200",
      measured: `${store.first}, ${store.last} (${store.between.toLocaleString("en-US")} between)`,
      pass: store.first === 404 && store.last === 200,
    });
  }
  return checks;
}

/** RSS after 100,000 of `what` ÷ after 10,000, minus one; undefined when not measured. */
function memoryGrowth(memory: MemoryPoint[], what: string): number | undefined {
  const at = (count: string) => memory.find((m) => m.point === `after ${count} ${what}`)?.mib;
  const after10k = at("10,000");
  const after100k = at("100,000");
  return after10k === undefined || after100k === undefined ? undefined : after100k / after10k - 1;
}

function evaluate(
  data: Parameters<typeof render>[0],
  hello: number,
): Check[] {
  const checks: Check[] = [];
  const { cells, delays, memory, startup } = data;
  const at = (c: number) => cells.filter((cell) => cell.c === c);
  for (
    const [name, limit, label] of [
      ["qwen-bun", "limit-bun", "Bun"],
      ["qwen-bin", "limit-bun", "binary"],
      ["qwen-deno", "limit-deno", "Deno"],
    ] as [TargetName, TargetName, string][]
  ) {
    const c16 = at(16);
    if (c16.length > 0) {
      const worst = c16.map((cell) => ({
        cell,
        ratio: cell.results[name]!.rps / cell.results[limit]!.rps,
      })).sort((a, b) => a.ratio - b.ratio)[0];
      checks.push({
        goal: `${label}: req/s at c=16 ≥ 0.9 × ${LABELS[limit]}`,
        measured: `worst ${f2(worst.ratio)} (${describeCell(worst.cell)})`,
        pass: worst.ratio >= 0.9,
      });
    }
    const c1 = at(1);
    if (c1.length > 0) {
      const p50 = c1.map((cell) => ({
        cell,
        ratio: cell.results[name]!.p50 / cell.results[limit]!.p50,
      })).sort((a, b) => b.ratio - a.ratio)[0];
      const p99 = c1.map((cell) => ({
        cell,
        ratio: cell.results[name]!.p99 / cell.results[limit]!.p99,
      })).sort((a, b) => b.ratio - a.ratio)[0];
      checks.push({
        goal: `${label}: c=1 p50 ≤ 1.25 × ${LABELS[limit]}`,
        measured: `worst ${f2(p50.ratio)} (${describeCell(p50.cell)})`,
        pass: p50.ratio <= 1.25,
      });
      checks.push({
        goal: `${label}: c=1 p99 ≤ 1.5 × ${LABELS[limit]}`,
        measured: `worst ${f2(p99.ratio)} (${describeCell(p99.cell)})`,
        pass: p99.ratio <= 1.5,
      });
    }
  }
  const direct = median(delays.direct!.chat);
  for (const t of ["qwen-bun", "qwen-bin", "qwen-deno"] as TargetName[]) {
    const d = delays[t]!.chat;
    const extra = median(d) - direct;
    const worst = Math.max(...d);
    checks.push({
      goal: `${
        LABELS[t]
      }: median event delay ≤ direct + 2 ms; none held back (worst < ${CHUNK_INTERVAL_MS} ms)`,
      measured: `${extra < 0 ? "−" : "+"}${ms(Math.abs(extra))} ms; worst ${ms(worst)} ms`,
      pass: extra <= 2 && worst < CHUNK_INTERVAL_MS,
    });
  }
  const mib = (point: string) => memory.find((m) => m.point.startsWith(point))?.mib;
  const idle = mib("idle")!;
  checks.push({
    goal: "binary idle ≤ 60 MB",
    measured: `${f1(idle)} MiB`,
    pass: idle * 1.048576 <= 60,
  });
  const streams = mib("256")!;
  checks.push({
    goal: "binary with 256 open streams ≤ 150 MB",
    measured: `${f1(streams)} MiB`,
    pass: streams * 1.048576 <= 150,
  });
  const growth = memoryGrowth(memory, "requests");
  if (growth !== undefined) {
    checks.push({
      goal: "binary after 100,000 requests within 10 % of after 10,000",
      measured: `${growth >= 0 ? "+" : ""}${f1(growth * 100)} %`,
      pass: Math.abs(growth) <= 0.1,
    });
  }
  for (
    const [name, runs] of [["--version", startup.version], [
      "status --json",
      startup.status,
    ]] as const
  ) {
    const ratio = median(runs) / hello;
    checks.push({
      goal: `\`qwen ${name}\` ≤ 3 × hello-world`,
      measured: `${f2(ratio)} ×`,
      pass: ratio <= 3,
    });
  }
  return checks;
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench failed: ${(error as Error)?.stack ?? error}\n`);
  for (const death of unexpectedExits()) process.stderr.write(`${death}\n`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
process.exit();
