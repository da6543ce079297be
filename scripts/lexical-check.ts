/**
 * `npx tsx scripts/lexical-check.ts --index DIR --questions FILE`: checks on a built index that
 * the in-memory BM25 (backends/embedded/bm25.ts) returns what FTS5's query returns for every question's
 * terms (same chunks, order and scores, with and without a date filter), and times both.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { ChunkStore, type LexicalHit } from "../backends/embedded/store.ts";
import { currentVersion, DB_FILE, versionDir } from "../backends/embedded/versions.ts";
import { contentTerms } from "../core/text.ts";
import { parseCommand, positiveInt, runCli, UsageError } from "./cli.ts";

const COMMAND = {
  usage: "usage: npx tsx scripts/lexical-check.ts --index DIR --questions FILE [--limit N]",
  summary:
    "Compares the in-memory BM25 with FTS5's query on a built index for every question's terms and prints the searches that differ (none expected) and the time per search of each, as JSON.",
  options: {
    index: { type: "string" },
    questions: { type: "string" },
    limit: { type: "string" },
  },
  help: [
    "--index DIR            the index folder (as CITELINE_INDEX_DIR)",
    "--questions FILE       questions.jsonl ({question} per line)",
    "--limit N              hits per search (default 100, the answer path's candidate pool)",
  ],
} as const;

const same = (a: LexicalHit[], b: LexicalHit[]) =>
  a.length === b.length && a.every((h, i) => h.label === b[i]?.label && Object.is(h.score, b[i]?.score));

await runCli(async () => {
  const values = parseCommand(COMMAND, process.argv.slice(2));
  if (!values.index || !values.questions)
    throw new UsageError("--index and --questions are required", COMMAND.usage);
  const limit = positiveInt("--limit", values.limit, 100_000, COMMAND.usage) ?? 100;
  const version = currentVersion(values.index);
  if (!version) throw new UsageError(`no index in ${values.index}`, COMMAND.usage);
  const store = new ChunkStore(path.join(versionDir(values.index, version), DB_FILE), { readonly: true });
  const queries = readFileSync(values.questions, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => contentTerms((JSON.parse(l) as { question: string }).question).slice(0, 32));
  const range = store.dateRange();
  const filters = range
    ? [undefined, { notAfter: range.to.slice(0, 7) }, { from: range.from, to: range.to.slice(0, 7) }]
    : [undefined];
  const differ: { terms: string[]; filter: unknown }[] = [];
  const time = (fn: () => void) => {
    const t0 = performance.now();
    fn();
    return performance.now() - t0;
  };
  let cold = 0;
  let warm = 0;
  let fts = 0;
  for (const terms of queries) cold += time(() => store.lexicalSearch(terms, limit));
  for (const terms of queries) warm += time(() => store.lexicalSearch(terms, limit));
  for (const terms of queries) fts += time(() => store.ftsSearch(terms, limit));
  for (const terms of queries) {
    for (const filter of filters) {
      if (!same(store.lexicalSearch(terms, limit, filter), store.ftsSearch(terms, limit, filter))) {
        differ.push({ terms, filter });
      }
    }
  }
  const per = (ms: number) => Math.round((ms / queries.length) * 100) / 100;
  console.log(
    JSON.stringify({
      searches: queries.length * filters.length,
      differ: differ.length,
      firstDiffering: differ.slice(0, 5),
      msPerSearch: { inMemoryFirstPass: per(cold), inMemoryWarm: per(warm), fts5: per(fts) },
      inMemoryMiB: Math.round((store.lexicalBytes() / 2 ** 20) * 10) / 10,
    }),
  );
  store.close();
  if (differ.length > 0) process.exitCode = 1;
});
