/**
 * The model an account sends upstream for the name a client asked for (docs/serve.md#model-names),
 * the first that applies of:
 *
 * 1. an exact name: the account's own map (`coder-model` → `qwen3-coder-plus` on API keys) with the
 *    exact `--model-map FROM=TO` entries on top;
 * 2. the `--model-map` patterns, in the order given;
 * 3. Claude's names: `claude-*haiku*` → the provider's fast coding model, any other `claude-*` →
 *    its main one.
 *
 * No match (a Qwen name) means the name is sent as it came. In a pattern `*` stands for any run of
 * characters, none included; every other character stands for itself, case included, as the
 * upstreams' model names are case-sensitive. The result is not mapped again.
 */
import type { CoderModels } from "./providers.ts";

/** The one wildcard of a `--model-map` pattern. */
export const WILDCARD = "*";

interface PatternRule {
  matches: (name: string) => boolean;
  target: string;
}

export class ModelMap {
  readonly #exact: ReadonlyMap<string, string>;
  readonly #patterns: readonly PatternRule[];

  /**
   * `overrides` is `--model-map` in the order given: a record keeps the insertion order of keys
   * that are not array indices, which a key holding `*` never is.
   */
  constructor(
    own: Readonly<Record<string, string>>,
    overrides: Readonly<Record<string, string>>,
    coder: CoderModels,
  ) {
    // A Map, not the records: client-given names never reach an object's prototype.
    const exact = new Map(Object.entries(own));
    const patterns: PatternRule[] = [];
    for (const [from, to] of Object.entries(overrides)) {
      if (from.includes(WILDCARD)) patterns.push({ matches: compilePattern(from), target: to });
      else exact.set(from, to);
    }
    patterns.push(
      { matches: compilePattern("claude-*haiku*"), target: coder.fast },
      { matches: compilePattern("claude-*"), target: coder.main },
    );
    this.#exact = exact;
    this.#patterns = patterns;
  }

  /** The name to send upstream, or undefined to send `name` as it is. */
  get(name: string): string | undefined {
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    for (const rule of this.#patterns) {
      if (rule.matches(name)) return rule.target;
    }
    return undefined;
  }

  /** The exact names, which `/v1/models` lists as aliases (a pattern names no model). */
  keys(): Iterable<string> {
    return this.#exact.keys();
  }

  /** The models the exact names stand for. */
  values(): Iterable<string> {
    return this.#exact.values();
  }
}

/**
 * A matcher for a pattern of literal pieces between `*`s: the first piece must start the name,
 * the last end it, and the others follow in order between them. Taking each middle piece at its
 * first place is enough (what a later place could match, an earlier one can too), so a match costs
 * a few `indexOf`s and no regular expression, whose backtracking a long name could make slow.
 */
function compilePattern(pattern: string): (name: string) => boolean {
  const pieces = pattern.split(WILDCARD);
  const head = pieces[0];
  const tail = pieces[pieces.length - 1];
  const middle = pieces.slice(1, -1).filter((piece) => piece !== "");
  const fixed = head.length + tail.length;
  if (middle.length === 0) {
    return (name) => name.length >= fixed && name.startsWith(head) && name.endsWith(tail);
  }
  return (name) => {
    if (name.length < fixed || !name.startsWith(head) || !name.endsWith(tail)) return false;
    const end = name.length - tail.length;
    let at = head.length;
    for (let i = 0; i < middle.length; i++) {
      const found = name.indexOf(middle[i], at);
      if (found === -1 || found + middle[i].length > end) return false;
      at = found + middle[i].length;
    }
    return true;
  };
}
