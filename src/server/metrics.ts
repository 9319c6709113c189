/**
 * `GET /metrics` in the Prometheus text format (version 0.0.4). Counting is a map update per
 * request; the text is built only when scraped. Labels hold account names, models, statuses and
 * error classes: never a token, key or path.
 *
 * | metric                                 | type      | labels                   |
 * |----------------------------------------|-----------|--------------------------|
 * | `qwen_requests_total`                  | counter   | status, model, account   |
 * | `qwen_request_duration_seconds`        | histogram | (none)                   |
 * | `qwen_upstream_errors_total`           | counter   | account, class           |
 * | `qwen_token_refreshes_total`           | counter   | account, result          |
 * | `qwen_tokens_total`                    | counter   | account, kind            |
 * | `qwen_open_streams`                    | gauge     | (none)                   |
 * | `qwen_account_available`               | gauge     | account, state           |
 */
import type { AccountAvailability, PoolObserver, TokenUsage } from "../pool/pool.ts";
import type { CallObserver } from "../upstream/client.ts";

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Models are named by clients: past this many distinct ones, the rest count as `other`. */
const MAX_MODELS = 200;

export class Metrics implements PoolObserver, CallObserver {
  readonly #requests = new Map<string, number>();
  readonly #errors = new Map<string, number>();
  readonly #refreshes = new Map<string, number>();
  readonly #tokens = new Map<string, number>();
  readonly #models = new Set<string>();
  readonly #buckets = new Array<number>(DURATION_BUCKETS.length).fill(0);
  #durationSum = 0;
  #durationCount = 0;
  openStreams = 0;
  #lastStatus = -1;
  #lastModel = "";
  #lastAccount = "";
  #lastKey = "";
  #tokenKeys?: [account: string, prompt: string, completion: string];
  #accounts: readonly AccountAvailability[] = [];

  request(status: number, model: string | undefined, account: string | undefined, ms: number) {
    let m = model ?? "";
    if (m !== "" && !this.#models.has(m)) {
      if (this.#models.size >= MAX_MODELS) m = "other";
      else this.#models.add(m);
    }
    // Most requests repeat the last one's labels: reusing its key string spares building and
    // hashing a new one.
    const a = account ?? "";
    let key = this.#lastKey;
    if (status !== this.#lastStatus || m !== this.#lastModel || a !== this.#lastAccount) {
      key = this.#lastKey = labels({ status: String(status), model: m, account: a });
      this.#lastStatus = status;
      this.#lastModel = m;
      this.#lastAccount = a;
    }
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    const seconds = ms / 1000;
    this.#durationSum += seconds;
    this.#durationCount++;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      if (seconds <= DURATION_BUCKETS[i]) {
        this.#buckets[i]++;
        break;
      }
    }
  }

  upstreamError(account: string, failure: string): void {
    const key = labels({ account, class: failure });
    this.#errors.set(key, (this.#errors.get(key) ?? 0) + 1);
  }

  refresh(account: string, result: "ok" | "failed"): void {
    const key = labels({ account, result });
    this.#refreshes.set(key, (this.#refreshes.get(key) ?? 0) + 1);
  }

  tokens(account: string, usage: TokenUsage): void {
    let keys = this.#tokenKeys;
    if (keys === undefined || keys[0] !== account) {
      keys = this.#tokenKeys = [
        account,
        labels({ account, kind: "prompt" }),
        labels({ account, kind: "completion" }),
      ];
    }
    const p = keys[1];
    const c = keys[2];
    this.#tokens.set(p, (this.#tokens.get(p) ?? 0) + usage.promptTokens);
    this.#tokens.set(c, (this.#tokens.get(c) ?? 0) + usage.completionTokens);
  }

  streamOpened(): void {
    this.openStreams++;
  }

  streamClosed(): void {
    this.openStreams--;
  }

  /** The pool as of its last upkeep. */
  accounts(accounts: readonly AccountAvailability[]): void {
    this.#accounts = accounts;
  }

  /** The text a scrape gets; `accounts`, when given, as of now rather than the last upkeep. */
  render(accounts?: readonly AccountAvailability[]): string {
    if (accounts) this.accounts(accounts);
    const out: string[] = [];
    const family = (name: string, type: string, help: string) =>
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

    family(
      "qwen_requests_total",
      "counter",
      "Requests answered, by HTTP status, model and account.",
    );
    for (const [key, n] of this.#requests) out.push(`qwen_requests_total${key} ${n}`);

    family(
      "qwen_request_duration_seconds",
      "histogram",
      "Time from request to the end of the answer.",
    );
    let cumulative = 0;
    DURATION_BUCKETS.forEach((le, i) => {
      cumulative += this.#buckets[i];
      out.push(`qwen_request_duration_seconds_bucket{le="${le}"} ${cumulative}`);
    });
    out.push(
      `qwen_request_duration_seconds_bucket{le="+Inf"} ${this.#durationCount}`,
      `qwen_request_duration_seconds_sum ${round(this.#durationSum)}`,
      `qwen_request_duration_seconds_count ${this.#durationCount}`,
    );

    family("qwen_upstream_errors_total", "counter", "Upstream failures, by account and class.");
    for (const [key, n] of this.#errors) out.push(`qwen_upstream_errors_total${key} ${n}`);

    family("qwen_token_refreshes_total", "counter", "OAuth refreshes forced by a refused token.");
    for (const [key, n] of this.#refreshes) out.push(`qwen_token_refreshes_total${key} ${n}`);

    family("qwen_tokens_total", "counter", "Tokens reported in usage, by account and kind.");
    for (const [key, n] of this.#tokens) out.push(`qwen_tokens_total${key} ${n}`);

    family("qwen_open_streams", "gauge", "Streamed answers in progress.");
    out.push(`qwen_open_streams ${this.openStreams}`);

    family("qwen_account_available", "gauge", "1 when the account can take requests.");
    for (const a of this.#accounts) {
      out.push(
        `qwen_account_available${labels({ account: a.name, state: a.state })} ${
          a.available ? 1 : 0
        }`,
      );
    }
    return `${out.join("\n")}\n`;
  }
}

/**
 * `{name="value",...}`, escaped as the text format wants (backslash, quote and newline; any other
 * character, a NUL included, may stand as it is). The counters are keyed by this text: a key
 * built by joining raw values with a separator would let a client's model name that holds the
 * separator pass for other labels, and two lines for one series fail the whole scrape.
 */
function labels(values: Record<string, string>): string {
  const parts = Object.entries(values).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return `{${parts.join(",")}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
