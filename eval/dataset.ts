/**
 * Evaluation datasets: a folder with `corpus.jsonl`, `questions.jsonl` and optionally
 * `passages.jsonl`. Everything is validated here, at the boundary; every message names the file
 * and line. Document texts are not kept: the index holds them, as the product normalised them.
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { isIsoDate } from "../core/dates.ts";
import { AppError } from "../core/errors.ts";

export const CORPUS_FILE = "corpus.jsonl";
export const QUESTIONS_FILE = "questions.jsonl";
export const PASSAGES_FILE = "passages.jsonl";

export interface EvalQuestion {
  id: string;
  question: string;
  /** Acceptable answer strings; empty for a question the corpus does not answer. */
  answers: string[];
  goldDocIds: string[];
  /** The corpus does not answer it; the assistant should say so. */
  expectNotFound: boolean;
  goldPassageIds: string[];
  /** Line in questions.jsonl, for messages and results. */
  line: number;
  /** The day the question was asked (YYYY-MM-DD), passed to the engine as `asOf`. */
  date?: string;
  /**
   * The document an unanswerable question was written against (`near_doc_id`, as in
   * squad2-unanswerable): training keeps it in that article's fold.
   */
  nearDocId?: string;
}

export interface EvalPassage {
  id: string;
  docId: string;
  text: string;
}

export interface Dataset {
  /** The folder's name; names the results folder. */
  name: string;
  dir: string;
  corpusFile: string;
  /** Document ids in corpus order. */
  docIds: string[];
  questions: EvalQuestion[];
  /** Gold passages by id, when the dataset has passages.jsonl. */
  passages: Map<string, EvalPassage> | undefined;
}

type Json = Record<string, unknown>;

/** Reads and validates a dataset folder. */
export async function loadDataset(dir: string): Promise<Dataset> {
  const root = path.resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new AppError("CORPUS_MISSING", `the dataset folder ${root} does not exist`);
  }
  const corpusFile = path.join(root, CORPUS_FILE);
  const questionsFile = path.join(root, QUESTIONS_FILE);
  for (const f of [corpusFile, questionsFile]) {
    if (!existsSync(f)) {
      throw new AppError("CORPUS_MISSING", `the dataset folder ${root} has no ${path.basename(f)}`);
    }
  }

  const docLine = new Map<string, number>();
  await eachRecord(corpusFile, (rec, where, line) => {
    const id = idField(rec, "id", where);
    if (typeof rec.text !== "string" || rec.text.trim() === "") {
      throw malformed(where, `"text" must be a non-empty string`);
    }
    for (const f of ["title", "date"]) {
      if (rec[f] != null && typeof rec[f] !== "string") throw malformed(where, `"${f}" must be a string`);
    }
    const first = docLine.get(id);
    if (first !== undefined) throw malformed(where, `duplicate document id "${id}" (first on line ${first})`);
    docLine.set(id, line);
  });
  if (docLine.size === 0) throw new AppError("FILE_EMPTY", `${corpusFile}: no documents`);

  const passagesFile = path.join(root, PASSAGES_FILE);
  let passages: Map<string, EvalPassage> | undefined;
  if (existsSync(passagesFile)) {
    const found = new Map<string, EvalPassage>();
    await eachRecord(passagesFile, (rec, where) => {
      const id = idField(rec, "id", where);
      const docId = idField(rec, "doc_id", where);
      if (!docLine.has(docId))
        throw malformed(where, `"doc_id" is "${docId}", which is not in ${CORPUS_FILE}`);
      if (typeof rec.text !== "string" || rec.text.trim() === "") {
        throw malformed(where, `"text" must be a non-empty string`);
      }
      if (found.has(id)) throw malformed(where, `duplicate passage id "${id}"`);
      found.set(id, { id, docId, text: rec.text });
    });
    passages = found;
  }

  const questions: EvalQuestion[] = [];
  const questionIds = new Set<string>();
  await eachRecord(questionsFile, (rec, where, line) => {
    const id = idField(rec, "id", where);
    if (questionIds.has(id)) throw malformed(where, `duplicate question id "${id}"`);
    questionIds.add(id);
    if (typeof rec.question !== "string" || rec.question.trim() === "") {
      throw malformed(where, `"question" must be a non-empty string`);
    }
    const answers = stringList(rec, "answers", where);
    const goldDocIds = idList(rec, "gold_doc_ids", where);
    for (const d of goldDocIds) {
      if (!docLine.has(d))
        throw malformed(where, `"gold_doc_ids" names "${d}", which is not in ${CORPUS_FILE}`);
    }
    if (rec.expect != null && rec.expect !== "not_found") {
      throw malformed(where, `"expect" is ${JSON.stringify(rec.expect)}; the only value is "not_found"`);
    }
    const expectNotFound = rec.expect === "not_found";
    if (!expectNotFound && answers.length === 0) {
      throw malformed(where, `"answers" is empty; give an answer or set "expect": "not_found"`);
    }
    if (!expectNotFound && goldDocIds.length === 0) {
      throw malformed(where, `"gold_doc_ids" is empty; name the documents that answer the question`);
    }
    const goldPassageIds = rec.gold_passage_ids == null ? [] : idList(rec, "gold_passage_ids", where);
    for (const p of goldPassageIds) {
      if (!passages) throw malformed(where, `"gold_passage_ids" is given but there is no ${PASSAGES_FILE}`);
      if (!passages.has(p)) {
        throw malformed(where, `"gold_passage_ids" names "${p}", which is not in ${PASSAGES_FILE}`);
      }
    }
    if (rec.date != null && (typeof rec.date !== "string" || !isIsoDate(rec.date))) {
      throw malformed(where, `"date" must be a date written YYYY-MM-DD`);
    }
    questions.push({
      id,
      question: rec.question,
      answers,
      goldDocIds,
      expectNotFound,
      goldPassageIds,
      line,
      ...(typeof rec.date === "string" ? { date: rec.date } : {}),
      ...(typeof rec.near_doc_id === "string" && rec.near_doc_id !== ""
        ? { nearDocId: rec.near_doc_id }
        : {}),
    });
  });
  if (questions.length === 0) throw new AppError("FILE_EMPTY", `${questionsFile}: no questions`);

  return {
    name: path.basename(root),
    dir: root,
    corpusFile,
    docIds: [...docLine.keys()],
    questions,
    passages,
  };
}

/** Calls `visit` for every non-blank line of a JSONL file, parsed, with where it is. */
export async function eachRecord(
  file: string,
  visit: (rec: Json, where: string, line: number) => void,
): Promise<void> {
  const name = path.basename(file);
  const lines = createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const raw of lines) {
      n++;
      const text = n === 1 ? raw.replace(/^\uFEFF/, "") : raw;
      if (text.trim() === "") continue;
      const where = `${name} line ${n}`;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        throw malformed(where, `invalid JSON (${(err as Error).message})`);
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw malformed(where, "a record must be a JSON object");
      }
      visit(value as Json, where, n);
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError("FILE_UNREADABLE", `${file}: ${(err as Error).message}`);
  } finally {
    lines.close();
  }
}

function malformed(where: string, reason: string): AppError {
  return new AppError("FILE_MALFORMED", `${where}: ${reason}`);
}

/** A record id: a non-empty string or a number, as a string (the product reads ids the same way). */
function idField(rec: Json, field: string, where: string): string {
  const v = rec[field];
  if (typeof v === "string" && v.trim() !== "") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  throw malformed(where, `"${field}" must be a non-empty string or a number`);
}

function stringList(rec: Json, field: string, where: string): string[] {
  const v = rec[field];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw malformed(where, `"${field}" must be an array of strings`);
  }
  return v;
}

function idList(rec: Json, field: string, where: string): string[] {
  const v = rec[field];
  const ok = (x: unknown) =>
    (typeof x === "string" && x.trim() !== "") || (typeof x === "number" && Number.isFinite(x));
  if (!Array.isArray(v) || !v.every(ok)) throw malformed(where, `"${field}" must be an array of ids`);
  return [...new Set(v.map(String))];
}
