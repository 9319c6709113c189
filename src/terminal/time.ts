/**
 * Times for people: a local date and time with its offset, and how far off it is. `qwen auth`
 * shows `formatExpiry`; `qwen status` shows `localTime` with seconds and `relative`.
 */

/**
 * `2026-05-01 14:03:22 +02:00` in the local time zone (`2026-05-01 14:03 +02:00` without
 * seconds); a time that is not one comes back as the number.
 */
export function localTime(ms: number, options: { seconds?: boolean } = {}): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  const seconds = options.seconds === false ? "" : `:${pad(d.getSeconds())}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${
    pad(d.getMinutes())
  }${seconds} ${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** `in 5 h 59 min`, `3 min ago`, `in 42 s`, `in 2 d 3 h`: to the second (`qwen status`). */
export function relative(deltaMs: number): string {
  const seconds = Math.round(Math.abs(deltaMs) / 1000);
  let text: string;
  if (seconds < 60) text = `${seconds} s`;
  else if (seconds < 3600) text = `${Math.floor(seconds / 60)} min`;
  else if (seconds < 86_400) {
    const m = Math.floor((seconds % 3600) / 60);
    text = `${Math.floor(seconds / 3600)} h${m ? ` ${m} min` : ""}`;
  } else {
    const h = Math.floor((seconds % 86_400) / 3600);
    text = `${Math.floor(seconds / 86_400)} d${h ? ` ${h} h` : ""}`;
  }
  return deltaMs >= 0 ? `in ${text}` : `${text} ago`;
}

/** "2026-05-01 14:03 +02:00 (in 5 h 59 min)": to the minute (`qwen auth`). */
export function formatExpiry(expiryMs: number, now: number): string {
  const delta = expiryMs - now;
  const span = formatSpan(Math.abs(delta));
  return `${localTime(expiryMs, { seconds: false })} (${
    delta >= 0 ? `in ${span}` : `${span} ago`
  })`;
}

function formatSpan(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return "less than a minute";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours < 48) return rest ? `${hours} h ${rest} min` : `${hours} h`;
  return `${Math.floor(hours / 24)} days`;
}
