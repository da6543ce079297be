/**
 * Markdown to the plain text a reader sees: heading marks, emphasis, link targets, list bullets,
 * quote marks, fences and inline HTML tags are dropped, the words stay. The result is the
 * document text that offsets, citations and the page refer to, so no syntax can reach an answer.
 * Line structure is kept (a heading stays a line of its own, which ends its sentence). Pure;
 * line by line; every pattern is bounded (an emphasis span is at most 300 characters), so the
 * cost stays linear in the text length whatever the input.
 */

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const ATX = /^ {0,3}(#{1,6})(?:[ \t]+|$)/;
const SETEXT_OR_RULE = /^ {0,3}(?:=+|-+|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|(?:-[ \t]*){3,})[ \t]*$/;
const QUOTE = /^ {0,3}>[ \t]?/;
const BULLET = /^([ \t]*)(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?/;
const REFERENCE_DEF = /^ {0,3}\[[^\]\n]{1,200}\]:[ \t]*\S+/;
const TABLE_RULE = /^[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$/;

/** The readable text of a Markdown body. */
export function markdownToText(src: string): string {
  const out: string[] = [];
  let fence: string | undefined;
  for (const raw of src.split("\n")) {
    const line = raw.replace(/\r$/, "");
    const f = FENCE.exec(line);
    if (fence !== undefined) {
      if (f && f[1]![0] === fence[0] && f[1]!.length >= fence.length) fence = undefined;
      else out.push(line);
      continue;
    }
    if (f) {
      fence = f[1]!;
      continue;
    }
    out.push(blockLine(line));
  }
  return out
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/** One line outside code fences, without its block syntax and with inline syntax removed. */
function blockLine(line: string): string {
  if (SETEXT_OR_RULE.test(line) || REFERENCE_DEF.test(line) || TABLE_RULE.test(line)) return "";
  let s = line;
  while (QUOTE.test(s)) s = s.replace(QUOTE, "");
  const atx = ATX.exec(s);
  if (atx) s = closingHashes(s.slice(atx[0].length));
  else s = s.replace(BULLET, "$1");
  if (s.includes("|") && /^\s*\|.*\|\s*$/.test(s)) {
    s = s
      .trim()
      .slice(1, -1)
      .split("|")
      .map((c) => c.trim())
      .filter((c) => c !== "")
      .join("; ");
  }
  return inline(s).replace(/^[ \t]+/, "");
}

/** A heading's text without the optional closing run of `#`. */
function closingHashes(s: string): string {
  let end = s.length;
  while (end > 0 && (s[end - 1] === " " || s[end - 1] === "\t")) end--;
  let h = end;
  while (h > 0 && s[h - 1] === "#") h--;
  if (h < end && (h === 0 || s[h - 1] === " " || s[h - 1] === "\t")) return s.slice(0, h).trimEnd();
  return s.slice(0, end);
}

/** Inline syntax removed: images and links keep their text, emphasis and code their content. */
export function inline(s: string): string {
  // Escaped characters (\* \_ \# …) are set aside first so that no rule below reads them as syntax.
  const escaped: string[] = [];
  const held = s.replace(/\\([\\`*_{}[\]()#+\-.!|>~])/g, (_m, ch: string) => {
    escaped.push(ch);
    return `\u{F8FF}${escaped.length - 1}\u{F8FF}`;
  });
  return (
    held
      // ![alt](target) and [text](target "title"), [text][ref]: the words, not the target
      .replace(/!\[([^\]\n]{0,500})\]\((?:[^()\n]|\([^()\n]{0,500}\)){0,2000}\)/g, "$1")
      .replace(/\[([^\]\n]{0,500})\]\((?:[^()\n]|\([^()\n]{0,500}\)){0,2000}\)/g, "$1")
      .replace(/\[([^\]\n]{1,500})\]\[[^\]\n]{0,200}\]/g, "$1")
      // <https://…> autolinks keep the address; other tags go
      .replace(/<((?:https?|mailto):[^>\s]{1,2000})>/g, "$1")
      .replace(/<\/?[A-Za-z][A-Za-z0-9-]{0,30}(?:\s[^<>]{0,1000})?\/?>/g, "")
      // `code`
      .replace(/(`+)([^`\n]{1,2000}?)\1/g, "$2")
      // **strong**, __strong__, *em*, _em_ (not inside words), ~~struck~~
      .replace(/(\*\*|__)(?=\S)([^\n]{0,300}?\S)\1/g, "$2")
      .replace(/(^|[^\p{L}\p{N}*])\*(?=\S)([^*\n]{0,300}?\S)\*(?![\p{L}\p{N}*])/gu, "$1$2")
      .replace(/(^|[^\p{L}\p{N}_])_(?=\S)([^_\n]{0,300}?\S)_(?![\p{L}\p{N}_])/gu, "$1$2")
      .replace(/~~(?=\S)([^~\n]{0,300}?\S)~~/g, "$1")
      .replace(/\u{F8FF}(\d+)\u{F8FF}/gu, (_m, i: string) => escaped[Number(i)] ?? "")
  );
}
