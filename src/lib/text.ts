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

/** Shorter "secrets" would blank out ordinary words; no real key or token is this short. */
const MIN_SECRET_LENGTH = 4;
const REDACTED = "[redacted]";

/**
 * `text` with each secret blanked out wherever it appears: as it is, as a URL spells it, and as
 * JSON may (`\/`, `\u0073k-...`), since a JSON body that escapes a character of the key would
 * still decode to the key in the client's hands. An upstream that quotes a credential back must
 * not get it to a client or a log.
 */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  const wanted = secrets.filter((s) => s.length >= MIN_SECRET_LENGTH);
  if (wanted.length === 0) return text;
  let out = text;
  for (const secret of wanted) {
    out = out.replaceAll(secret, REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.replaceAll(encoded, REDACTED);
  }
  if (!out.includes("\\")) return out;
  let json: unknown;
  try {
    json = JSON.parse(out);
  } catch {
    return out; // Not JSON: nobody decodes its escapes.
  }
  let found = false;
  const cleaned = JSON.stringify(json, (_key, value) => {
    if (typeof value !== "string") return value;
    let clean = value;
    for (const secret of wanted) clean = clean.replaceAll(secret, REDACTED);
    if (clean !== value) found = true;
    return clean;
  });
  return found ? cleaned : out;
}

/** The `host[:port]` of a URL, for messages; the text itself when it is no URL. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
