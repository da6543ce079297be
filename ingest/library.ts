/**
 * The corpus folder as the page and `/api/documents` see it: its files with what the index holds
 * of each, adding a file (saved atomically under a cleaned name) and removing one. Every change
 * goes through the folder and then the same incremental build as `npm run index`, so the folder,
 * the command and the API never disagree.
 */
import { randomBytes } from "node:crypto";
import { lstat, mkdir, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import type { DocumentSummary } from "../core/backend.ts";
import { AppError, fmtCount } from "../core/errors.ts";
import type {
  CorpusFileEntry,
  CorpusFileStatus,
  DocumentList,
  IndexedDocument,
  UploadResult,
} from "../core/protocol.ts";
import { type CorpusEntry, listCorpusFiles } from "./corpus.ts";
import { SUPPORTED_EXTENSIONS } from "./readers/index.ts";
import { errCode } from "./readers/shared.ts";
import type { IndexUpdater } from "./updater.ts";
import { cleanUploadName } from "./upload-name.ts";

export interface LibraryOptions {
  corpusDir: string;
  maxUploadBytes: number;
  /** Files the folder may hold for a new upload to be accepted. */
  maxFiles: number;
  updater: IndexUpdater;
  /** The documents of the index being served. */
  indexed: () => Promise<DocumentSummary[]>;
}

export interface Library {
  list(): Promise<DocumentList>;
  /** Saves a file and asks for a build; with `wait`, resolves once that build is served. */
  add(rawName: string, bytes: Buffer, opts?: { wait?: boolean }): Promise<UploadResult>;
  /** Deletes a file the list shows and asks for a build; with `wait`, as `add`. */
  remove(name: string, opts?: { wait?: boolean }): Promise<void>;
}

/** Prefix of the temp files uploads are written to: hidden, so no build or watcher reads them. */
const TEMP_PREFIX = ".upload-";

export function createLibrary(opts: LibraryOptions): Library {
  const { corpusDir, updater } = opts;
  /**
   * Uploads whose build has not ended, by name. They are indexing until it ends whatever their
   * time stamps say: a file system stamps a file with a clock that lags Date.now() by up to a
   * tick, so a file saved just after a build began can look older than that build, as if it had
   * read it.
   */
  const building = new Map<string, Promise<unknown>>();

  const files = async (): Promise<CorpusEntry[]> => {
    try {
      return await listCorpusFiles(corpusDir);
    } catch (err) {
      // A corpus folder that is not there yet holds no file; the first upload creates it.
      if (err instanceof AppError && err.code === "CORPUS_MISSING") return [];
      throw err;
    }
  };

  const list = async (): Promise<DocumentList> => {
    // The updater's state before the index: a build is the last one only once it is served, so
    // the documents read after hold at least its own. Read the other way round, a build ending
    // meanwhile gave an idle list whose new file had no documents yet ("not_indexed"), and the
    // page, told the build was over, stopped looking.
    const state = updater.state();
    const uploads = new Set(building.keys());
    const [entries, docs] = await Promise.all([files(), opts.indexed()]);
    // A build asked for while the folder was read (an upload saved meanwhile) counts too.
    const busy = state.busy || updater.state().busy;
    const last = state.last;
    const problems = new Map<string, { code: string; message: string }[]>();
    for (const i of last?.summary?.issues ?? []) {
      const list = problems.get(i.source) ?? [];
      list.push({ code: i.code, message: i.message });
      problems.set(i.source, list);
    }
    const names = new Set(entries.map((e) => e.rel));
    const byFile = new Map<string, IndexedDocument[]>();
    for (const d of docs) {
      const file = fileOf(d.source, names);
      const list = byFile.get(file) ?? [];
      list.push({
        id: d.id,
        title: d.title,
        ...(d.date ? { date: d.date } : {}),
        ...(d.pages !== undefined ? { pages: d.pages } : {}),
        passages: d.passages,
      });
      byFile.set(file, list);
    }
    const out: CorpusFileEntry[] = [];
    for (const e of entries) {
      const info = await stat(e.abs).catch(() => undefined);
      const documents = byFile.get(e.rel) ?? [];
      const mtime = info?.mtimeMs ?? 0;
      // Not read by the last build: an upload whose build had not ended before the reads above
      // (its documents may be missing from them) or has not ended now, a file changed after the
      // last build began, or any file when no build has run here yet.
      const upload = uploads.has(e.rel) || building.has(e.rel);
      const newer = upload || !last || mtime >= last.startedAt;
      // The last build's report, unless the file changed since it was read.
      const found = e.issue
        ? [{ code: e.issue.code, message: e.issue.message }]
        : newer
          ? []
          : (problems.get(e.rel) ?? []);
      const status: CorpusFileStatus = e.issue
        ? "failed"
        : busy && newer
          ? "indexing"
          : documents.length > 0
            ? "indexed"
            : found.length > 0
              ? "failed"
              : "not_indexed";
      out.push({
        name: e.rel,
        ...(info ? { bytes: info.size, modified: new Date(info.mtimeMs).toISOString() } : {}),
        status,
        documents,
        problems: found,
      });
    }
    for (const [file, documents] of byFile) {
      if (!names.has(file)) out.push({ name: file, status: "removed", documents, problems: [] });
    }
    const progress = state.progress;
    return {
      files: out,
      indexing: {
        busy,
        ...(progress
          ? { progress: { phase: progress.phase ?? "embed", done: progress.done, total: progress.total } }
          : {}),
        ...(last?.error ? { error: last.error } : {}),
      },
      limits: {
        maxUploadBytes: opts.maxUploadBytes,
        maxFiles: opts.maxFiles,
        extensions: [...SUPPORTED_EXTENSIONS],
      },
    };
  };

  const add = async (rawName: string, bytes: Buffer, req: { wait?: boolean } = {}): Promise<UploadResult> => {
    const name = cleanUploadName(rawName);
    if (bytes.length > opts.maxUploadBytes) throw tooLarge(bytes.length, opts.maxUploadBytes);
    const target = path.join(corpusDir, name);
    const existing = await lstat(target).catch(() => undefined);
    if (existing && !existing.isFile()) {
      throw new AppError(
        "FILE_NAME_INVALID",
        `${name} is the name of a folder or link in the corpus folder`,
        {
          field: "name",
        },
      );
    }
    if (opts.maxFiles === 0) {
      throw new AppError("CORPUS_FULL", "uploads are off on this server (CITELINE_UPLOAD_MAX_FILES is 0)", {
        limit: 0,
      });
    }
    if (!existing && (await files()).length >= opts.maxFiles) {
      throw new AppError(
        "CORPUS_FULL",
        `the corpus folder holds ${fmtCount(opts.maxFiles)} files, the most an upload may bring it to (CITELINE_UPLOAD_MAX_FILES); delete some first`,
        { limit: opts.maxFiles },
      );
    }
    await writeAtomically(corpusDir, name, bytes);
    const built = updater.update();
    building.set(name, built);
    const ended = () => {
      if (building.get(name) === built) building.delete(name);
    };
    built.then(ended, ended);
    if (!req.wait) {
      built.catch(() => {});
      return { name, bytes: bytes.length, replaced: existing !== undefined };
    }
    await notUpdated(built, `${name} was saved`);
    const file = (await list()).files.find((f) => f.name === name);
    return { name, bytes: bytes.length, replaced: existing !== undefined, ...(file ? { file } : {}) };
  };

  const remove = async (name: string, req: { wait?: boolean } = {}): Promise<void> => {
    // Only a name the list shows: nothing outside the folder, nothing hidden, no folder.
    const entry = (await files()).find((e) => e.rel === name);
    if (!entry) throw new AppError("NOT_FOUND", `the corpus folder holds no file named ${name}`);
    try {
      await unlink(entry.abs);
    } catch (err) {
      throw fsError(err, `${name} could not be deleted`);
    }
    // Deleting the last file on purpose empties the index, unlike a folder that went missing.
    const built = updater.update({ allowEmpty: true });
    if (!req.wait) {
      built.catch(() => {});
      return;
    }
    await notUpdated(built, `${name} was deleted`);
  };

  return { list, add, remove };
}

/** Waits for a build; its failure says what was done to the folder all the same. */
async function notUpdated(built: Promise<unknown>, done: string): Promise<void> {
  try {
    await built;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    throw new AppError(err.code, `${done}, but the index was not updated: ${err.message}`, {
      ...err.details,
    });
  }
}

/** The file a document came from: its source, less a JSONL line or record suffix. */
function fileOf(source: string, names: ReadonlySet<string>): string {
  if (names.has(source)) return source;
  const line = / line \d+$/.exec(source);
  if (line) return source.slice(0, line.index);
  const hash = source.indexOf("#");
  return hash > 0 ? source.slice(0, hash) : source;
}

/** Writes to a hidden temp file, then renames it into place: no build ever reads half a file. */
async function writeAtomically(dir: string, name: string, bytes: Buffer): Promise<void> {
  const temp = path.join(dir, `${TEMP_PREFIX}${randomBytes(8).toString("hex")}`);
  try {
    // The first upload of a fresh install may come before anyone made the folder.
    await mkdir(dir, { recursive: true });
    await writeFile(temp, bytes, { flag: "wx" });
    await rename(temp, path.join(dir, name));
  } catch (err) {
    await rm(temp, { force: true }).catch(() => {});
    throw fsError(err, `${name} could not be saved`);
  }
}

function fsError(err: unknown, what: string): Error {
  const code = errCode(err);
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return new AppError("CORPUS_READ_ONLY", `${what}: the server may not write the corpus folder (${code})`);
  }
  if (code === "ENOSPC") return new AppError("CORPUS_READ_ONLY", `${what}: the disk is full`);
  return err instanceof Error ? err : new Error(String(err));
}

/** The error for a file over the upload limit. */
export function tooLarge(size: number | undefined, limit: number): AppError {
  const message =
    size === undefined
      ? `the file is larger than the upload limit of ${fmtCount(limit)} bytes (CITELINE_UPLOAD_MAX_BYTES)`
      : `the file is ${fmtCount(size)} bytes; the upload limit is ${fmtCount(limit)} bytes (CITELINE_UPLOAD_MAX_BYTES)`;
  return new AppError("UPLOAD_TOO_LARGE", message, { limit });
}
