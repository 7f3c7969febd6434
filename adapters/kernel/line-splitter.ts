/**
 * Splits a child process's stdout text (already decoded, `setEncoding("utf8")`) into whole lines for
 * the long-lived co-processes (`ip-session.ts`, `spawner.ts`). Only the new chunk is searched for a
 * newline: a 10,000-route JSON line arrives in hundreds of chunks.
 */
export class LineSplitter {
  readonly #onLine: (line: string) => void;
  /** Chunks of the line not yet ended. */
  #partial: string[] = [];

  /** `onLine` gets each whole line, without its newline, in order. */
  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  /** Feed the next chunk of text. */
  push(text: string): void {
    let from = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", from)) {
      const tail = text.slice(from, nl);
      const line = this.#partial.length === 0 ? tail : [...this.#partial, tail].join("");
      this.#partial = [];
      from = nl + 1;
      this.#onLine(line);
    }
    if (from < text.length) this.#partial.push(text.slice(from));
  }
}
