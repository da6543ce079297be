/**
 * The Documents panel: the corpus folder's files (title, date, pages, passages), adding files by
 * drag and drop anywhere on the page or with a file picker, each one's progress until it is
 * answerable, and deleting them. It talks to `/api/documents` only; file names, titles and
 * problems are data and set as text.
 */
import type { CorpusFileEntry, DocumentList, UploadResult } from "../../core/protocol.ts";
import { formatDate } from "./answer-text.ts";
import { ApiError, authHeaders, errorFrom } from "./api.ts";
import { createLatest } from "./latest.ts";
import { el, icon, replaceChildren } from "./render.ts";

/** Read before the server has said which (it always says so in `limits`). */
const FALLBACK_EXTENSIONS = [".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".pdf", ".docx"];
/** How often the list is read again while a build runs. */
const POLL_MS = 400;

export interface DocumentsOptions {
  getToken: () => string | undefined;
  /** A build finished: the corpus changed (the page reads /api/health again). */
  onChanged: () => void;
  /** The server wants a token (none or a wrong one). */
  onAuthNeeded: () => void;
}

export interface DocumentsUi {
  open(): void;
  /** Opens the file picker (the empty state's button). */
  pick(): void;
  /** Uploads files as a drop does. */
  add(files: readonly File[]): Promise<void>;
  /** The extensions the server reads, as the empty state lists them. */
  extensions(): readonly string[];
  /** Reads the list again (after a token was given). */
  refresh(): Promise<void>;
}

/** A file the page is sending or the server refused before saving it. */
interface LocalEntry {
  name: string;
  state: "uploading" | "refused";
  message?: string;
}

const STATUS_TEXT: Record<CorpusFileEntry["status"] | LocalEntry["state"], string> = {
  uploading: "Uploading…",
  indexing: "Indexing…",
  indexed: "Answerable",
  failed: "Not indexed",
  not_indexed: "Not indexed yet",
  removed: "Removed",
  refused: "Refused",
};

const count = (n: number, one: string, many: string) =>
  `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

export function createDocumentsUi(opts: DocumentsOptions): DocumentsUi {
  let list: DocumentList | undefined;
  let problem: string | undefined;
  const local = new Map<string, LocalEntry>();
  /** Names whose delete button was pressed once: the second press deletes. */
  const confirming = new Set<string>();
  let polling: ReturnType<typeof setTimeout> | undefined;
  /** Lists asked for, numbered: an older list answered after a newer one is dropped. */
  const lists = createLatest();
  /**
   * A file was added or deleted since the page last heard the index was updated: the number of
   * lists asked for when the server took the change. Only a list asked for later can say that its
   * build is over; one asked for before (answered late, while the upload was sent) cannot.
   */
  let changedAfter: number | undefined;

  const input = el("input", {
    class: "visually-hidden",
    attrs: { type: "file", multiple: "", id: "docs-input", tabindex: "-1", "aria-label": "Files to add" },
  });
  const progress = el("p", { class: "docs-progress", attrs: { role: "status", "aria-live": "polite" } });
  const items = el("ul", { class: "docs-list", attrs: { "aria-label": "Files in the corpus folder" } });
  const choose = el(
    "button",
    { class: "btn-primary btn-small", attrs: { type: "button", id: "docs-choose" } },
    icon("plus"),
    "Choose files",
  );
  const types = el("span", { class: "docs-types" });
  const drop = el(
    "div",
    { class: "docs-drop", attrs: { id: "docs-drop" } },
    el("p", { class: "docs-drop-title", text: "Drop files anywhere on the page" }),
    el("p", { class: "docs-drop-sub" }, "or ", choose, " ", types),
  );
  const closeBtn = el(
    "button",
    { class: "icon-btn", attrs: { type: "button", "aria-label": "Close documents" } },
    icon("close"),
  );
  const dialog = el(
    "dialog",
    { class: "docs-dialog", attrs: { id: "docs-dialog", "aria-labelledby": "docs-title" } },
    el("div", { class: "docs-head" }, el("h2", { text: "Documents", attrs: { id: "docs-title" } }), closeBtn),
    drop,
    progress,
    items,
    input,
  );
  const overlay = el(
    "div",
    { class: "drop-overlay", attrs: { "aria-hidden": "true" } },
    el("p", { text: "Drop to add to the documents" }),
  );
  overlay.hidden = true;
  document.body.append(dialog, overlay);

  const extensions = () => list?.limits.extensions ?? FALLBACK_EXTENSIONS;

  // ---- the server ------------------------------------------------------------------------------

  async function request(method: string, query: string, body?: Blob): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`/api/documents${query}`, {
        method,
        headers: {
          Accept: "application/json",
          ...(body ? { "Content-Type": "application/octet-stream" } : {}),
          ...authHeaders(opts.getToken()),
        },
        ...(body ? { body } : {}),
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "NETWORK", "the server could not be reached");
    }
    if (!res.ok) {
      const err = await errorFrom(res);
      if (err.code === "UNAUTHORIZED") opts.onAuthNeeded();
      throw err;
    }
    return res;
  }

  async function refresh(): Promise<void> {
    const n = lists.ask();
    let answer: { list: DocumentList } | { problem: string };
    try {
      answer = { list: (await (await request("GET", "")).json()) as DocumentList };
    } catch (err) {
      answer = {
        problem:
          err instanceof ApiError && err.code === "UNAUTHORIZED"
            ? "This server needs an access token before it lists its documents."
            : `The documents could not be listed (${err instanceof ApiError ? err.code : "ERROR"}).`,
      };
    }
    // A newer list was already shown: this one says less.
    if (!lists.take(n)) return;
    if ("list" in answer) {
      list = answer.list;
      problem = undefined;
    } else problem = answer.problem;
    const busy = list?.indexing.busy === true || [...local.values()].some((l) => l.state === "uploading");
    // A file was added or deleted and its build is over (it may have ended before the first look).
    if ("list" in answer && changedAfter !== undefined && n > changedAfter && !busy) {
      changedAfter = undefined;
      opts.onChanged();
    }
    render();
    clearTimeout(polling);
    if (busy) polling = setTimeout(() => void refresh(), POLL_MS);
  }

  async function upload(file: File): Promise<void> {
    const limits = list?.limits;
    const dot = file.name.lastIndexOf(".");
    const ext = dot > 0 ? file.name.slice(dot).toLowerCase() : "";
    // Checked here first: the server refuses them anyway, after the whole file was sent.
    if (!extensions().includes(ext)) {
      local.set(file.name, {
        name: file.name,
        state: "refused",
        message: `${ext ? `${ext} files are` : "Files without an extension are"} not read (supported: ${extensions().join(", ")})`,
      });
      return;
    }
    if (limits && file.size > limits.maxUploadBytes) {
      local.set(file.name, {
        name: file.name,
        state: "refused",
        message: `${formatBytes(file.size)}; the upload limit is ${formatBytes(limits.maxUploadBytes)}`,
      });
      return;
    }
    local.set(file.name, { name: file.name, state: "uploading" });
    render();
    try {
      const res = await request("POST", `?name=${encodeURIComponent(file.name)}`, file);
      const saved = (await res.json()) as UploadResult;
      changedAfter = lists.asked;
      local.delete(file.name);
      // The server may have cleaned the name; the list shows it under that one.
      local.delete(saved.name);
    } catch (err) {
      local.set(file.name, {
        name: file.name,
        state: "refused",
        message: err instanceof ApiError ? `${err.code}: ${err.message}` : "the upload failed",
      });
    }
  }

  async function add(files: readonly File[]): Promise<void> {
    if (files.length === 0) return;
    open();
    if (!list) await refresh();
    // One after another: each is a build request, and the server runs them as few builds.
    for (const f of files) await upload(f);
    await refresh();
  }

  async function remove(name: string): Promise<void> {
    confirming.delete(name);
    try {
      await request("DELETE", `?name=${encodeURIComponent(name)}`);
      changedAfter = lists.asked;
    } catch (err) {
      local.set(name, {
        name,
        state: "refused",
        message: err instanceof ApiError ? `${err.code}: ${err.message}` : "it could not be deleted",
      });
    }
    await refresh();
  }

  // ---- rendering -------------------------------------------------------------------------------

  function renderFile(f: CorpusFileEntry): HTMLElement {
    const facts = [
      f.bytes !== undefined ? formatBytes(f.bytes) : undefined,
      f.documents.length > 1 ? count(f.documents.length, "document", "documents") : undefined,
    ].filter((x): x is string => x !== undefined);
    const pending = confirming.has(f.name);
    return el(
      "li",
      { class: "docs-item", attrs: { "data-status": f.status, "data-name": f.name } },
      el(
        "div",
        { class: "docs-item-head" },
        icon("doc", "icon docs-icon"),
        el("span", { class: "docs-name", text: f.name }),
        el("span", { class: "docs-status", text: STATUS_TEXT[f.status] }),
        f.status !== "removed" &&
          el("button", {
            class: `btn-ghost btn-small docs-delete${pending ? " docs-delete-confirm" : ""}`,
            text: pending ? "Delete for good?" : "Delete",
            attrs: {
              type: "button",
              "aria-label": pending ? `Confirm: delete ${f.name}` : `Delete ${f.name}`,
            },
            on: {
              click: () => {
                if (confirming.has(f.name)) void remove(f.name);
                else {
                  confirming.add(f.name);
                  render();
                  items
                    .querySelector<HTMLButtonElement>(`li[data-name="${CSS.escape(f.name)}"] .docs-delete`)
                    ?.focus();
                }
              },
            },
          }),
      ),
      facts.length > 0 && el("p", { class: "docs-facts", text: facts.join(" · ") }),
      f.documents.length > 0 &&
        el(
          "ul",
          { class: "docs-docs" },
          ...f.documents.slice(0, 5).map((d) =>
            el(
              "li",
              { class: "docs-doc" },
              el("span", { class: "docs-doc-title", text: d.title }),
              el("span", {
                class: "docs-doc-meta",
                text: [
                  d.date ? formatDate(d.date) : undefined,
                  d.pages !== undefined ? count(d.pages, "page", "pages") : undefined,
                  count(d.passages, "passage", "passages"),
                ]
                  .filter((x) => x !== undefined)
                  .join(" · "),
              }),
            ),
          ),
          f.documents.length > 5 &&
            el("li", { class: "docs-doc docs-more", text: `and ${f.documents.length - 5} more` }),
        ),
      ...f.problems
        .slice(0, 3)
        .map((p) => el("p", { class: "docs-problem", text: `${p.code}: ${p.message}` })),
    );
  }

  function renderLocal(l: LocalEntry): HTMLElement {
    return el(
      "li",
      { class: "docs-item", attrs: { "data-status": l.state, "data-name": l.name } },
      el(
        "div",
        { class: "docs-item-head" },
        icon("doc", "icon docs-icon"),
        el("span", { class: "docs-name", text: l.name }),
        el("span", { class: "docs-status", text: STATUS_TEXT[l.state] }),
        l.state === "refused" &&
          el("button", {
            class: "btn-ghost btn-small",
            text: "Dismiss",
            attrs: { type: "button", "aria-label": `Dismiss ${l.name}` },
            on: {
              click: () => {
                local.delete(l.name);
                render();
              },
            },
          }),
      ),
      l.message && el("p", { class: "docs-problem", text: l.message }),
    );
  }

  function renderProgress(): string {
    if (problem) return problem;
    const indexing = list?.indexing;
    if (!indexing) return "Loading the list…";
    if (indexing.busy) {
      const p = indexing.progress;
      if (!p) return "Updating the index…";
      return p.phase === "read"
        ? `Updating the index: reading files, ${p.done} of ${p.total}`
        : `Updating the index: ${p.done} of ${count(p.total, "passage", "passages")} embedded`;
    }
    if (indexing.error)
      return `The last index update failed: ${indexing.error.code}: ${indexing.error.message}`;
    const files = list?.files ?? [];
    const docs = files.reduce((n, f) => n + f.documents.length, 0);
    return files.length === 0
      ? "No files yet."
      : `${count(files.length, "file", "files")}, ${count(docs, "document", "documents")}.`;
  }

  function render(): void {
    types.textContent = `(${extensions().join(", ")})`;
    progress.textContent = renderProgress();
    dialog.dataset.busy = String(list?.indexing.busy === true);
    const shown = new Set<string>();
    const rows: HTMLElement[] = [];
    for (const l of local.values()) {
      shown.add(l.name);
      rows.push(renderLocal(l));
    }
    for (const f of list?.files ?? []) if (!shown.has(f.name)) rows.push(renderFile(f));
    replaceChildren(items, ...rows);
  }

  // ---- opening, picking, dropping ---------------------------------------------------------------

  function open(): void {
    if (!dialog.open) dialog.showModal();
    void refresh();
  }
  function pick(): void {
    input.value = "";
    input.click();
  }

  closeBtn.addEventListener("click", () => dialog.close());
  // Escape closes the panel, and only the panel (the page would also stop an answer).
  dialog.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") ev.preventDefault();
    if (ev.key === "Escape") dialog.close();
  });
  dialog.addEventListener("close", () => {
    confirming.clear();
  });
  choose.addEventListener("click", pick);
  input.addEventListener("change", () => void add([...(input.files ?? [])]));

  const hasFiles = (ev: DragEvent) => ev.dataTransfer?.types.includes("Files") === true;
  let depth = 0;
  window.addEventListener("dragenter", (ev) => {
    if (!hasFiles(ev)) return;
    depth++;
    overlay.hidden = false;
  });
  window.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) overlay.hidden = true;
  });
  window.addEventListener("dragover", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    if (ev.dataTransfer) ev.dataTransfer.dropEffect = "copy";
  });
  window.addEventListener("drop", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth = 0;
    overlay.hidden = true;
    void add([...(ev.dataTransfer?.files ?? [])]);
  });

  return { open, pick, add, extensions, refresh };
}

/**
 * What the empty page says when the index holds no document: where files go, the types read, and
 * a button that opens the file picker.
 */
export function renderCorpusHowto(extensions: readonly string[], onPick: () => void): HTMLElement {
  const codes = extensions.flatMap((e, i) => [i > 0 ? ", " : "", el("code", { text: e })]);
  return el(
    "div",
    { class: "empty-howto-wrap" },
    el(
      "p",
      { class: "empty-lede empty-howto" },
      "Add your files (",
      ...codes,
      ") here: drop them anywhere on this page, or ",
      el("button", {
        class: "btn-primary btn-small empty-upload",
        text: "choose files",
        attrs: { type: "button" },
        on: { click: onPick },
      }),
      ". They are saved in the server's corpus folder (",
      el("code", { text: "corpus/" }),
      " beside it, unless ",
      el("code", { text: "CITELINE_CORPUS_DIR" }),
      " names another) and indexed at once. Files put in that folder directly are indexed by a running ",
      el("code", { text: "npm start" }),
      ", or by ",
      el("code", { text: "npm run index" }),
      ". Questions are answered from them, and every sentence links to the passage it came from.",
    ),
  );
}
