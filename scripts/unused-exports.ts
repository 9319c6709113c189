/**
 * Lists every export of src/ that no other file of src/ or scripts/ imports (tests do not count: an
 * export kept only for a test is dead code to the program; the build in scripts/ is part of the
 * program, and reads the release layout from src/lib/release.ts). Exits 1 when there is one. Run by
 * `npm test`; `bun scripts/unused-exports.ts` alone prints the list.
 *
 * The one exception is TESTED_DIRECTLY: pure pieces whose unit tests pin a specification through
 * them (a standard's test vector, the QR matrix, a decision table), each named with its reason.
 * An entry must still be imported by a test and by no other file of src/, or it fails too.
 *
 * It reads the source as text, which is enough for how this code base imports: named imports
 * (`import { a, type B } from "./x.ts"`), re-exports (`export { a } from "./x.ts"`,
 * `export type { B } from`), and lazy imports whose names are taken off the module
 * (`(await import("./x.ts")).a`, `const { a } = await import("./x.ts")`).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import process from "node:process";

const ROOT = resolve(import.meta.dirname ?? ".", "..");
const SRC = join(ROOT, "src");
const TESTS = join(ROOT, "tests");
const SCRIPTS = join(ROOT, "scripts");

/** "file: name" → why a unit test imports it directly. */
const TESTED_DIRECTLY: Record<string, string> = {
  "src/oauth/pkce.ts: base64Url": "RFC 4648 §5 without padding, checked on its own",
  "src/oauth/pkce.ts: codeChallengeFor":
    "RFC 7636 appendix B's vector; the fake OAuth server checks",
  "src/server/app.ts: splitUrl": "the path edge cases a URL parser would rewrite",
  "src/credentials/lock.ts: LockTimeoutError": "the official CLI's lock protocol, step by step",
  "src/terminal/browser.ts: browserDecision": "when to open a browser, per platform and session",
  "src/terminal/qr.ts: qrMatrix": "the QR code a phone decodes, module by module",
  "src/terminal/qr.ts: renderModules": "the QR code a phone decodes, module by module",
  "src/terminal/qr.ts: QUIET_ZONE": "the QR code a phone decodes, module by module",
  "src/terminal/qr.ts: ModuleMatrix": "the QR code a phone decodes, module by module",
  "src/cli/flags.ts: parseArgsOptions": "what a flag table hands to parseArgs",
  "src/cli/flags.ts: synopsis": "the README's flag table is checked against the flag table",
  "src/server/security.ts: constantTimeEqual": "keys of every length compared in constant time",
  "src/lib/token-estimate.ts: estimateTextTokens":
    "calibrated sample by sample against Qwen3's tokenizer",
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

const DECLARED =
  /^export\s+(?:declare\s+)?(?:async\s+)?(?:function\*?|const|let|class|interface|type|enum|abstract\s+class)\s+([A-Za-z_$][\w$]*)/gm;
const NAMED_IMPORT = /(?:import|export)\s+(?:type\s+)?\{([^}]*)\}\s*from\s*"(\.[^"]+)"/g;
const LAZY_MEMBER = /\(await\s+import\("(\.[^"]+)"\)\)\.([A-Za-z_$][\w$]*)/g;
const LAZY_DESTRUCTURED = /\{([^{}]*)\}\s*=\s*await\s+import\("(\.[^"]+)"\)/g;
const LAZY_ALL = /\[([^\]]*)\]\s*=\s*await\s+Promise\.all\(\[([\s\S]*?)\]\)/g;

/** The names a brace list brings in (`a, type B, c as d` → a, B, c). */
function names(list: string): string[] {
  return list.split(",").map((part) => part.trim().replace(/^type\s+/, "").split(/\s+as\s+/)[0])
    .filter((name) => name !== "");
}

const files = sourceFiles(SRC);
/** "file\0name" of every name some file imports from another. */
const used = new Set<string>();
for (const file of [...files, ...sourceFiles(SCRIPTS)]) {
  const text = readFileSync(file, "utf8");
  const target = (specifier: string) => resolve(dirname(file), specifier);
  const use = (specifier: string, name: string) => {
    if (target(specifier) !== file) used.add(`${target(specifier)}\0${name}`);
  };
  for (const [, list, specifier] of text.matchAll(NAMED_IMPORT)) {
    for (const name of names(list)) use(specifier, name);
  }
  for (const [, specifier, name] of text.matchAll(LAZY_MEMBER)) use(specifier, name);
  for (const [, list, specifier] of text.matchAll(LAZY_DESTRUCTURED)) {
    for (const name of names(list)) use(specifier, name);
  }
  // `const [{ a }, { b }] = await Promise.all([import("./x.ts"), import("./y.ts")])`
  for (const [, patterns, imports] of text.matchAll(LAZY_ALL)) {
    const specifiers = [...imports.matchAll(/import\("(\.[^"]+)"\)/g)].map((m) => m[1]);
    const lists = [...patterns.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]);
    lists.forEach((list, i) => {
      if (specifiers[i]) { for (const name of names(list)) use(specifiers[i], name); }
    });
  }
}

const testText = sourceFiles(TESTS).map((file) => readFileSync(file, "utf8")).join("\n");
const problems: string[] = [];
const listed = new Set(Object.keys(TESTED_DIRECTLY));
for (const file of files) {
  for (const [, name] of readFileSync(file, "utf8").matchAll(DECLARED)) {
    const key = `${relative(ROOT, file)}: ${name}`;
    const inSrc = used.has(`${file}\0${name}`);
    if (!listed.delete(key)) {
      if (!inSrc) problems.push(`${key}: no other file of src/ or scripts/ imports it`);
    } else if (inSrc) {
      problems.push(`${key}: src/ or scripts/ imports it now; take it off TESTED_DIRECTLY`);
    } else if (!new RegExp(`\\b${name}\\b`).test(testText)) {
      problems.push(`${key}: no test imports it; unexport it and take it off TESTED_DIRECTLY`);
    }
  }
}
for (const key of listed) problems.push(`${key}: listed in TESTED_DIRECTLY but not exported`);

if (problems.length > 0) {
  process.stdout.write(
    `Exports of src/ that nothing in src/ or scripts/ needs (unexport or remove them):\n${
      problems.map((line) => `  ${line}`).join("\n")
    }\n`,
  );
  process.exit(1);
}
process.stdout.write(
  `Every export of src/ is imported elsewhere in src/ or scripts/ (${files.length} files), but for ${
    Object.keys(TESTED_DIRECTLY).length
  } that unit tests pin.\n`,
);
