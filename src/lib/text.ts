/** Small text helpers for messages: one line, bounded, with no secret in it. */

/** One line of at most `max` characters, for quoting an upstream's message. */
export function clip(text: string, max = 300): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

/** Blanks bearer credentials and key-looking strings out of free text. */
export function redact(text: string): string {
  return text
    .replace(/(bearer\s+)[^\s"',;]+/gi, "$1[redacted]")
    .replace(/\bsk-[A-Za-z0-9_-]{4,}/g, "sk-[redacted]")
    .replace(/((?:access|refresh)_token["'=:\s]+)[^\s"',;&]+/gi, "$1[redacted]");
}

/** The `host[:port]` of a URL, for messages; the text itself when it is no URL. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
