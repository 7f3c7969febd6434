/**
 * A section of a results file that belongs to one script while another script writes the rest:
 * it sits between two marker comments, and whichever script rewrites the file keeps it.
 */

/** The two marker lines around a section. */
export interface SectionMarkers {
  readonly begin: string;
  readonly end: string;
}

/** bench/coild-export.ts's section of bench/RESULTS-router-scale.md (bench/router-scale.ts writes the rest). */
export const COILD_EXPORT_MARKERS: SectionMarkers = {
  begin: "<!-- bench/coild-export.ts: latest run -->",
  end: "<!-- /bench/coild-export.ts -->",
};

/** Inside a section, the hand-written notes start at this line; a new run keeps them. */
export const NOTES_MARKER = "<!-- notes: kept by a new run -->";

/** The section of `text`, markers included; undefined when the markers are absent or out of order. */
export function markedSection(text: string, m: SectionMarkers): string | undefined {
  const a = text.indexOf(m.begin);
  const b = text.indexOf(m.end, a < 0 ? 0 : a);
  return a < 0 || b < 0 ? undefined : text.slice(a, b + m.end.length);
}

/**
 * `text` with its section replaced by `body` (markers added), or with it appended when there is none.
 * Notes of the old section (from {@link NOTES_MARKER} to its end) follow the new body.
 */
export function withSection(text: string, m: SectionMarkers, body: string): string {
  const kept = markedSection(text, m);
  const at = kept === undefined ? -1 : kept.indexOf(NOTES_MARKER);
  const notes = kept === undefined || at < 0 ? "" : `\n\n${kept.slice(at, kept.length - m.end.length).trimEnd()}`;
  const section = `${m.begin}\n${body.trimEnd()}${notes}\n${m.end}`;
  const old = markedSection(text, m);
  if (old !== undefined) return text.replace(old, () => section);
  return `${text.trimEnd()}${text === "" ? "" : "\n\n"}${section}\n`;
}
