/**
 * Whether what a client got is explained by a fault the soak injected. Everything not
 * explained here is an unexpected failure, however plausible it looks.
 *
 * Explained:
 * - any failure of a request to a server that was killed (kill -9) while it ran;
 * - the request's own fault, with the answer issue 17 asks for: a stall before the answer is a
 *   504, a stall in the middle a 504 or the stream's error event, a cut stream its error event,
 *   5xx on every attempt a 5xx;
 * - a 403 for a model denied to every account;
 * - a 401, 403, 429, 500, 502 or 503 while every account was out at some moment of the
 *   request, each for an injected reason: throttled or over quota for as long as the answer
 *   asked, a 5xx just now, refused credentials less than 30 s (the issue's first back-off) ago,
 *   or the model denied to it; and the status must be one of those reasons': 403 a denial, 401
 *   refused credentials, 429 throttling or quota, 5xx a 5xx.
 * A request left early on purpose is neither.
 */
import type { Outcome, Plan } from "./clients.ts";
import type { Ledger } from "./ledger.ts";

export type Verdict =
  | { kind: "answered" }
  | { kind: "left" }
  | { kind: "expected"; why: string }
  | { kind: "unexpected"; what: string; detail: string };

export interface Judged {
  plan: Plan;
  outcome: Outcome;
  /** The server it was sent to. */
  slot: string;
  from: number;
  to: number;
}

const CAPACITY_STATUSES = new Set([401, 403, 429, 500, 502, 503]);

export function classify(
  judged: Judged,
  ledger: Ledger,
  denied: Readonly<Record<string, readonly string[]>>,
): Verdict {
  const { plan, outcome, slot, from, to } = judged;
  if (outcome.kind === "ok") return { kind: "answered" };
  if (outcome.kind === "left") return { kind: "left" };
  if (ledger.wasDown(slot, from, to)) return { kind: "expected", why: "server killed (kill -9)" };

  const own = ownFault(plan, outcome);
  if (own) return { kind: "expected", why: own };

  const deniedTo = denied[plan.model] ?? [];
  if (outcome.kind === "http" && CAPACITY_STATUSES.has(outcome.status)) {
    if (outcome.status === 403 && ledger.accounts.every((a) => deniedTo.includes(a))) {
      return { kind: "expected", why: "model denied to every account: 403" };
    }
    const reasons = new Set<string>();
    const unexplained: string[] = [];
    for (const account of ledger.accounts) {
      const out = ledger.outDuring(account, from - 1_000, to);
      if (deniedTo.includes(account)) reasons.add("model denied");
      else if (out.length === 0) unexplained.push(account);
      for (const reason of out) reasons.add(reason);
    }
    // The status must come from one of them.
    const fits = outcome.status === 403
      ? deniedTo.length > 0 || plan.fault === "denied-once"
      : outcome.status === 401
      ? reasons.has("auth")
      : outcome.status === 429
      ? reasons.has("throttle") || reasons.has("quota")
      : reasons.has("server");
    if (unexplained.length === 0 && fits) {
      return { kind: "expected", why: `every account out or denying the model: ${outcome.status}` };
    }
    return unexpected(
      judged,
      unexplained.length > 0
        ? `usable: ${unexplained.join(", ")}`
        : `every account was out, but not for a reason that answers ${outcome.status}`,
    );
  }
  return unexpected(judged, "");
}

/** The answer the request's own fault explains, if this is it. */
function ownFault(plan: Plan, outcome: Outcome): string | undefined {
  const status = outcome.kind === "http" ? outcome.status : undefined;
  switch (plan.fault) {
    case "stall-first":
      if (status === 504) return "upstream stalled before answering: 504";
      return undefined;
    case "stall-mid":
    case "cut": {
      const what = plan.fault === "cut" && plan.stream
        ? "stream cut half way"
        : "upstream stalled mid-answer";
      if (status === 504) return `${what}: 504`;
      if (outcome.kind === "stream-error") return `${what}: error event`;
      return undefined;
    }
    case "5xx-all":
      if (status !== undefined && status >= 500 && status !== 504) {
        return `5xx on every attempt: ${status}`;
      }
      return undefined;
    default:
      return undefined;
  }
}

function unexpected(judged: Judged, note: string): Verdict {
  const { plan, outcome } = judged;
  let what: string;
  switch (outcome.kind) {
    case "http":
      what = `HTTP ${outcome.status} ${outcome.code}`.trim();
      break;
    case "stream-error":
      what = `stream error event ${outcome.code}`.trim();
      break;
    case "broken":
      what = `broken answer (${outcome.status}): ${outcome.detail.split(":")[0]}`;
      break;
    case "network":
      what = "no answer (connection failed)";
      break;
    case "timeout":
      what = "no answer within 60 s";
      break;
    default:
      what = outcome.kind;
  }
  const message = "message" in outcome
    ? outcome.message
    : "detail" in outcome
    ? outcome.detail
    : "";
  const detail = [
    `${plan.endpoint}${plan.stream ? " stream" : ""} on ${judged.slot}`,
    `model ${plan.model}`,
    plan.fault ? `fault ${plan.fault}` : "no fault",
    note,
    message ? `"${message.slice(0, 200)}"` : "",
  ].filter((s) => s !== "").join("; ");
  return { kind: "unexpected", what, detail };
}
