/**
 * Qwen's daily quotas and our usage days follow Beijing time (UTC+8), not UTC
 * (docs/upstream.md#error-answers).
 */
const BEIJING_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

/** The Beijing date of `ms`: `2026-05-01`. */
export function beijingDay(ms: number): string {
  return new Date(ms + BEIJING_OFFSET_MS).toISOString().slice(0, 10);
}

/** The next midnight in Beijing after `now`, when Qwen's daily quotas reset. */
export function nextBeijingMidnight(now: number): number {
  return Math.floor((now + BEIJING_OFFSET_MS) / DAY_MS) * DAY_MS + DAY_MS - BEIJING_OFFSET_MS;
}

/** `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3), as a wait in ms. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
