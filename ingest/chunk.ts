/**
 * Sentence-aware chunking: packs whole sentences into chunks that fit the embedding model.
 *
 * Token accounting assumption: the tokenizer is additive across whitespace (and across the
 * punctuation that ends a CJK sentence), so the tokens of a span are the sum of the tokens of
 * its sentences or pieces. That holds for WordPiece/BERT-style pre-tokenizers, which split on
 * whitespace and punctuation before looking up subwords. The tokenizer is therefore called once
 * per sentence (and, only for sentences over budget, once per word and per distinct character),
 * never on growing strings.
 */
import type { Chunk, Span } from "../core/types.ts";
import { splitSentences } from "./sentences.ts";

export interface ChunkOptions {
  /** Hard bound on `countTokens(chunk.text) + prefixTokens`. */
  maxTokens: number;
  /** Trailing context repeated at the start of the next chunk: whole sentences, at most this many tokens. */
  overlapTokens: number;
  /** The embedding model's token count for a text, without special tokens. */
  countTokens: (text: string) => number;
  /** Tokens reserved for a title/date prefix given to the embedder (default 0). */
  prefixTokens?: number;
}

/** A sentence, or a piece of one too long for a chunk, with its token count. */
interface Unit {
  start: number;
  end: number;
  tokens: number;
  /** A whole sentence (may be repeated as overlap) rather than a piece of a split one. */
  whole: boolean;
  /** A blank line separates it from the unit before. */
  paragraph: boolean;
}

/**
 * Splits `text` into chunks of whole sentences, each within `maxTokens - prefixTokens` tokens.
 *
 * Chunks are greedy, but a chunk already at least half full ends at the last paragraph break
 * rather than spill a few sentences of the next paragraph. A sentence over budget is split at
 * whitespace, and a word over budget at code point boundaries. Each chunk after the first
 * repeats the last whole sentences of the one before, up to `overlapTokens`. Spans slice `text`
 * exactly, start strictly later than the previous chunk and together cover every
 * non-whitespace character.
 *
 * The bound can be exceeded only by a single code point that alone counts more than the budget;
 * it becomes a chunk of its own rather than be dropped.
 *
 * @throws RangeError when the options leave no room for text.
 */
export function chunkText(text: string, opts: ChunkOptions): Span[] {
  const budget = budgetOf(opts);
  const units = toUnits(text, budget, opts.countTokens);
  const spans: Span[] = [];
  let next = 0; // first unit not yet in any chunk
  let carry = 0; // first unit repeated as overlap; equals `next` when there is none
  let carryTokens = 0;
  while (next < units.length) {
    let first = carry;
    let tokens = carryTokens;
    // The overlap gives way to the first new unit.
    while (first < next && tokens + units[next]!.tokens > budget) tokens -= units[first++]!.tokens;

    let end = next;
    let paragraphCut = -1;
    while (end < units.length) {
      const unit = units[end]!;
      if (end > next) {
        if (unit.paragraph && tokens * 2 >= budget) paragraphCut = end;
        if (tokens + unit.tokens > budget) {
          if (paragraphCut > 0) end = paragraphCut;
          break;
        }
      }
      tokens += unit.tokens;
      end++;
    }

    const last = units[end - 1]!;
    const start = units[first]!.start;
    spans.push({ start, end: last.end, text: text.slice(start, last.end) });

    carry = end;
    carryTokens = 0;
    if (last.whole) {
      // Never the whole chunk, so every chunk starts later than the one before.
      while (carry - 1 > first) {
        const unit = units[carry - 1]!;
        if (!unit.whole || carryTokens + unit.tokens > opts.overlapTokens) break;
        carryTokens += unit.tokens;
        carry--;
      }
    }
    next = end;
  }
  return spans;
}

/** {@link chunkText} for a document: ids are `${doc.id}#${ordinal}`, ordinals from 0. */
export function chunkDocument(doc: { id: string; text: string }, opts: ChunkOptions): Chunk[] {
  return chunkText(doc.text, opts).map((span, ordinal) => ({
    id: `${doc.id}#${ordinal}`,
    docId: doc.id,
    ordinal,
    ...span,
  }));
}

function budgetOf(opts: ChunkOptions): number {
  const { maxTokens, overlapTokens } = opts;
  const prefixTokens = opts.prefixTokens ?? 0;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new RangeError(`maxTokens is ${maxTokens}; it must be a positive integer`);
  }
  if (!Number.isInteger(prefixTokens) || prefixTokens < 0) {
    throw new RangeError(`prefixTokens is ${prefixTokens}; it must be a non-negative integer`);
  }
  if (!Number.isInteger(overlapTokens) || overlapTokens < 0) {
    throw new RangeError(`overlapTokens is ${overlapTokens}; it must be a non-negative integer`);
  }
  if (prefixTokens >= maxTokens) {
    throw new RangeError(`prefixTokens is ${prefixTokens}; it must be under maxTokens (${maxTokens})`);
  }
  return maxTokens - prefixTokens;
}

function toUnits(text: string, budget: number, countTokens: (text: string) => number): Unit[] {
  const units: Unit[] = [];
  let prevEnd = -1;
  for (const s of splitSentences(text)) {
    const paragraph = prevEnd >= 0 && hasBlankLine(text, prevEnd, s.start);
    prevEnd = s.end;
    const tokens = countTokens(s.text);
    if (tokens <= budget) {
      units.push({ start: s.start, end: s.end, tokens, whole: true, paragraph });
      continue;
    }
    const from = units.length;
    splitSentence(text, s, budget, countTokens, units);
    units[from]!.paragraph = paragraph;
  }
  return units;
}

/** Packs the words of an over-budget sentence into pieces; a word over budget is split by characters. */
function splitSentence(
  text: string,
  s: Span,
  budget: number,
  countTokens: (text: string) => number,
  out: Unit[],
): void {
  let pieceStart = -1;
  let pieceEnd = -1;
  let pieceTokens = 0;
  const flush = (): void => {
    if (pieceStart >= 0) out.push(piece(pieceStart, pieceEnd, pieceTokens));
    pieceStart = -1;
    pieceTokens = 0;
  };
  for (const word of s.text.matchAll(/\S+/g)) {
    const start = s.start + word.index;
    const end = start + word[0].length;
    const tokens = countTokens(word[0]);
    if (tokens > budget) {
      flush();
      splitWord(text, start, end, budget, countTokens, out);
      continue;
    }
    if (pieceStart >= 0 && pieceTokens + tokens > budget) flush();
    if (pieceStart < 0) pieceStart = start;
    pieceEnd = end;
    pieceTokens += tokens;
  }
  flush();
}

/**
 * Splits a whitespace-free run at code point boundaries (never inside a surrogate pair). Each
 * code point is counted on its own, which for subword tokenizers overestimates a piece's tokens
 * and so keeps it safely within budget; counts are cached per distinct character.
 */
function splitWord(
  text: string,
  start: number,
  end: number,
  budget: number,
  countTokens: (text: string) => number,
  out: Unit[],
): void {
  const cache = new Map<string, number>();
  let pieceStart = start;
  let pieceTokens = 0;
  let i = start;
  while (i < end) {
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff && i + 1 < end ? 2 : 1;
    const ch = text.slice(i, i + width);
    let tokens = cache.get(ch);
    if (tokens === undefined) {
      tokens = countTokens(ch);
      cache.set(ch, tokens);
    }
    if (i > pieceStart && pieceTokens + tokens > budget) {
      out.push(piece(pieceStart, i, pieceTokens));
      pieceStart = i;
      pieceTokens = 0;
    }
    pieceTokens += tokens;
    i += width;
  }
  out.push(piece(pieceStart, end, pieceTokens));
}

function piece(start: number, end: number, tokens: number): Unit {
  return { start, end, tokens, whole: false, paragraph: false };
}

/** Whether the whitespace in `text[from, to)` holds two or more line breaks ("\r\n" counts once). */
function hasBlankLine(text: string, from: number, to: number): boolean {
  let breaks = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0c || c === 0x2029) return true;
    if (c === 0x0a || c === 0x2028 || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) breaks++;
    if (breaks >= 2) return true;
  }
  return false;
}
