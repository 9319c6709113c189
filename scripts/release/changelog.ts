/** A version's entry in CHANGELOG.md (Keep a Changelog: `## [0.1.0] - 2026-12-06`). */

/** The entry's text below its heading, up to the next `## `; undefined when there is none. */
export function changelogEntry(changelog: string, version: string): string | undefined {
  const lines = changelog.split(/\r?\n/);
  const start = lines.findIndex((line) =>
    new RegExp(`^## \\[?${version.replaceAll(".", "\\.")}\\]?(?:\\s|$)`).test(line)
  );
  if (start === -1) return undefined;
  const end = lines.findIndex((line, i) => i > start && /^## /.test(line));
  const body = lines.slice(start + 1, end === -1 ? undefined : end).join("\n").trim();
  return body === "" ? undefined : `${body}\n`;
}
