/**
 * Release versions as Semantic Versioning 2.0.0 orders them (https://semver.org/#spec-item-11):
 * MAJOR.MINOR.PATCH numerically, a pre-release (`-rc.1`) before its release, build metadata
 * (`+abc`) ignored.
 */
import { UsageError } from "../../lib/errors.ts";

const VERSION =
  /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/;

interface Version {
  core: [number, number, number];
  pre: string[];
}

/** `v1.2.3` or `1.2.3` → `1.2.3`; undefined when it is not a version. */
export function normalizeVersion(text: string): string | undefined {
  const trimmed = text.trim().replace(/^v/, "");
  return VERSION.test(trimmed) ? trimmed : undefined;
}

/** A version given by a person: a UsageError names it when it is not one. */
export function versionArgument(text: string, source: string): string {
  const version = normalizeVersion(text);
  if (version === undefined) {
    throw new UsageError(`Invalid version "${text}" for "${source}": expected e.g. 0.2.0`);
  }
  return version;
}

/** Negative when a < b, 0 when they are the same release, positive when a > b. */
export function compareVersions(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    if (x.core[i] !== y.core[i]) return x.core[i] - y.core[i];
  }
  // A release comes after its pre-releases.
  if (x.pre.length === 0 || y.pre.length === 0) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const order = compareIdentifiers(x.pre[i], y.pre[i]);
    if (order !== 0) return order;
  }
  return x.pre.length - y.pre.length;
}

function parse(text: string): Version {
  const match = VERSION.exec(text.trim().replace(/^v/, ""));
  if (!match) throw new Error(`Not a version: "${text}"`);
  return {
    core: [Number(match[1]), Number(match[2]), Number(match[3])],
    pre: match[4] === undefined ? [] : match[4].split("."),
  };
}

/** Numeric identifiers by value and before alphanumeric ones, which compare as ASCII. */
function compareIdentifiers(a: string, b: string): number {
  const numeric = /^\d+$/;
  if (numeric.test(a) && numeric.test(b)) return Number(a) - Number(b);
  if (numeric.test(a)) return -1;
  if (numeric.test(b)) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
