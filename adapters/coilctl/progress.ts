/**
 * Progress of coilctl's long phases (API lists page by page, the per-node coild queries, release
 * phases) on stderr — never on stdout, which carries only the result (`-o json` stays parseable).
 *
 * On a terminal one status line is redrawn in place (`\r`, erase line) at most every 100 ms with
 * every running phase (`listing Pods: 12000/50000 | listing AddressBlocks: 9500/10000`) and erased
 * at the end, so the final stderr holds only warnings. Elsewhere (`--progress` into a pipe or file)
 * each phase prints `coilctl: <phase>: <done>/<total>` lines: its first count, then at most one a
 * second, then its final count. No library: the few lines here are all it takes.
 */

/** Where progress goes (stderr). */
export interface ProgressSink {
  /** Write text. */
  write(text: string): void;
  /** A terminal: redraw one line in place. */
  readonly isTTY: boolean;
}

/** Reports the progress of named phases. */
export interface Progress {
  /** Phase `phase` has done `done` of `total` (undefined: total unknown). */
  update(phase: string, done: number, total?: number): void;
  /** Phase `phase` is finished (its final count is shown once more if it was not the last shown). */
  end(phase: string): void;
  /** Everything finished: erase the status line (terminal). */
  close(): void;
}

/** Reports nothing. */
export const NO_PROGRESS: Progress = { update: () => undefined, end: () => undefined, close: () => undefined };

/** Options of {@link progressReporter}. */
export interface ProgressOptions {
  /** The clock, ms (monotonic is best). */
  readonly now: () => number;
  /** Least time between two redraws (terminal; default 100 ms) or two lines of one phase (else; default 1000 ms). */
  readonly intervalMs?: number;
}

const count = (done: number, total: number | undefined): string => (total === undefined ? String(done) : `${done}/${total}`);

/** A {@link Progress} writing to `sink` (see the module comment). */
export function progressReporter(sink: ProgressSink, o: ProgressOptions): Progress {
  return sink.isTTY ? terminalProgress(sink, o.now, o.intervalMs ?? 100) : lineProgress(sink, o.now, o.intervalMs ?? 1000);
}

function terminalProgress(sink: ProgressSink, now: () => number, intervalMs: number): Progress {
  const phases = new Map<string, string>();
  let drawnAt = -Infinity;
  let drawn = false;
  const draw = (force: boolean): void => {
    const t = now();
    if (!force && t - drawnAt < intervalMs) return;
    drawnAt = t;
    const text = [...phases].map(([p, c]) => `${p}: ${c}`).join(" | ");
    sink.write(`\r\u001b[K${text}`);
    drawn = text !== "";
  };
  return {
    update: (phase, done, total) => {
      const isNew = !phases.has(phase);
      phases.set(phase, count(done, total));
      draw(isNew);
    },
    end: (phase) => {
      phases.delete(phase);
      draw(false);
    },
    close: () => {
      phases.clear();
      if (drawn) sink.write("\r\u001b[K");
      drawn = false;
    },
  };
}

function lineProgress(sink: ProgressSink, now: () => number, intervalMs: number): Progress {
  const state = new Map<string, { last: string; shown: string; at: number }>();
  const line = (phase: string, text: string): void => sink.write(`coilctl: ${phase}: ${text}\n`);
  return {
    update: (phase, done, total) => {
      const text = count(done, total);
      const s = state.get(phase);
      const t = now();
      if (s === undefined || (t - s.at >= intervalMs && text !== s.shown)) {
        line(phase, text);
        state.set(phase, { last: text, shown: text, at: t });
      } else s.last = text;
    },
    end: (phase) => {
      const s = state.get(phase);
      if (s !== undefined && s.last !== s.shown) line(phase, s.last);
      state.delete(phase);
    },
    close: () => state.clear(),
  };
}
