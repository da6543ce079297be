/**
 * Reads the corpus folder into documents: the file-system walk, and for each file the reader of
 * its format (ingest/readers/). `parseFile` is pure (bytes in, docs and issues out). One bad
 * file becomes an `IngestIssue`, never a throw.
 */
import type { Dirent, Stats } from "node:fs";
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { AppError, fmtCount } from "../core/errors.ts";
import type { Doc, IngestIssue } from "../core/types.ts";
import { type Parsed, type ReadLimits, readerFor, SUPPORTED_EXTENSIONS } from "./readers/index.ts";
import { errCode, issue, stripExt } from "./readers/shared.ts";

export interface LoadOptions {
  /**
   * Files larger than this are reported as FILE_TOO_LARGE without being read. Default 50 MiB.
   * JSONL files are read as a stream, record by record, and have no file limit.
   */
  maxFileBytes?: number;
  /** JSONL records (lines) larger than this are reported by file and line and skipped. Default 16 MiB. */
  maxRecordBytes?: number;
  /** Called as files are read: how many of how many (the read phase's progress). */
  onFile?: (done: number, total: number) => void;
}

export interface CorpusLoad {
  docs: Doc[];
  issues: IngestIssue[];
  /** Regular files with a corpus extension that were read or tried, whether or not they loaded. */
  files: number;
}

const DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024;
const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;
const READ_CONCURRENCY = 8;

/**
 * Loads every document under `dir`, in sorted path order.
 *
 * Hidden entries and unknown extensions are skipped. Symbolic links are followed only when they
 * resolve inside `dir`; targets already reached through real paths are not loaded twice. Later
 * documents whose id was already taken are reported, not loaded.
 *
 * @throws AppError CORPUS_MISSING when `dir` does not exist or is not a folder.
 */
export async function loadCorpus(dir: string, opts: LoadOptions = {}): Promise<CorpusLoad> {
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  for (const [name, v] of [
    ["maxFileBytes", maxFileBytes],
    ["maxRecordBytes", maxRecordBytes],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new AppError("CONFIG_INVALID", `${name} must be a positive integer; got ${v}`);
    }
  }
  const limits = { maxFileBytes, maxRecordBytes };
  const root = path.resolve(dir);
  const rootReal = await openRoot(root);
  const entries = await walk(root, rootReal);
  const shared = sharedStems(entries);

  const total = entries.length;
  let read = 0;
  opts.onFile?.(0, total);
  const loaded = await mapInOrder(entries, READ_CONCURRENCY, async (entry) => {
    const out = "issue" in entry ? { docs: [], issues: [entry.issue] } : await loadFile(entry, limits);
    opts.onFile?.(++read, total);
    return out;
  });

  const docs: Doc[] = [];
  const issues: IngestIssue[] = [];
  const firstSource = new Map<string, string>();
  for (const [i, result] of loaded.entries()) {
    const entry = entries[i]!;
    issues.push(...result.issues);
    for (const found of result.docs) {
      const doc = "rel" in entry ? withOwnId(found, entry.rel, shared) : found;
      const first = firstSource.get(doc.id);
      if (first !== undefined) {
        issues.push({
          source: "issue" in entry ? entry.issue.source : entry.rel,
          code: "FILE_MALFORMED",
          message: `${doc.source}: duplicate document id "${doc.id}" (first used by ${first}); skipped`,
        });
        continue;
      }
      firstSource.set(doc.id, doc.source);
      docs.push(doc);
    }
  }
  return { docs, issues, files: entries.filter((e) => !("issue" in e)).length };
}

/** A file a build would read, or report without reading it (an unsupported format, a bad link). */
export interface CorpusEntry {
  /** Path relative to the corpus folder, `/`-separated. */
  rel: string;
  abs: string;
  /** The problem found without reading it. */
  issue?: IngestIssue;
}

/**
 * The files of the corpus folder as a build sees them, in its order, without reading them:
 * hidden entries left out, symbolic links followed only inside the folder.
 *
 * @throws AppError CORPUS_MISSING when `dir` does not exist or is not a folder.
 */
export async function listCorpusFiles(dir: string): Promise<CorpusEntry[]> {
  const root = path.resolve(dir);
  const entries = await walk(root, await openRoot(root));
  return entries.map((e) =>
    "issue" in e ? { rel: e.issue.source, abs: path.join(root, e.issue.source), issue: e.issue } : e,
  );
}

/**
 * Parses one corpus file. `relPath` uses `/` separators and decides the format by extension;
 * an unknown extension yields nothing. Pure: the same bytes always give the same docs.
 */
export async function parseFile(relPath: string, content: Buffer): Promise<Parsed> {
  return (await readerFor(relPath)?.parse(relPath, content)) ?? { docs: [], issues: [] };
}

/** Stems (paths without extension) that two or more corpus files share: `notes.md`, `notes.txt`. */
function sharedStems(entries: readonly Entry[]): Set<string> {
  const seen = new Set<string>();
  const shared = new Set<string>();
  for (const e of entries) {
    if (!("rel" in e)) continue;
    const stem = stripExt(e.rel);
    if (seen.has(stem)) shared.add(stem);
    seen.add(stem);
  }
  return shared;
}

/**
 * A document of a file whose stem another file shares keeps its extension in its id (`notes.md`,
 * `notes.txt`), so neither is dropped as a duplicate of the other. Other ids are unchanged.
 */
function withOwnId(doc: Doc, rel: string, shared: ReadonlySet<string>): Doc {
  const stem = stripExt(rel);
  if (!shared.has(stem)) return doc;
  if (doc.id === stem) return { ...doc, id: rel };
  if (doc.id.startsWith(`${stem}:`)) return { ...doc, id: rel + doc.id.slice(stem.length) };
  return doc;
}

// ---------------------------------------------------------------------------------------------
// Walking the folder

type Entry = { rel: string; abs: string } | { issue: IngestIssue };

async function openRoot(root: string): Promise<string> {
  try {
    const info = await stat(root);
    if (!info.isDirectory()) throw new AppError("CORPUS_MISSING", `corpus path ${root} is not a folder`);
    return await realpath(root);
  } catch (err) {
    if (err instanceof AppError) throw err;
    const code = errCode(err);
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new AppError("CORPUS_MISSING", `corpus folder ${root} does not exist`, { path: root });
    }
    throw new AppError("FILE_UNREADABLE", `corpus folder ${root} cannot be read (${code})`, { path: root });
  }
}

/**
 * Lists corpus files in sorted depth-first order. Symbolic links are resolved after the real
 * tree, so a file reached both ways keeps its real path as id; links already reached are skipped,
 * which also ends link cycles.
 */
async function walk(root: string, rootReal: string): Promise<Entry[]> {
  const out: Entry[] = [];
  const seenDirs = new Set<string>();
  const seenFiles = new Set<string>();
  const links: { rel: string; abs: string }[] = [];
  const unreadable = (rel: string, message: string): void => {
    out.push({ issue: issue(rel, "FILE_UNREADABLE", `${rel}${message}`) });
  };
  const inside = (real: string): boolean => {
    const r = path.relative(rootReal, real);
    return r === "" || (!r.startsWith("..") && !path.isAbsolute(r));
  };

  const visitDir = async (abs: string, rel: string, real: string): Promise<void> => {
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    let dirents: Dirent[];
    try {
      dirents = await readdir(abs, { withFileTypes: true });
    } catch (err) {
      return unreadable(rel, `/: the folder cannot be read (${errCode(err)})`);
    }
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of dirents) {
      if (d.name.startsWith(".")) continue;
      const childAbs = path.join(abs, d.name);
      const childRel = rel === "" ? d.name : `${rel}/${d.name}`;
      const childReal = path.join(real, d.name);
      if (d.isSymbolicLink()) links.push({ rel: childRel, abs: childAbs });
      else if (d.isDirectory()) await visitDir(childAbs, childRel, childReal);
      else if (readerFor(d.name) !== undefined && !seenFiles.has(childReal)) {
        seenFiles.add(childReal);
        if (d.isFile()) out.push({ rel: childRel, abs: childAbs });
        else unreadable(childRel, ": not a regular file");
      } else if (d.isFile()) out.push({ issue: unsupported(childRel) });
    }
  };

  await visitDir(root, "", rootReal);
  // Following a linked folder may find more links; the loop picks them up.
  for (let i = 0; i < links.length; i++) {
    const { rel, abs } = links[i]!;
    const known = readerFor(rel) !== undefined;
    let real: string;
    let info: Stats;
    try {
      real = await realpath(abs);
      info = await stat(real);
    } catch (err) {
      if (known) unreadable(rel, `: broken symbolic link (${errCode(err)})`);
      continue;
    }
    if (!info.isDirectory() && !known) {
      if (info.isFile() && inside(real)) out.push({ issue: unsupported(rel) });
      continue;
    }
    if (!inside(real)) unreadable(rel, ": symbolic link points outside the corpus folder; not followed");
    else if (info.isDirectory()) await visitDir(abs, rel, real);
    else if (!seenFiles.has(real)) {
      seenFiles.add(real);
      if (info.isFile()) out.push({ rel, abs });
      else unreadable(rel, ": not a regular file");
    }
  }
  return out;
}
function unsupported(rel: string): IngestIssue {
  const ext = path.posix.extname(rel).toLowerCase();
  const what = ext === "" ? "files without an extension" : `${ext} files`;
  return issue(
    rel,
    "FILE_UNSUPPORTED",
    `${rel}: ${what} are not read (supported: ${SUPPORTED_EXTENSIONS.join(", ")})`,
  );
}

async function loadFile(entry: { rel: string; abs: string }, limits: ReadLimits): Promise<Parsed> {
  const { rel, abs } = entry;
  const { maxFileBytes } = limits;
  const reader = readerFor(rel);
  if (!reader) return { docs: [], issues: [] };
  try {
    // Size first, so an oversized file is never pulled into memory.
    const { size } = await stat(abs);
    const streamed = await reader.stream?.({ rel, abs, size }, limits);
    if (streamed) return streamed;
    if (size > maxFileBytes) {
      const message = `${rel} is ${fmtCount(size)} bytes; the limit is ${fmtCount(maxFileBytes)} bytes`;
      return { docs: [], issues: [issue(rel, "FILE_TOO_LARGE", message)] };
    }
    return await reader.parse(rel, await readFile(abs));
  } catch (err) {
    return { docs: [], issues: [issue(rel, "FILE_UNREADABLE", `${rel}: cannot be read (${errCode(err)})`)] };
  }
}

async function mapInOrder<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
