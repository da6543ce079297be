/**
 * `npx tsx reader/prepare.ts --out DIR [--every N] [--offset K]`: the candidates of a slice of
 * squad-train (every Nth article by sorted id, from the Kth: the shipped slice is N 3, K 0; K 1
 * gives articles none of that slice holds) and of each evaluation set, as the engine offers them.
 * Writes DIR/squad-train-slice/{corpus,questions}.jsonl and DIR/candidates-<set>.jsonl.
 */
import { createReadStream, existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { loadConfig, PROJECT_ROOT } from "../core/config.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { DEFAULT_CACHE_ROOT } from "../eval/session.ts";
import { extractCandidates } from "./extract.ts";

const SHARED = path.resolve(PROJECT_ROOT, "..", "shared");

async function lines(file: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const l of createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity })) {
    if (l.trim()) out.push(JSON.parse(l) as Record<string, unknown>);
  }
  return out;
}

/** Every `every`th article of squad-train (sorted ids, from the `offset`th) as an eval-format dataset. */
async function slice(dir: string, every: number, offset: number): Promise<void> {
  if (existsSync(path.join(dir, "questions.jsonl"))) return;
  const src = path.join(SHARED, "train", "squad-train");
  const docs = (await lines(path.join(src, "corpus.jsonl"))).sort((a, b) =>
    String(a.id) < String(b.id) ? -1 : 1,
  );
  const kept = new Set(docs.filter((_, i) => i % every === offset).map((d) => String(d.id)));
  const qs = (await lines(path.join(src, "questions.jsonl"))).filter((q) =>
    kept.has(String((q.gold_doc_ids as string[])[0])),
  );
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, "corpus.jsonl"),
    docs
      .filter((d) => kept.has(String(d.id)))
      .map((d) => `${JSON.stringify(d)}\n`)
      .join(""),
  );
  // Without passages.jsonl the gold paragraph ids are not checkable: the answer label is the text.
  const plain = qs.map(({ gold_passage_ids: _, ...q }) => q);
  await writeFile(path.join(dir, "questions.jsonl"), plain.map((q) => `${JSON.stringify(q)}\n`).join(""));
  console.error(`slice: ${kept.size} articles, ${qs.length} questions`);
}

const { values } = parseArgs({
  options: {
    out: { type: "string" },
    every: { type: "string", default: "3" },
    offset: { type: "string", default: "0" },
    sets: { type: "string", default: "squad-train-slice,squad-dev,squad2-unanswerable,news-2023,seed" },
    cache: { type: "string" },
  },
});
const out = path.resolve(values.out ?? path.join(PROJECT_ROOT, "data", "reader"));
const every = Number(values.every);
const offset = Number(values.offset);
if (!Number.isInteger(every) || every < 1 || !Number.isInteger(offset) || offset < 0 || offset >= every) {
  throw new Error(
    `--every must be a whole number from 1 and --offset one from 0 to every - 1 (got ${values.every}, ${values.offset})`,
  );
}
await slice(path.join(out, "squad-train-slice"), every, offset);
const config = loadConfig({});
const embedder = await createEmbedder(config);
try {
  for (const set of values.sets.split(",")) {
    const file = path.join(out, `candidates-${set}.jsonl`);
    if (existsSync(file)) continue;
    const dir = set === "squad-train-slice" ? path.join(out, set) : path.join(SHARED, "eval", set);
    const t0 = performance.now();
    let last = 0;
    const n = await extractCandidates({
      datasetDir: dir,
      out: file,
      cacheRoot: values.cache ?? DEFAULT_CACHE_ROOT,
      embedder,
      onProgress: (done, total) => {
        if (done === total || performance.now() - last > 15_000) {
          last = performance.now();
          console.error(`${set}: ${done}/${total} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
        }
      },
    });
    console.error(`${set}: ${n} questions in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
} finally {
  await embedder.dispose();
}
