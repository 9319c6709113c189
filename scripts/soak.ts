/**
 * `npm run soak` (`bun scripts/soak.ts [--minutes N]`, default 10): `qwen serve` under every
 * fault issue 17 names at once, on loopback only, and one table at the end that says whether it
 * held (docs/reliability.md). Not part of `npm test`.
 *
 * Set-up, all in a temporary folder:
 * - the fake OAuth server and the fake model API (scripts/soak/fakes.ts) in this process;
 * - one QWEN_HOME with two OAuth accounts (`default`, `team`) whose access tokens live 2 minutes,
 *   and two API-key accounts (`key-a`, `key-b`, preset `custom` pointing at the fake), stored
 *   with `qwen auth --provider custom`;
 * - two `qwen serve` processes from source on that QWEN_HOME: `a` on Bun, which runs to the end,
 *   and `b` on Deno (`--second-runtime bun` for Bun), which is killed and restarted.
 *
 * Then, for `--minutes`:
 * - `--clients` loops (default 6) send requests to either server: chat completions, Anthropic
 *   messages and Responses, half streamed; some leave early; some ask for a model denied to
 *   some accounts or to all; a quarter ask the fake for a fault on their own request;
 * - fault windows on one account (throttling, quota, 5xx, refused credentials) open about every
 *   8 s, and every account is throttled at once about every minute;
 * - refreshes are slow at times and 1 in 10 is answered 503;
 * - every 10 to 25 s two `qwen auth --provider custom` runs (one on each runtime) rewrite the
 *   key file of `key-a` at once; `key-b`'s is never rewritten, so that only the rejection's own
 *   end can bring it back after refused credentials;
 * - about every 80 s server `b` is killed with SIGKILL while the harness holds both OAuth refresh
 *   locks (so never during a refresh: a kill then loses the rotated token, which no client can
 *   prevent), and restarted on its port 1 to 3 s later;
 * - about every 4 minutes the disk of QWEN_HOME is full for 20 s (scripts/soak/disk.ts says how),
 *   starting a few seconds before an OAuth token's refresh ahead falls due;
 * - the credentials and key files are read every 250 ms and the state file every second.
 *
 * At the end: requests, answered, expected failures by kind, unexpected failures (must be 0),
 * refreshes, refresh tokens used twice (must be 0), files unreadable at a sample (must be 0),
 * servers exiting on their own (must be 0), and the resident memory of each server; then samples
 * of every unexpected failure. Exits 1 when an invariant fails, 2 on bad usage.
 *
 * Flags: --minutes N, --clients N, --seed N, --disk-full auto|tmpfs|read-only|immutable|off,
 * --second-runtime deno|bun, --keep (keep the temporary folder and the servers' logs).
 * Every child process is killed at the end, also on failure and on Ctrl+C.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { acquireLock, releaseLock } from "../src/credentials/lock.ts";
import { lockPathFor } from "../src/credentials/paths.ts";
import type { Server } from "../src/runtime/mod.ts";
import { startServer } from "../tests/helpers/with-server.ts";
import { classify } from "./soak/classify.ts";
import { clip, type Endpoint, type Plan, send } from "./soak/clients.ts";
import { type DiskMethod, type FullDisk, prepareHome } from "./soak/disk.ts";
import { type RequestFault, SoakOAuth, SoakUpstream, TOKEN_LIFETIME_S } from "./soak/fakes.ts";
import { Ledger, type WindowKind } from "./soak/ledger.ts";
import {
  denoAvailable,
  killAll,
  killChildrenOnExit,
  runQwen,
  type RuntimeName,
  ServeSlot,
  sleep,
} from "./soak/processes.ts";
import { type Row, table, Tally } from "./soak/report.ts";
import { Sampler, type WatchedFile } from "./soak/sampler.ts";

const ROOT = join(import.meta.dirname ?? ".", "..");

// ---- flags ----

function usage(message: string): never {
  process.stderr.write(`soak: ${message}\n`);
  process.exit(2);
}

const { values: flags } = (() => {
  try {
    return parseArgs({
      args: process.argv.slice(2),
      options: {
        minutes: { type: "string", default: "10" },
        clients: { type: "string", default: "6" },
        seed: { type: "string" },
        "disk-full": { type: "string", default: "auto" },
        "second-runtime": { type: "string" },
        keep: { type: "boolean", default: false },
      },
      strict: true,
    });
  } catch (error) {
    usage((error as Error).message);
  }
})();

const MINUTES = Number(flags.minutes);
if (!(MINUTES > 0)) {
  usage(`--minutes takes a positive number, not ${JSON.stringify(flags.minutes)}`);
}
const CLIENTS = Number(flags.clients);
if (!Number.isInteger(CLIENTS) || CLIENTS < 1) usage("--clients takes a positive integer");
const SEED = flags.seed === undefined ? Date.now() % 1_000_000 : Number(flags.seed);
const DISK_METHODS = ["auto", "tmpfs", "read-only", "immutable", "off"];
if (!DISK_METHODS.includes(flags["disk-full"]!)) {
  usage(`--disk-full takes ${DISK_METHODS.join(", ")}`);
}
const SECOND: RuntimeName =
  (flags["second-runtime"] ?? (denoAvailable() ? "deno" : "bun")) as RuntimeName;
if (SECOND !== "bun" && SECOND !== "deno") usage("--second-runtime takes deno or bun");

const DURATION_MS = MINUTES * 60_000;
/**
 * When `qwen serve` refreshes a token ahead of its end, counted from its issue: half way
 * through its usable life (the official 30 s margin off), as the lifetime is short.
 */
const REFRESH_AHEAD_AT_MS = (TOKEN_LIFETIME_S * 1000 - 30_000) / 2;

// ---- the world ----

/** mulberry32: a seeded run picks the same plans and faults (their timing still varies). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(SEED);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
function weighted<T extends string>(weights: Readonly<Record<T, number>>): T {
  const entries = Object.entries(weights) as [T, number][];
  let r = random() * entries.reduce((sum, [, w]) => sum + w, 0);
  for (const [key, w] of entries) {
    if ((r -= w) < 0) return key;
  }
  return entries[entries.length - 1][0];
}
const between = (min: number, max: number) => min + random() * (max - min);

const OAUTH_ACCOUNTS = ["default", "team"] as const;
const KEY_ACCOUNTS = ["key-a", "key-b"] as const;
const ACCOUNTS = [...OAUTH_ACCOUNTS, ...KEY_ACCOUNTS];
/** Two keys per account, both valid: the rewrites switch between them. */
const KEYS = new Map<string, string>();
for (const account of KEY_ACCOUNTS) {
  for (const n of [1, 2]) KEYS.set(`sk-soak-${account}-${n}-0123456789abcdef`, account);
}
/**
 * The key file rewritten by concurrent `qwen auth` runs. The other is never rewritten: new
 * credentials bring a rejected account back at once, so only there does a refusal show
 * whether the rejection ever ends by itself (issue 17, item 2).
 */
const REWRITTEN_ACCOUNT = "key-a";
const keysOf = (account: string) => [...KEYS].filter(([, a]) => a === account).map(([k]) => k);
/** Models denied to some accounts, and one denied to all. */
const DENIED: Record<string, readonly string[]> = {
  "qwen3-max": ["team", "key-b"],
  "qwen-unbought": ACCOUNTS,
};

const SERVE_ARGS = [
  "--host",
  "127.0.0.1",
  "--first-byte-timeout",
  "3",
  "--idle-timeout",
  "3",
  "--grace",
  "5",
];

const FAULT_WEIGHTS: Record<RequestFault, number> = {
  "5xx-once": 5,
  "5xx-all": 1,
  "throttle-once": 4,
  "quota-once": 0.3,
  "auth-once": 0.3,
  "denied-once": 4,
  "stall-first": 1,
  "stall-mid": 2,
  cut: 3,
};
const WINDOW_WEIGHTS: Record<WindowKind, number> = { throttle: 4, quota: 2, server: 3, auth: 1 };
const WINDOW_MS: Record<WindowKind, [number, number]> = {
  throttle: [3_000, 8_000],
  quota: [5_000, 15_000],
  server: [2_000, 6_000],
  auth: [4_000, 10_000],
};

// ---- state of the run ----

const started = Date.now();
const since = (t = Date.now()) => `${((t - started) / 1000).toFixed(1)}s`;
let stopping = false;
let requests = 0;
let answered = 0;
let left = 0;
const expected = new Tally(0);
const unexpected = new Tally(4);
const rewriteResults = new Tally(0);
let planId = 0;

const work = mkdtempSync(join(tmpdir(), "qwen-soak-"));
const home = join(work, "home");
const logs = join(work, "logs");
const userHome = join(work, "user");
mkdirSync(logs);
mkdirSync(userHome);
let disk: FullDisk | undefined;
const servers: Server[] = [];
let cleanedUp = false;

function cleanUp(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  killAll();
  disk?.release();
  if (!flags.keep) rmSync(work, { recursive: true, force: true });
}

killChildrenOnExit(async () => {
  await Promise.all(servers.map((s) => s.close(true).catch(() => {})));
  cleanUp();
});

function log(message: string): void {
  process.stderr.write(`soak ${since()}: ${message}\n`);
}

function commit(): string {
  const run = (args: string[]) =>
    spawnSync("git", args, { cwd: ROOT, encoding: "utf8" }).stdout?.trim() ?? "";
  const head = run(["rev-parse", "--short", "HEAD"]) || "unknown";
  // Only what runs counts: a run while docs are edited still ran this commit's code.
  const changed = run(["status", "--porcelain", "--", "src", "scripts", "tests", "package.json"]);
  return changed ? `${head} (with changes)` : head;
}

// ---- main ----

async function main(): Promise<number> {
  disk = prepareHome(home, flags["disk-full"] as DiskMethod | "auto");
  const ledger = new Ledger(ACCOUNTS);

  // The model API needs the OAuth fake (whose tokens it accepts), which needs its URL.
  const route: { upstream?: SoakUpstream } = {};
  const upstreamServer = await startServer((request) => route.upstream!.handler(request));
  servers.push(upstreamServer);
  const oauth = new SoakOAuth({
    upstreamUrl: upstreamServer.url,
    ledger,
    random,
    failRate: 0.1,
    maxDelayMs: 800,
  });
  const oauthServer = await startServer(oauth.handler);
  servers.push(oauthServer);
  const upstream = new SoakUpstream({ ledger, oauth, keys: KEYS, denied: DENIED, random });
  route.upstream = upstream;

  const files: WatchedFile[] = [];
  for (const account of OAUTH_ACCOUNTS) {
    const path = join(
      home,
      account === "default" ? "oauth_creds.json" : `oauth_creds_${account}.json`,
    );
    writeFileSync(path, JSON.stringify(oauth.seed(account), null, 2), { mode: 0o600 });
    files.push({ path, kind: "oauth" });
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: userHome,
    QWEN_HOME: home,
    QWEN_OAUTH_BASE_URL: oauthServer.url,
    NO_PROXY: "127.0.0.1,localhost",
    NO_COLOR: "1",
    NO_BROWSER: "1",
  };
  const storeKey = (runtime: RuntimeName, account: string, key: string) =>
    runQwen(
      runtime,
      [
        "auth",
        "--provider",
        "custom",
        "--account",
        account,
        "--base-url",
        `${upstreamServer.url}/v1`,
        "--no-verify",
      ],
      env,
      `${key}\n`,
    );
  for (const account of KEY_ACCOUNTS) {
    const r = await storeKey("bun", account, keysOf(account)[0]);
    if (r.code !== 0) throw new Error(`Cannot store the key of "${account}": ${r.stderr}`);
    files.push({ path: join(home, `qwen_key_${account}.json`), kind: "key" });
  }

  const slots = [
    new ServeSlot("a", "bun", SERVE_ARGS, env, logs),
    new ServeSlot("b", SECOND, SERVE_ARGS, env, logs),
  ];
  const [, b] = slots;
  await Promise.all(slots.map((s) => s.start()));
  for (const slot of slots) {
    for (const endpoint of ["chat", "messages", "responses"] as const) {
      const plan: Plan = { id: ++planId, endpoint, stream: false, model: defaultModel(endpoint) };
      const outcome = await send(slot.url!, plan);
      if (outcome.kind !== "ok") {
        throw new Error(
          `Server ${slot.name} does not answer ${endpoint}: ${JSON.stringify(outcome)}`,
        );
      }
    }
    slot.rssStart = slot.rss();
  }
  log(
    `servers a (bun, pid ${slots[0].pid}) and b (${SECOND}, pid ${b.pid}) up; seed ${SEED}; ` +
      `full disk: ${disk.method}; ${MINUTES} min from now` +
      (flags.keep ? `; files in ${work}` : ""),
  );

  const sampler = new Sampler(files, join(home, "qwen_state.json"), ledger, started);
  sampler.start();

  // ---- clients ----

  const liveSlots = () => slots.filter((s) => s.url !== undefined && !ledger.isDown(s.name));
  async function client(): Promise<void> {
    while (!stopping) {
      const live = liveSlots();
      if (live.length === 0) {
        await sleep(50);
        continue;
      }
      const slot = pick(live);
      const plan = nextPlan();
      const from = Date.now();
      requests++;
      const outcome = await send(slot.url!, plan);
      const to = Date.now();
      upstream.forget(plan.id);
      const verdict = classify({ plan, outcome, slot: slot.name, from, to }, ledger, DENIED);
      switch (verdict.kind) {
        case "answered":
          answered++;
          break;
        case "left":
          left++;
          break;
        case "expected":
          expected.add(verdict.why);
          break;
        case "unexpected":
          unexpected.add(verdict.what, `t=${since(from)}–${since(to)}: ${verdict.detail}`);
      }
      await sleep(random() * 200);
    }
  }

  // ---- harness faults ----

  let killing: Promise<void> | undefined;
  let filling: Promise<void> | undefined;
  const rewrites = new Set<Promise<void>>();
  let kills = 0;
  let fullDisks = 0;

  async function killAndRestart(slot: ServeSlot): Promise<void> {
    // Holding both refresh locks: no process is inside a refresh while it dies.
    const locks = await Promise.all(
      files.filter((f) => f.kind === "oauth").map((f) =>
        acquireLock(lockPathFor(f.path), { attempts: 200 })
      ),
    );
    try {
      ledger.serverDown(slot.name, Date.now());
      await slot.kill9();
      kills++;
    } finally {
      for (const lock of locks) await releaseLock(lock);
    }
    await sleep(between(1_000, 3_000));
    try {
      await slot.start();
    } catch (error) {
      log(`restart of ${slot.name} on its port failed, trying a new port: ${clip(String(error))}`);
      slot.forgetPort();
      await slot.start();
    }
    slot.restarts++;
    ledger.serverUp(slot.name, Date.now());
    log(`server ${slot.name} killed with SIGKILL and restarted (pid ${slot.pid})`);
  }

  async function fullDiskFor(ms: number): Promise<void> {
    const interval = { from: Date.now(), to: Infinity };
    ledger.diskFull.push(interval);
    try {
      await disk!.fill();
      fullDisks++;
      log(`QWEN_HOME's disk full (${disk!.method}) for ${ms / 1000} s`);
      const end = Date.now() + ms;
      while (!stopping && Date.now() < end) await sleep(200);
    } finally {
      await disk!.free();
      interval.to = Date.now();
    }
  }

  async function rewrite(account: string): Promise<void> {
    const from = Date.now();
    const runtimes: RuntimeName[] = ["bun", SECOND];
    const results = await Promise.all(
      keysOf(account).map((key, i) => storeKey(runtimes[i], account, key)),
    );
    const to = Date.now();
    for (const r of results) {
      if (r.code === 0) rewriteResults.add("ok");
      else if (ledger.diskWasFull(from, to)) {
        rewriteResults.add("failed: disk full");
        expected.add("qwen auth rewrite failed: disk full");
      } else {
        rewriteResults.add("failed");
        unexpected.add(
          `qwen auth --provider custom failed (exit ${r.code})`,
          `t=${since(from)}: ${clip(r.stderr.trim(), 300)}`,
        );
      }
    }
  }

  /** Whether an OAuth account's refresh ahead falls due in [min, max] ms from `now`. */
  function refreshDueIn(now: number, min: number, max: number): boolean {
    return OAUTH_ACCOUNTS.some((account) => {
      const issuedAt = oauth.issuedAt.get(account);
      if (issuedAt === undefined) return false;
      const due = issuedAt + REFRESH_AHEAD_AT_MS - now;
      return min <= due && due <= max;
    });
  }

  async function faults(): Promise<void> {
    const end = started + DURATION_MS;
    const short = DURATION_MS < 5 * 60_000;
    let nextGlobal = Date.now() + between(20_000, 40_000);
    let nextRewrite = Date.now() + between(5_000, 10_000);
    let nextKill = Date.now() + (short ? 30_000 : between(40_000, 60_000));
    let nextDisk = Date.now() + (short ? 25_000 : between(90_000, 150_000));
    while (!stopping) {
      await sleep(1_000);
      const now = Date.now();
      if (random() < 0.12) {
        const kind = weighted(WINDOW_WEIGHTS);
        const [min, max] = WINDOW_MS[kind];
        ledger.openWindow(pick(ACCOUNTS), kind, between(min, max));
      }
      if (now >= nextGlobal) {
        for (const account of ACCOUNTS) ledger.openWindow(account, "throttle", 3_000);
        ledger.count("every account throttled at once");
        nextGlobal = now + between(45_000, 75_000);
      }
      if (now >= nextRewrite) {
        const task = rewrite(REWRITTEN_ACCOUNT);
        rewrites.add(task);
        task.finally(() => rewrites.delete(task));
        nextRewrite = now + between(10_000, 25_000);
      }
      if (now >= nextKill && !killing && !filling && now < end - 20_000) {
        killing = killAndRestart(b).catch((error) => {
          unexpected.add("restart of a killed server failed", clip(String(error), 300));
        }).finally(() => (killing = undefined));
        nextKill = now + between(60_000, 100_000);
      }
      if (
        disk!.method !== "off" && now >= nextDisk && !killing && !filling && now < end - 30_000 &&
        (refreshDueIn(now, 2_000, 8_000) || now >= nextDisk + 60_000)
      ) {
        filling = fullDiskFor(20_000).catch((error) => {
          log(`cannot fill the disk: ${clip(String(error), 300)}`);
        }).finally(() => (filling = undefined));
        nextDisk = now + between(200_000, 280_000);
      }
    }
  }

  function progress(): void {
    log(
      `${requests} requests, ${answered} answered, ${expected.total} expected failures, ` +
        `${unexpected.total} unexpected, ${oauth.totalRefreshes} refreshes, ` +
        `${oauth.reused.length} reused refresh tokens, ${sampler.unreadable.length} unreadable samples`,
    );
  }

  const loops = Array.from({ length: CLIENTS }, () => client());
  const faulting = faults();
  const ticker = setInterval(progress, 30_000);
  await sleep(DURATION_MS);
  stopping = true;
  clearInterval(ticker);
  log("stopping: waiting for the clients and the harness");
  await Promise.all(loops);
  await faulting;
  await killing;
  await filling;
  await Promise.all([...rewrites]);
  await sleep(2_500); // One more state-file sync and file sample.
  sampler.stop();
  for (const slot of slots) slot.rssEnd = slot.rss();
  await Promise.all(slots.map((s) => s.stop()));
  await Promise.all(servers.map((s) => s.close(true)));

  // ---- the table ----

  const deaths = slots.flatMap((s) => s.deaths);
  const badStops = slots.filter((s) => s.stopExit !== "code 0");
  const reused = oauth.reused.length;
  const rows: Row[] = [
    { what: "requests", value: String(requests) },
    { what: "answered (complete and checked)", value: String(answered) },
    { what: "left early on purpose", value: String(left) },
    { what: "expected failures", value: String(expected.total) },
    ...expected.sorted().map(([why, n]) => ({ what: `· ${why}`, value: String(n) })),
    {
      what: "unexpected failures (must be 0)",
      value: String(unexpected.total),
      ok: unexpected.total === 0,
    },
    ...unexpected.sorted().map(([what, n]) => ({ what: `· ${what}`, value: String(n) })),
    {
      what: "refreshes",
      value: `${oauth.totalRefreshes} (${
        OAUTH_ACCOUNTS.map((a) => `${a} ${oauth.refreshes.get(a) ?? 0}`).join(", ")
      }; tokens live ${TOKEN_LIFETIME_S} s)`,
    },
    { what: "refreshes answered 503 on purpose", value: String(oauth.failedOnPurpose) },
    {
      what: "refresh tokens used twice (must be 0)",
      value: String(reused),
      ok: reused === 0,
    },
    { what: "refreshes refused by the OAuth server", value: String(oauth.refused) },
    {
      what: "expired or unknown tokens sent upstream",
      value: String(upstream.badTokens.length),
    },
    {
      what: "credentials files unreadable at a sample (must be 0)",
      value: `${sampler.unreadable.length} of ${sampler.samples}`,
      ok: sampler.unreadable.length === 0,
    },
    {
      what: "state file unreadable at a sample (must be 0)",
      value: `${sampler.stateUnreadable.length} of ${sampler.stateSamples}`,
      ok: sampler.stateUnreadable.length === 0,
    },
    {
      what: "servers that exited on their own (must be 0)",
      value: String(deaths.length),
      ok: deaths.length === 0,
    },
    {
      what: "servers not stopping cleanly on SIGTERM (must be 0)",
      value: badStops.length === 0
        ? "0"
        : badStops.map((s) => `${s.name}: ${s.stopExit ?? "not running"}`).join(", "),
      ok: badStops.length === 0,
    },
    {
      what: "accounts shown out with no fault behind it (state file)",
      value: sampler.stuckMs.size === 0
        ? "none"
        : [...sampler.stuckMs].map(([a, ms]) => `${a} ${Math.round(ms / 1000)} s`).join(", "),
    },
    ...slots.map((s) => ({
      what: `RSS of server ${s.name} (${s.runtime}) at start → end`,
      value: `${mib(s.rssStart)} → ${mib(s.rssEnd)} MiB` +
        (s.restarts > 0 ? ` (killed and restarted ${s.restarts}×: first start, last end)` : ""),
    })),
    {
      what: "harness faults",
      value:
        `${kills} kill -9, ${fullDisks} full disk (${disk.method}), ${rewriteResults.total} key rewrites (${
          rewriteResults.counts.get("ok") ?? 0
        } ok)`,
    },
    ...[...ledger.injected].sort().map(([label, n]) => ({ what: `· ${label}`, value: String(n) })),
  ];
  const failed = rows.some((r) => r.ok === false);
  const out: string[] = [
    "",
    `qwen soak: ${MINUTES} min on ${commit()}, seed ${SEED}; servers a (bun) and b (${SECOND}) ` +
    `from source on one QWEN_HOME; ${CLIENTS} clients`,
    "",
    table(rows),
    "",
  ];
  if (unexpected.total > 0) {
    out.push("Unexpected failures, samples:");
    for (const [what] of unexpected.sorted()) {
      out.push(`- ${what}:`);
      for (const sample of unexpected.samples.get(what) ?? []) out.push(`    ${sample}`);
    }
    out.push("");
  }
  const listed = (title: string, lines: string[]) => {
    if (lines.length === 0) return;
    out.push(title, ...lines.slice(0, 10).map((l) => `- ${l}`), "");
  };
  listed(
    "Refresh tokens used twice:",
    oauth.reused.map((r) => `t=${since(r.at)} ${r.account}: answered ${r.status}`),
  );
  listed(
    "Unreadable samples:",
    [...sampler.unreadable, ...sampler.stateUnreadable].map((u) =>
      `t=${since(u.at)} ${u.file.replace(work, "$TMP")}: ${u.problem}`
    ),
  );
  listed(
    "Expired or unknown tokens sent upstream:",
    upstream.badTokens.map((t) => `t=${since(t.at)} ${t.account}: ${t.what}`),
  );
  listed("Accounts shown out with no fault behind it:", sampler.stuckSamples);
  listed("Servers that exited on their own:", deaths);
  process.stdout.write(out.join("\n") + "\n");
  if (flags.keep) log(`kept ${work} (logs in ${logs})`);
  return failed ? 1 : 0;
}

function defaultModel(endpoint: Endpoint): string {
  return endpoint === "messages" ? "claude-sonnet-4-5" : "coder-model";
}

function nextPlan(): Plan {
  const endpoint = pick(["chat", "messages", "responses"] as const);
  const stream = random() < 0.5;
  const m = random();
  const model = m < 0.82 ? defaultModel(endpoint) : m < 0.94 ? "qwen3-max" : "qwen-unbought";
  let fault: RequestFault | undefined;
  if (random() < 0.25) {
    fault = weighted(FAULT_WEIGHTS);
    if (fault === "cut" && !stream) fault = "stall-mid";
  }
  const l = random();
  const leave = l < 0.06
    ? { afterMs: random() * 300 }
    : l < 0.1 && stream
    ? "after-first-bytes" as const
    : undefined;
  return { id: ++planId, endpoint, stream, model, fault, leave };
}

function mib(n: number | undefined): string {
  return n === undefined ? "?" : n.toFixed(0);
}

let code = 1;
try {
  code = await main();
} catch (error) {
  process.stderr.write(`soak: ${(error as Error).stack ?? error}\n`);
  if (flags.keep) process.stderr.write(`soak: kept ${work}\n`);
} finally {
  cleanUp();
}
process.exit(code);
