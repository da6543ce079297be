/**
 * The reader adapter: (question, "title | sentence") pairs tokenised exactly as reader/train.py
 * tokenised them in training, scored by the reader model in the embedding pool's workers, and
 * the best answer span decoded back to characters of the sentence.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Reader, ReadItem, ReadScore } from "../core/types.ts";
import type { EmbedPool } from "./embed-pool.ts";
import type { PairBatch } from "./onnx-session.ts";
import { type Piece, WordPiece } from "./wordpiece.ts";

/** Input limits of the trained model (reader/train.py: MAX_QUESTION, MAX_LEN, SEPARATOR). */
const MAX_QUESTION = 32;
const MAX_LEN = 96;
const SEPARATOR = " | ";
/** Longest answer span considered, in tokens. */
const MAX_SPAN = 24;

export const READER_ONNX = "reader-int8.onnx";
export const READER_TOKENIZER = "tokenizer.json";

/** The committed model's folder: reader/model at the repository's root. */
export const DEFAULT_READER_DIR = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  "..",
  "reader",
  "model",
);

export function hasReaderModel(dir: string): boolean {
  return existsSync(path.join(dir, READER_ONNX)) && existsSync(path.join(dir, READER_TOKENIZER));
}

interface Encoded {
  ids: number[];
  /** Pieces of "title | text", for the tokens after [CLS] question [SEP]. */
  pieces: Piece[];
  /** Tokens before the sentence's pieces: [CLS], the question, [SEP]. */
  offset: number;
  /** Characters of the title prefix before the sentence text. */
  prefix: number;
}

export class PoolReader implements Reader {
  readonly modelId: string;

  constructor(
    private readonly pool: Pick<EmbedPool, "read" | "size">,
    private readonly tokenizer: WordPiece,
    modelId: string,
  ) {
    this.modelId = modelId;
  }

  /**
   * The pair as trained, and for a sentence that does not fit beside its title a second window:
   * the sentence's last tokens without the title. A long news lead ends with who said it
   * ("..., Foreign Minister Wang Yi said Monday"), which the first window cuts off.
   */
  private encode(question: readonly number[], item: ReadItem): Encoded[] {
    const prefix = item.title ? `${item.title}${SEPARATOR}` : "";
    const room = MAX_LEN - 3 - question.length;
    const all = this.tokenizer.tokenize(prefix + item.text);
    const t = this.tokenizer;
    const row = (pieces: Piece[], prefixLength: number): Encoded => ({
      ids: [t.cls, ...question, t.sep, ...pieces.map((p) => p.id), t.sep],
      pieces,
      offset: question.length + 2,
      prefix: prefixLength,
    });
    const head = row(all.slice(0, room), prefix.length);
    if (all.length <= room) return [head];
    // The tail's pieces are the sentence's own: the separator ends the title's last word.
    let from = Math.max(
      all.findIndex((p) => p.start >= prefix.length),
      all.length - room,
    );
    // Start at a word, not inside one.
    while (from < all.length - 1 && all[from]!.start === all[from - 1]?.end) from++;
    return [head, row(all.slice(from), prefix.length)];
  }

  async read(question: string, items: readonly ReadItem[]): Promise<ReadScore[]> {
    if (items.length === 0) return [];
    const q = this.tokenizer
      .tokenize(question)
      .slice(0, MAX_QUESTION)
      .map((p) => p.id);
    const windows = items.map((it) => this.encode(q, it));
    const rows = windows.flat();
    // One batch per worker, of rows of about the same length: an answer waits for the slowest
    // part, and each part pads only to its own longest row.
    const scored = new Array<RowScores>(rows.length);
    await Promise.all(
      parts(rows, this.pool.size).map(async (part) => {
        const out = await this.pool.read(pack(part.map((i) => rows[i]!)));
        const seq = out.start.length / part.length;
        part.forEach((i, b) => {
          scored[i] = {
            relevance: out.relevance[b]!,
            start: out.start.subarray(b * seq, (b + 1) * seq),
            end: out.end.subarray(b * seq, (b + 1) * seq),
          };
        });
      }),
    );
    let b = 0;
    // A sentence read in two windows scores as its more relevant one, and its span is the surer one.
    return windows.map((ws) => {
      const score: ReadScore = { logit: Number.NEGATIVE_INFINITY };
      for (const r of ws) {
        const out = scored[b++]!;
        score.logit = Math.max(score.logit, out.relevance);
        const span = bestSpan(r, out.start, out.end);
        if (span && (!score.span || span.probability > score.span.probability)) score.span = span;
      }
      return score;
    });
  }
}

interface RowScores {
  relevance: number;
  start: Float32Array;
  end: Float32Array;
}

/**
 * Row indices in at most `workers` parts of contiguous lengths, shortest first, with about the
 * same number of tokens in each.
 */
export function parts(rows: readonly { ids: readonly number[] }[], workers: number): number[][] {
  const order = rows.map((_, i) => i).sort((a, b) => rows[a]!.ids.length - rows[b]!.ids.length);
  const n = Math.max(1, Math.min(workers, rows.length));
  const total = rows.reduce((sum, r) => sum + r.ids.length, 0);
  const out: number[][] = [[]];
  let sum = 0;
  for (const i of order) {
    const current = out[out.length - 1]!;
    // The next part starts with the row whose middle lies past this part's share of the tokens.
    const middle = sum + rows[i]!.ids.length / 2;
    if (current.length > 0 && out.length < n && middle > (total * out.length) / n) out.push([]);
    out[out.length - 1]!.push(i);
    sum += rows[i]!.ids.length;
  }
  return out;
}

/** Rows padded to the longest of them, as the reader's session takes them. */
function pack(rows: readonly Encoded[]): PairBatch {
  const seq = Math.max(...rows.map((r) => r.ids.length));
  const ids = new BigInt64Array(rows.length * seq);
  const types = new BigInt64Array(rows.length * seq);
  const lengths = new Int32Array(rows.length);
  rows.forEach((r, b) => {
    for (let i = 0; i < r.ids.length; i++) ids[b * seq + i] = BigInt(r.ids[i]!);
    types.fill(1n, b * seq + r.offset, b * seq + r.ids.length);
    lengths[b] = r.ids.length;
  });
  return { ids, types, lengths, seq };
}

/**
 * The best span of the sentence (never the title): the highest start + end logit with the end
 * at most MAX_SPAN tokens after the start, and its probability under the start and end softmaxes
 * over the sentence's tokens.
 */
function bestSpan(r: Encoded, start: Float32Array, end: Float32Array): ReadScore["span"] {
  const first = r.pieces.findIndex((p) => p.start >= r.prefix);
  if (first < 0) return undefined;
  const lo = r.offset + first;
  const hi = r.offset + r.pieces.length;
  let zs = 0;
  let ze = 0;
  let ms = Number.NEGATIVE_INFINITY;
  let me = Number.NEGATIVE_INFINITY;
  for (let i = lo; i < hi; i++) {
    ms = Math.max(ms, start[i]!);
    me = Math.max(me, end[i]!);
  }
  for (let i = lo; i < hi; i++) {
    zs += Math.exp(start[i]! - ms);
    ze += Math.exp(end[i]! - me);
  }
  let best: { i: number; j: number; s: number } | undefined;
  for (let i = lo; i < hi; i++) {
    for (let j = i; j < Math.min(hi, i + MAX_SPAN); j++) {
      const s = start[i]! + end[j]!;
      if (!best || s > best.s) best = { i, j, s };
    }
  }
  if (!best) return undefined;
  const probability = (Math.exp(start[best.i]! - ms) / zs) * (Math.exp(end[best.j]! - me) / ze);
  return {
    start: r.pieces[best.i - r.offset]!.start - r.prefix,
    end: r.pieces[best.j - r.offset]!.end - r.prefix,
    probability,
  };
}

/** A reader over the pool's workers, with the tokenizer of the model folder. */
export function poolReader(pool: Pick<EmbedPool, "read" | "size">, dir: string): Reader {
  const json = JSON.parse(readFileSync(path.join(dir, READER_TOKENIZER), "utf8"));
  const provenance = path.join(dir, "provenance.json");
  const id = existsSync(provenance)
    ? String((JSON.parse(readFileSync(provenance, "utf8")) as { id?: string }).id ?? "reader")
    : "reader";
  return new PoolReader(pool, new WordPiece(json), id);
}
