/** Terminal tables for evaluation and calibration summaries. Pure: summaries in, text out. */
import { formatAnswerQuality } from "./answer-quality.ts";
import type { CalibrationReport } from "./calibrate.ts";
import type { EvalSummary } from "./run.ts";
import type { Quantiles } from "./score.ts";

/**
 * Columns two spaces apart; `align` has one letter per column, "l" or "r" (default: the first
 * column left, the others right).
 */
export function table(rows: readonly (readonly string[])[], align = ""): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) =>
          (align[i] ?? (i === 0 ? "l" : "r")) === "l" ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!),
        )
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const num = (x: number | null | undefined, digits = 3) => (x == null ? "-" : x.toFixed(digits));
const pct = (x: number | null | undefined) => (x == null ? "-" : `${(x * 100).toFixed(1)}%`);
const ms = (q: Quantiles) => `${num(q.p50, 1)} / ${num(q.p95, 1)} ms`;

/** The evaluation summary as it is printed after a run. */
export function formatSummary(s: EvalSummary): string {
  const d = s.dataset;
  const lines = [
    `dataset ${d.name}: ${d.documents} documents, ${d.questions} questions (${d.answerable} answerable, ${d.expectNotFound} expect not found)`,
    `index ${s.index.key}: ${s.index.chunks} chunks, ${s.index.reused ? "reused from cache" : `built in ${s.index.buildSeconds} s`}`,
    ...(s.index.dropped > 0
      ? [
          `PARTIAL: ${s.index.dropped} of ${d.documents} documents could not be indexed and were dropped (--allow-partial); these scores are not comparable with a full run, and the index was not cached`,
        ]
      : []),
    `settings: ${settingsLine(s.settings)}`,
    "",
    `retrieval: documents ranked by their first passage in the top ${s.rankingDepth} (product call, cap on); context and passage metrics over the top ${s.k}; times exclude query embedding`,
  ];
  const applies = d.answers.applicable;
  /** An answer metric, or "n/a" for a dataset whose answers are not text of its documents. */
  const ans = (text: string) => (applies ? text : "n/a");
  const rows = [
    ["mode", "R@1", "R@5", "R@10", "MRR@10", "nDCG@10", `ans-in-ctx@${s.k}`, `passage@${s.k}`, "p50 / p95"],
  ];
  for (const [mode, m] of Object.entries(s.modes)) {
    rows.push([
      mode,
      num(m.recall1),
      num(m.recall5),
      num(m.recall10),
      num(m.mrr10),
      num(m.ndcg10),
      ans(num(m.answerInContext.rate)),
      m.passageRecall ? num(m.passageRecall.rate) : "-",
      ms(m.retrievalMs),
    ]);
  }
  lines.push(table(rows), "");
  const a = s.answer;
  const c = a.citations;
  const checkable = a.checkable < a.answerable ? " with the answer in a gold document" : "";
  lines.push(
    `answer (engine.answer, hybrid; ${s.selector === "out-of-fold" ? "each question answered by a selector trained without its article" : "the committed selector"}):`,
    table([
      ["answer accuracy", ans(pct(a.accuracy)), `of ${a.checkable} answerable${checkable}`],
      ["false not-found rate", pct(a.falseNotFoundRate), `of ${a.answerable} answerable`],
      ...(a.checkable < a.answerable
        ? [["", pct(a.falseNotFoundCheckableRate), `of the ${a.checkable}${checkable}`]]
        : []),
      ["not-found rate", pct(a.notFoundRate), `of ${a.expectNotFound} expecting not found`],
      [
        "citation precision",
        ans(pct(c.precision)),
        `verbatim and answer-bearing, of ${c.sentences} distinct cited sentences`,
      ],
      ["  per citation", ans(pct(c.precisionPerCitation)), `of ${c.onAnswerable} citations`],
      ["  verbatim", pct(c.verbatimRate), `of ${c.total} citations`],
      ["  answer-bearing", ans(pct(c.answerBearingRate)), `of ${c.onAnswerable} citations`],
      ["query embedding", ms(a.embedMs), "p50 / p95"],
      ["answer retrieval", ms(a.retrievalMs), "p50 / p95, embedding included"],
      ["answer total", ms(a.totalMs), "p50 / p95"],
    ]),
  );
  if (!applies) {
    lines.push(
      `answer metrics not applicable: no gold answer of the ${d.answers.questions} questions occurs in any of its gold documents (are the answers labels, such as SUPPORT or CONTRADICT?); answer accuracy, answer in context and citation precision are omitted`,
    );
  } else if (d.answers.inGold < d.answers.questions) {
    lines.push(
      `note: the gold answers of ${d.answers.questions - d.answers.inGold} of ${d.answers.questions} questions occur in none of their gold documents; answer metrics leave those questions out`,
    );
  }
  lines.push(...formatAnswerQuality(s.answerQuality));
  if (s.readerOff) lines.push("", ...formatReaderComparison(s, ans));
  if (a.evidenceDisagreements > 0) {
    lines.push(
      `warning: on ${a.evidenceDisagreements} questions the recomputed evidence disagrees with the engine's not-found verdict; eval/evidence.ts no longer mirrors core/engine.ts`,
    );
  }
  if (s.errors > 0) lines.push(`warning: ${s.errors} questions failed with an error; see ${s.files.results}`);
  if (d.unlocatedPassages > 0) {
    lines.push(
      `note: ${d.unlocatedPassages} gold passages are not verbatim in their document and were skipped`,
    );
  }
  lines.push(
    "",
    `${d.questions} questions in ${s.wallSeconds} s; results in ${s.files.results}, summary in ${s.files.summary}`,
  );
  return lines.join("\n");
}

/** The answer figures without and with the reader, side by side. */
function formatReaderComparison(s: EvalSummary, ans: (text: string) => string): string[] {
  const off = s.readerOff!;
  const both = [
    { a: off.answer, q: off.answerQuality },
    { a: s.answer, q: s.answerQuality },
  ];
  const row = (name: string, f: (x: (typeof both)[number]) => string) => [name, ...both.map(f)];
  return [
    `answers without and with the reader (${s.reader}):`,
    table([
      ["", "reader off", "reader on"],
      row("answer accuracy", (x) => ans(pct(x.a.accuracy))),
      row("first sentence holds an answer", (x) => ans(pct(x.q.firstSentence.rate))),
      row("citation precision", (x) => ans(pct(x.a.citations.precision))),
      row("false not-found", (x) => pct(x.a.falseNotFoundRate)),
      row("unanswerable refused", (x) => pct(x.q.refusals.refusalRate)),
      row("short answers given", (x) => pct(x.q.shortAnswer.share)),
      row("short answer EM / F1", (x) => `${pct(x.q.shortAnswer.em)} / ${pct(x.q.shortAnswer.f1)}`),
      row("answer total p50 / p95", (x) => ms(x.a.totalMs)),
    ]),
  ];
}

/** Settings that shape retrieval and answers, as `name value` pairs; absent ones are skipped. */
const SHOWN_SETTINGS = [
  "model",
  "chunkMaxTokens",
  "chunkOverlapTokens",
  "k",
  "candidates",
  "fusion",
  "rrfK",
  "denseWeight",
  "perDocCap",
  "notFoundThreshold",
  "answerSentences",
];

function settingsLine(settings: object): string {
  const all = settings as Record<string, unknown>;
  return SHOWN_SETTINGS.filter((key) => all[key] !== undefined)
    .map((key) => `${key} ${String(all[key])}`)
    .join(", ");
}

/** The calibration report: rates per threshold and the evidence distributions. */
export function formatCalibration(r: CalibrationReport): string {
  const lines = [
    `calibration on ${r.dataset}: ${r.answerable.count} answerable questions; ${r.unanswerable.count} unanswerable (${r.unanswerable.heldOut} asked against an index without their ${r.heldOutDocs.length} gold documents, ${r.unanswerable.expectNotFound} marked not_found)`,
    "",
    "evidence distribution",
    table([
      ["", "n", "min", "p5", "p25", "p50", "p75", "p95", "max"],
      ...[r.answerable, r.unanswerable].map((g) => [
        g.label,
        String(g.count),
        ...[g.min, g.p5, g.p25, g.p50, g.p75, g.p95, g.max].map((x) => num(x)),
      ]),
    ]),
    "",
    table(
      [
        ["evidence", "answerable", "", "unanswerable", ""],
        ...r.histogram.map((b) => [
          `${b.from.toFixed(2)}-${b.to.toFixed(2)}`,
          String(b.answerable),
          bar(b.answerable, r.answerable.count),
          String(b.unanswerable),
          bar(b.unanswerable, r.unanswerable.count),
        ]),
      ],
      "lrlrl",
    ),
    "",
    table([
      ["threshold", "false not-found (answerable)", "not-found (unanswerable)", "J", ""],
      ...r.thresholds.map((t) => [
        t.threshold.toFixed(3),
        pct(t.falseNotFoundRate),
        pct(t.notFoundRate),
        num(t.youden),
        [t.threshold === r.current ? "current" : "", t.threshold === r.recommended ? "recommended" : ""]
          .filter(Boolean)
          .join(", "),
      ]),
    ]),
    "",
    `operating threshold ${r.operating.threshold} (at most ${pct(r.operating.maxFalseRefusal)} of answerable refused): ${pct(r.operating.falseRefusalRate)} of answerable refused; ${r.operating.refused.map((g) => `${pct(g.rate)} of ${g.questions} ${g.group} refused`).join("; ")}`,
    `recommended threshold ${r.recommended.toFixed(3)}: the largest gap between not-found on unanswerable and false not-found on answerable questions (Youden's J)`,
    `current threshold ${r.current}; results in ${r.files.results}, report in ${r.files.summary}`,
  ];
  return lines.join("\n");
}

function bar(n: number, total: number, width = 30): string {
  return "#".repeat(total > 0 ? Math.round((n / total) * width) : 0);
}
