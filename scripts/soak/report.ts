/** The soak's one table (Markdown, so that docs/reliability.md can quote it) and its samples. */

export interface Row {
  what: string;
  value: string;
  /** An invariant: the run fails unless it holds. */
  ok?: boolean;
}

export function table(rows: readonly Row[]): string {
  const cells = rows.map((r) => [
    r.what,
    r.ok === undefined ? r.value : `${r.value}${r.ok ? "" : "  ← FAILS"}`,
  ]);
  const width = [
    Math.max(4, ...cells.map((c) => c[0].length)),
    Math.max(5, ...cells.map((c) => c[1].length)),
  ];
  const line = (a: string, b: string) => `| ${a.padEnd(width[0])} | ${b.padEnd(width[1])} |`;
  return [
    line("what", "count"),
    `| ${"-".repeat(width[0])} | ${"-".repeat(width[1])} |`,
    ...cells.map(([a, b]) => line(a, b)),
  ].join("\n");
}

/** A counter with a few samples per key, for failures grouped by kind. */
export class Tally {
  readonly counts = new Map<string, number>();
  readonly samples = new Map<string, string[]>();

  constructor(readonly samplesPerKey = 4) {}

  add(key: string, sample?: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (sample === undefined) return;
    const list = this.samples.get(key) ?? [];
    if (list.length < this.samplesPerKey) list.push(sample);
    this.samples.set(key, list);
  }

  get total(): number {
    let n = 0;
    for (const count of this.counts.values()) n += count;
    return n;
  }

  /** Keys by count, largest first. */
  sorted(): [string, number][] {
    return [...this.counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  }
}
