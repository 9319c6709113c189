/**
 * The client's `stop_sequences`, found by us in the answer's text: a chat completion does not
 * say which sequence stopped it, so they are never sent upstream (docs/anthropic.md). Text is
 * held back only as long as it could be the start of a sequence.
 */
export class StopSequences {
  readonly #sequences: readonly string[];
  /** Characters that may be the start of a sequence: at most the longest one's length − 1. */
  readonly #holdBack: number;
  #held = "";

  constructor(sequences: readonly string[]) {
    this.#sequences = sequences.filter((s) => s !== "");
    this.#holdBack = Math.max(0, ...this.#sequences.map((s) => s.length - 1));
  }

  get active(): boolean {
    return this.#sequences.length > 0;
  }

  /**
   * The text that can be sent now, and the sequence it stopped at, if one matched: the text
   * before the match is all that is left to send.
   */
  push(text: string): { text: string; matched?: string } {
    const whole = this.#held + text;
    let at = -1;
    let matched: string | undefined;
    for (const sequence of this.#sequences) {
      const found = whole.indexOf(sequence);
      if (found >= 0 && (at < 0 || found < at)) {
        at = found;
        matched = sequence;
      }
    }
    if (matched !== undefined) {
      this.#held = "";
      return { text: whole.slice(0, at), matched };
    }
    let cut = Math.max(0, whole.length - this.#holdBack);
    // Never split a surrogate pair between what is sent and what is held.
    const code = whole.charCodeAt(cut - 1);
    if (cut > 0 && cut < whole.length && code >= 0xd800 && code <= 0xdbff) cut--;
    this.#held = whole.slice(cut);
    return { text: whole.slice(0, cut) };
  }

  /** What was held back, once no more text can follow. */
  flush(): string {
    const held = this.#held;
    this.#held = "";
    return held;
  }
}
