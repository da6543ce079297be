/**
 * Starter questions for the empty page: a few questions about different recent documents, phrased
 * the way a reader would ask them (from a news lead's speaker or dateline, else the title), and
 * offered only after the index has answered each from the document it was made from. Recent
 * documents are tried one after another until three are found, so a large corpus whose newest
 * documents do not answer their own title still gets some.
 */

export interface StarterDoc {
  id: string;
  title: string;
  /** The document's opening text (its first few hundred characters are enough). */
  lead: string;
}

const MONTH = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\\.?";
/** `HANGZHOU, Dec. 9 (Xinhua) --`: the place and day a wire story opens with. */
const DATELINE = new RegExp(`^([A-Z][A-Z .'-]{2,30}),\\s+(${MONTH}\\s+\\d{1,2})\\b`);
/** `…, Foreign Minister Wang Yi said Monday.`: the person a lead quotes. */
const SPEAKER =
  /(?:,|\bby|\bwhen)\s+((?:[A-Z][\w.'-]*\s+){1,5}[A-Z][\w'-]+)\s+(?:said|says|told|announced)\b/;
/** A source tag after the headline: `…: FM`, `… - Reuters`, `… | BBC News`. */
const TITLE_TAG = /\s*(?::\s+[\w.' ]{1,24}|\s[-–—|]\s+[\w.' ]{1,30})$/;

const titleCase = (s: string) =>
  s.toLowerCase().replace(/(^|[\s'-])(\p{L})/gu, (_m, pre: string, c: string) => pre + c.toUpperCase());

/** Words a headline cut short with "…" may end on, which leave it dangling. */
const DANGLING = new Set(
  "a an the and or but of to in on at for with from by as if it that this its his her their is are was were be after before over into than 's".split(
    " ",
  ),
);

/** The headline without its source tag, closing punctuation or the dangling end of a cut. */
export function cleanHeadline(title: string): string {
  let t = title.trim().replace(/\s+/g, " ");
  const cut = /(?:\.\.\.|…)$/.test(t);
  const untagged = t.replace(TITLE_TAG, "");
  t = (untagged.split(" ").length >= 3 ? untagged : t).replace(/[.…!;:,\s]+$/, "");
  if (cut) {
    const words = t.split(" ");
    while (words.length > 3 && (DANGLING.has(words.at(-1)!.toLowerCase()) || /^\d+$/.test(words.at(-1)!))) {
      words.pop();
    }
    t = words.join(" ").replace(/[,;:]+$/, "");
  }
  return t;
}

/** Ways to ask about one document, best first; pure. */
export function starterCandidates(doc: StarterDoc): string[] {
  const out: string[] = [];
  const lead = doc.lead.slice(0, 600);
  const speaker = SPEAKER.exec(lead)?.[1];
  if (speaker && speaker.split(" ").length >= 2) out.push(`What did ${speaker} say?`);
  const dateline = DATELINE.exec(lead);
  if (dateline?.[1] && dateline[2]) {
    out.push(`What happened in ${titleCase(dateline[1].trim())} on ${dateline[2]}?`);
  }
  const headline = cleanHeadline(doc.title);
  // `Damar Hamlin updates: …`, `Buffalo snow: …`: a short subject before a colon.
  const subject = /^([^:]{3,40}):\s/.exec(headline)?.[1]?.replace(/\s+updates?$/i, "");
  if (subject && subject.split(" ").length <= 4) out.push(`What is the latest on ${subject}?`);
  if (headline.endsWith("?")) out.push(headline);
  else if (headline.split(" ").length >= 2) {
    // Worded for a document of any kind (a note, a report, a page), not only a news story.
    out.push(`What is “${headline.length > 90 ? `${headline.slice(0, 87)}…` : headline}” about?`);
  }
  return [...new Set(out)];
}

/**
 * Up to `max` starter questions, one per document in the order given, each checked with
 * `answers(question, docId)` (true when the index answers it, citing that document).
 */
export async function verifiedStarters(
  docs: readonly StarterDoc[],
  answers: (question: string, docId: string) => Promise<boolean>,
  max = 3,
  maxChecks = 24,
): Promise<string[]> {
  const chosen: string[] = [];
  let checks = 0;
  for (const doc of docs) {
    if (chosen.length >= max) break;
    for (const q of starterCandidates(doc)) {
      // Each check is a whole answer: on a large corpus of look-alike titles, stop looking.
      if (++checks > maxChecks) return chosen;
      if (await answers(q, doc.id)) {
        chosen.push(q);
        break;
      }
    }
  }
  return chosen;
}
