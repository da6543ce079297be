/**
 * BERT's uncased WordPiece tokenizer (clean text, split CJK characters, strip accents, lowercase,
 * split on whitespace and punctuation, greedy longest-match pieces), with the character span of
 * every piece in the original text. The reader's short answer is a span of tokens, and a citation
 * must be an exact span of the document, so the offsets matter as much as the ids; transformers.js
 * gives ids only. Checked against the `tokenizers` library's output on real sentences
 * (test/wordpiece.test.ts).
 */

export interface Piece {
  id: number;
  /** UTF-16 offsets in the text given to {@link WordPiece.tokenize}. */
  start: number;
  end: number;
}

interface TokenizerJson {
  model: { vocab: Record<string, number>; unk_token: string; max_input_chars_per_word?: number };
}

const isWhitespace = (c: number) =>
  c === 32 || c === 9 || c === 10 || c === 13 || /\s/u.test(String.fromCodePoint(c));

function isControl(c: number): boolean {
  if (c === 9 || c === 10 || c === 13) return false;
  return /\p{Cc}|\p{Cf}/u.test(String.fromCodePoint(c));
}

function isPunctuation(c: number): boolean {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
    return true;
  return /\p{P}/u.test(String.fromCodePoint(c));
}

function isCjk(c: number): boolean {
  return (
    (c >= 0x4e00 && c <= 0x9fff) ||
    (c >= 0x3400 && c <= 0x4dbf) ||
    (c >= 0x20000 && c <= 0x2a6df) ||
    (c >= 0x2a700 && c <= 0x2b73f) ||
    (c >= 0x2b740 && c <= 0x2b81f) ||
    (c >= 0x2b820 && c <= 0x2ceaf) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0x2f800 && c <= 0x2fa1f)
  );
}

const MARK = /\p{Mn}/u;

export class WordPiece {
  readonly cls: number;
  readonly sep: number;
  readonly unk: number;
  private readonly vocab: Map<string, number>;
  private readonly maxChars: number;

  constructor(json: TokenizerJson) {
    this.vocab = new Map(Object.entries(json.model.vocab));
    const id = (t: string) => {
      const v = this.vocab.get(t);
      if (v === undefined) throw new Error(`the tokenizer has no ${t} token`);
      return v;
    };
    this.cls = id("[CLS]");
    this.sep = id("[SEP]");
    this.unk = id(json.model.unk_token);
    this.maxChars = json.model.max_input_chars_per_word ?? 100;
  }

  /** The pieces of `text` (no special tokens), each with the span of the original text it came from. */
  tokenize(text: string): Piece[] {
    // Normalised characters, each with the original span it came from; null separates words.
    type Ch = { ch: string; start: number; end: number } | null;
    const chars: Ch[] = [];
    for (let i = 0; i < text.length; ) {
      const c = text.codePointAt(i)!;
      const width = c > 0xffff ? 2 : 1;
      const start = i;
      i += width;
      if (c === 0 || c === 0xfffd || isControl(c)) continue;
      if (isWhitespace(c)) {
        chars.push(null);
        continue;
      }
      if (isCjk(c) || isPunctuation(c)) {
        chars.push(null, { ch: String.fromCodePoint(c).toLowerCase(), start, end: i }, null);
        continue;
      }
      const norm = String.fromCodePoint(c).normalize("NFD").toLowerCase();
      for (const n of norm) {
        if (MARK.test(n)) continue;
        chars.push({ ch: n, start, end: i });
      }
    }
    const out: Piece[] = [];
    let word: { ch: string; start: number; end: number }[] = [];
    const flush = () => {
      if (word.length > 0) this.pieces(word, out);
      word = [];
    };
    for (const c of chars) {
      if (c === null) flush();
      else word.push(c);
    }
    flush();
    return out;
  }

  private pieces(word: readonly { ch: string; start: number; end: number }[], out: Piece[]): void {
    const start = word[0]!.start;
    const end = word[word.length - 1]!.end;
    if (word.length > this.maxChars) {
      out.push({ id: this.unk, start, end });
      return;
    }
    const found: Piece[] = [];
    let i = 0;
    while (i < word.length) {
      let j = word.length;
      let id: number | undefined;
      while (j > i) {
        const s =
          (i > 0 ? "##" : "") +
          word
            .slice(i, j)
            .map((c) => c.ch)
            .join("");
        id = this.vocab.get(s);
        if (id !== undefined) break;
        j--;
      }
      if (id === undefined) {
        out.push({ id: this.unk, start, end });
        return;
      }
      found.push({ id, start: word[i]!.start, end: word[j - 1]!.end });
      i = j;
    }
    out.push(...found);
  }
}
