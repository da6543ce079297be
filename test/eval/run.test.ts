import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCalibration } from "../../eval/calibrate.ts";
import { loadDataset } from "../../eval/dataset.ts";
import { type EvalSummary, runEval } from "../../eval/run.ts";
import type { QuestionResult } from "../../eval/score.ts";
import { getEmbedder } from "../helpers/model.ts";
import { sharedPath } from "../helpers/shared.ts";

const SEED = sharedPath("eval", "seed");

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "citeline-eval-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("evaluation on the seed dataset (real model)", () => {
  it("writes a summary and per-question results with the expected scores", async () => {
    const outDir = path.join(tmp, "out");
    const cacheRoot = path.join(tmp, "cache");
    const returned = await runEval({ datasetDir: SEED, outDir, cacheRoot, embedder: await getEmbedder() });

    const summary = JSON.parse(await readFile(path.join(outDir, "summary.json"), "utf8")) as EvalSummary;
    expect(summary).toEqual(returned);
    expect(summary.dataset).toMatchObject({
      name: "seed",
      documents: 1,
      questions: 6,
      answerable: 5,
      expectNotFound: 1,
    });
    expect(summary.index.reused).toBe(false);
    expect(summary.errors).toBe(0);
    expect(Object.keys(summary.modes)).toEqual(["dense", "lexical", "hybrid"]);
    for (const mode of ["dense", "lexical", "hybrid"] as const) {
      expect(summary.modes[mode]).toMatchObject({
        questions: 5,
        recall1: 1,
        recall5: 1,
        recall10: 1,
        mrr10: 1,
      });
    }
    expect(summary.modes.hybrid?.answerInContext).toEqual({ k: 5, questions: 5, rate: 1 });
    expect(summary.modes.hybrid?.passageRecall).toBeNull();

    const a = summary.answer;
    expect(a.answerable).toBe(5);
    expect(a.expectNotFound).toBe(1);
    expect(a.notFoundRate).not.toBeNull();
    expect(a.accuracy).toBeGreaterThanOrEqual(0.6);
    expect(a.citations.total).toBeGreaterThan(0);
    expect(a.citations.verbatimRate).toBe(1);
    expect(a.citations.precision).toBeGreaterThan(0);
    expect(a.evidenceDisagreements).toBe(0);
    expect(a.totalMs.p50).toBeGreaterThan(0);

    const lines = (await readFile(path.join(outDir, "results.jsonl"), "utf8")).trim().split("\n");
    const results = lines.map((l) => JSON.parse(l) as QuestionResult);
    expect(results.map((r) => r.id)).toEqual([
      "seed-01",
      "seed-02",
      "seed-03",
      "seed-04",
      "seed-05",
      "seed-06",
    ]);
    const notFound = results.find((r) => r.id === "seed-06")!;
    expect(notFound.expectNotFound).toBe(true);
    expect(notFound.answer?.correct).toBeNull();
    expect(notFound.modes.hybrid?.recall5).toBeNull();
    const first = results[0]!;
    expect(first.answer?.notFound).toBe(false);
    expect(first.answer?.citations.every((c) => c.verbatim)).toBe(true);
  }, 120_000);

  it("reuses the cached index on a later run", async () => {
    const cacheRoot = path.join(tmp, "cache-reuse");
    const opts = { datasetDir: SEED, cacheRoot, embedder: await getEmbedder(), modes: ["hybrid"] as const };
    const first = await runEval({ ...opts, outDir: path.join(tmp, "reuse-1"), limit: 1 });
    const second = await runEval({ ...opts, outDir: path.join(tmp, "reuse-2"), limit: 2 });
    expect(first.index.reused).toBe(false);
    expect(second.index.reused).toBe(true);
    expect(second.index.key).toBe(first.index.key);
    expect(second.dataset.questions).toBe(2);
    expect(Object.keys(second.modes)).toEqual(["hybrid"]);
  }, 120_000);

  it("calibrates against the not_found question when there are too few documents to hold out", async () => {
    const report = await runCalibration({
      datasetDir: SEED,
      outDir: path.join(tmp, "calibration"),
      cacheRoot: path.join(tmp, "cache"),
      embedder: await getEmbedder(),
    });
    expect(report.heldOutDocs).toEqual([]);
    expect(report.answerable.count).toBe(5);
    expect(report.unanswerable).toMatchObject({ count: 1, heldOut: 0, expectNotFound: 1 });
    expect(report.thresholds.map((t) => t.threshold)).toContain(report.current);
    expect(report.answerable.p50).toBeGreaterThan(report.unanswerable.p50!);
    const saved = JSON.parse(await readFile(report.files.summary, "utf8"));
    expect(saved.recommended).toBe(report.recommended);
  }, 120_000);
});

describe("calibration with held-out documents (real model)", () => {
  const docs = [
    [
      "volcano",
      "Mount Etna is an active volcano on the east coast of Sicily. It erupted in 1669 and destroyed Catania.",
    ],
    [
      "chess",
      "The world chess championship of 1972 was played in Reykjavik between Bobby Fischer and Boris Spassky.",
    ],
    [
      "bread",
      "Sourdough bread is leavened with a starter of wild yeast and lactic acid bacteria instead of baker's yeast.",
    ],
    [
      "comet",
      "Halley's Comet returns to the inner Solar System about every 76 years; it was last seen in 1986.",
    ],
    ["violin", "Antonio Stradivari built violins in Cremona; about 650 of his instruments survive today."],
  ];
  const questions = [
    ["volcano", "Which city did the 1669 eruption of Mount Etna destroy?", "Catania"],
    ["chess", "Where was the 1972 world chess championship played?", "Reykjavik"],
    ["bread", "What leavens sourdough bread?", "a starter of wild yeast"],
    ["comet", "When was Halley's Comet last seen?", "1986"],
    ["violin", "In which city did Stradivari build violins?", "Cremona"],
  ];

  it("asks the held-out documents' questions against an index without them", async () => {
    const dir = path.join(tmp, "datasets", "five");
    await mkdir(dir, { recursive: true });
    await writeFile(
      path.join(dir, "corpus.jsonl"),
      docs.map(([id, text]) => JSON.stringify({ id, title: id, text })).join("\n"),
    );
    await writeFile(
      path.join(dir, "questions.jsonl"),
      questions
        .map(([doc, q, a]) =>
          JSON.stringify({ id: `q-${doc}`, question: q, answers: [a], gold_doc_ids: [doc] }),
        )
        .join("\n"),
    );
    const report = await runCalibration({
      datasetDir: dir,
      outDir: path.join(tmp, "calibration-five"),
      cacheRoot: path.join(tmp, "cache-five"),
      embedder: await getEmbedder(),
    });
    expect(report.heldOutDocs).toHaveLength(1);
    const held = report.heldOutDocs[0]!;
    expect(report.answerable.count).toBe(5);
    expect(report.unanswerable).toMatchObject({ count: 1, heldOut: 1, expectNotFound: 0 });

    const rows = (await readFile(report.files.results, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: string; group: string; evidence: number });
    const asked = rows.filter((r) => r.id === `q-${held}`);
    expect(asked.map((r) => r.group)).toEqual(["answerable", "held-out"]);
    // Without its document the question finds only unrelated sentences.
    expect(asked[1]!.evidence).toBeLessThan(asked[0]!.evidence - 0.1);
  }, 120_000);
});

describe("calibration of dated questions (real model)", () => {
  it("asks each question as of its date, so documents after it are left out", async () => {
    const dir = path.join(tmp, "datasets", "dated");
    await mkdir(dir, { recursive: true });
    const docs = [
      ["etna", "2024-03-01", "Mount Etna erupted again on Sunday and closed the airport of Catania."],
      [
        "bread",
        "2024-01-01",
        "Sourdough bread is leavened with a starter of wild yeast instead of baker's yeast.",
      ],
    ];
    await writeFile(
      path.join(dir, "corpus.jsonl"),
      docs.map(([id, date, text]) => JSON.stringify({ id, title: id, date, text })).join("\n"),
    );
    const question = "Which airport did the eruption of Mount Etna close?";
    await writeFile(
      path.join(dir, "questions.jsonl"),
      [
        { id: "undated", question, answers: ["Catania"], gold_doc_ids: ["etna"] },
        // Asked before the article was written: the article is not there to answer it.
        { id: "before", question, answers: ["Catania"], gold_doc_ids: ["etna"], date: "2024-02-01" },
      ]
        .map((q) => JSON.stringify(q))
        .join("\n"),
    );
    const report = await runCalibration({
      datasetDir: dir,
      outDir: path.join(tmp, "calibration-dated"),
      cacheRoot: path.join(tmp, "cache-dated"),
      embedder: await getEmbedder(),
    });
    const rows = (await readFile(report.files.results, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: string; group: string; evidence: number });
    const evidence = (id: string) => rows.find((r) => r.id === id && r.group === "answerable")!.evidence;
    expect(evidence("before")).toBeLessThan(evidence("undated") - 0.1);
  }, 120_000);
});

describe("loadDataset", () => {
  const corpus = [
    JSON.stringify({ id: "d1", title: "One", text: "The first document." }),
    JSON.stringify({ id: "d2", title: "Two", date: "2024-01-02", text: "The second document." }),
  ].join("\n");
  const question = (q: Record<string, unknown>) =>
    JSON.stringify({ id: "q1", question: "What?", answers: ["first"], gold_doc_ids: ["d1"], ...q });

  async function dataset(name: string, files: Record<string, string>): Promise<string> {
    const dir = path.join(tmp, "datasets", name);
    await mkdir(dir, { recursive: true });
    for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, file), text);
    return dir;
  }

  it("reads the seed dataset", async () => {
    const d = await loadDataset(SEED);
    expect(d.name).toBe("seed");
    expect(d.docIds).toEqual(["000_1819b03cfa5cc3af"]);
    expect(d.questions).toHaveLength(6);
    expect(d.questions[5]).toMatchObject({
      id: "seed-06",
      expectNotFound: true,
      answers: [],
      goldDocIds: [],
    });
    expect(d.passages).toBeUndefined();
  });

  it("reads passages and gold passage ids", async () => {
    const dir = await dataset("passages", {
      "corpus.jsonl": corpus,
      "passages.jsonl": JSON.stringify({ id: "p1", doc_id: "d1", text: "first document" }),
      "questions.jsonl": `\n${question({ gold_passage_ids: ["p1"] })}\n\n`,
    });
    const d = await loadDataset(dir);
    expect(d.passages?.get("p1")).toEqual({ id: "p1", docId: "d1", text: "first document" });
    expect(d.questions[0]).toMatchObject({ goldPassageIds: ["p1"], line: 2 });
  });

  it.each<[string, Record<string, string>, string]>([
    [
      "a gold document that is not in the corpus",
      { "questions.jsonl": `${question({ id: "q0" })}\n${question({ gold_doc_ids: ["nope"] })}` },
      'questions.jsonl line 2: "gold_doc_ids" names "nope", which is not in corpus.jsonl',
    ],
    ["a line that is not JSON", { "questions.jsonl": "{not json" }, "questions.jsonl line 1: invalid JSON"],
    [
      "an answerable question without answers",
      { "questions.jsonl": question({ answers: [] }) },
      'questions.jsonl line 1: "answers" is empty; give an answer or set "expect": "not_found"',
    ],
    [
      "an unknown expectation",
      { "questions.jsonl": question({ expect: "maybe" }) },
      'questions.jsonl line 1: "expect" is "maybe"; the only value is "not_found"',
    ],
    [
      "gold passages without passages.jsonl",
      { "questions.jsonl": question({ gold_passage_ids: ["p1"] }) },
      'questions.jsonl line 1: "gold_passage_ids" is given but there is no passages.jsonl',
    ],
    [
      "a duplicate question id",
      { "questions.jsonl": `${question({})}\n${question({})}` },
      'questions.jsonl line 2: duplicate question id "q1"',
    ],
    [
      "a duplicate document id",
      {
        "corpus.jsonl": `${corpus}\n${JSON.stringify({ id: "d1", text: "again" })}`,
        "questions.jsonl": question({}),
      },
      'corpus.jsonl line 3: duplicate document id "d1" (first on line 1)',
    ],
    [
      "a document without text",
      { "corpus.jsonl": JSON.stringify({ id: "d1", title: "x" }), "questions.jsonl": question({}) },
      'corpus.jsonl line 1: "text" must be a non-empty string',
    ],
    [
      "a passage of an unknown document",
      {
        "passages.jsonl": JSON.stringify({ id: "p1", doc_id: "d9", text: "x" }),
        "questions.jsonl": question({}),
      },
      'passages.jsonl line 1: "doc_id" is "d9", which is not in corpus.jsonl',
    ],
  ])("refuses %s, naming the file and line", async (name, files, message) => {
    const dir = await dataset(name.replaceAll(" ", "-"), { "corpus.jsonl": corpus, ...files });
    await expect(loadDataset(dir)).rejects.toMatchObject({
      code: "FILE_MALFORMED",
      message: expect.stringContaining(message),
    });
  });

  it("refuses a folder without questions.jsonl", async () => {
    const dir = path.join(tmp, "datasets", "no-questions");
    await mkdir(dir, { recursive: true });
    await copyFile(path.join(SEED, "corpus.jsonl"), path.join(dir, "corpus.jsonl"));
    await expect(loadDataset(dir)).rejects.toMatchObject({
      code: "CORPUS_MISSING",
      message: `the dataset folder ${dir} has no questions.jsonl`,
    });
  });
});
