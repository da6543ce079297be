/** The page: wires the conversation, the connection, the turn views and the composer together. */
import type { Health } from "../../core/protocol.ts";
import { answerForClipboard } from "./answer-text.ts";
import { ApiError, fetchHealth } from "./api.ts";
import { createCitationUi } from "./citations.ts";
import { type ConnState, createConnection, type TransportKind } from "./connection.ts";
import {
  type AnswerMessage,
  createConversation,
  isActive,
  isGenerating,
  keptAnswer,
  type Turn,
} from "./conversation.ts";
import { createDateRange } from "./date-range.ts";
import { createDocumentsUi, renderCorpusHowto } from "./documents.ts";
import { createLatest } from "./latest.ts";
import { canRetry, createTurnView, el, renderEmptyState, replaceChildren, type TurnView } from "./render.ts";
import { browserStore, createTokenStore } from "./storage.ts";

function byId<T extends HTMLElement>(id: string, type: { new (): T }): T {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`index.html is missing #${id}`);
  return node;
}

/** A random id; works on plain-http LAN addresses, where crypto.randomUUID is unavailable. */
function makeId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `q-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const ui = {
  conn: byId("conn", HTMLElement),
  connLabel: byId("conn-label", HTMLElement),
  reconnect: byId("reconnect", HTMLButtonElement),
  newChat: byId("new-chat", HTMLButtonElement),
  docsOpen: byId("docs-open", HTMLButtonElement),
  empty: byId("empty", HTMLElement),
  log: byId("log", HTMLElement),
  form: byId("composer", HTMLFormElement),
  input: byId("question", HTMLTextAreaElement),
  send: byId("send", HTMLButtonElement),
  stop: byId("stop", HTMLButtonElement),
  notice: byId("notice", HTMLElement),
  length: byId("question-length", HTMLElement),
  tokenDialog: byId("token-dialog", HTMLDialogElement),
  tokenForm: byId("token-form", HTMLFormElement),
  tokenInput: byId("token-input", HTMLInputElement),
  tokenError: byId("token-error", HTMLElement),
  tokenCancel: byId("token-cancel", HTMLButtonElement),
};

const store = browserStore();
const range = createDateRange(byId("range", HTMLDetailsElement));
const tokens = createTokenStore(store);
// One conversation per tab: a tab's sessionStorage survives its reloads, and two open tabs no
// longer overwrite each other's saved conversation.
const conversation = createConversation(browserStore("session"));
const cites = createCitationUi({ getToken: tokens.get });
const docs = createDocumentsUi({
  getToken: tokens.get,
  // The corpus changed: the empty state, the counts and the starter questions follow it.
  onChanged: () => void loadHealth(),
  onAuthNeeded: () => askForToken(tokens.get() !== undefined),
});
ui.docsOpen.addEventListener("click", () => docs.open());
const views = new Map<string, TurnView>();
let health: Health | undefined;
let healthProblem: string | undefined;
let docsListed = false;

// ---- connection --------------------------------------------------------------------------------

const CONN_LABELS: Record<ConnState, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

function renderConn(state: ConnState, transport: TransportKind) {
  ui.conn.dataset.state = state;
  document.body.dataset.conn = state;
  ui.conn.dataset.transport = transport;
  ui.connLabel.textContent =
    state === "connected" && transport === "http" ? "Connected (HTTP)" : CONN_LABELS[state];
  ui.conn.title =
    transport === "http"
      ? "WebSockets are unavailable here; answers stream over HTTP instead."
      : "Live connection";
  ui.reconnect.hidden = state !== "reconnecting" && state !== "offline";
  if (state === "connected" && !health) void loadHealth();
}

const connection = createConnection({
  getToken: tokens.get,
  onState: renderConn,
  onAnswer: onAnswer,
  onAuthNeeded: (rejected) => {
    if (rejected) tokens.clear();
    askForToken(rejected);
  },
  onServerError: (code, message) => showNotice(`${code}: ${message}`),
});
ui.reconnect.addEventListener("click", () => connection.retryNow());

function onAnswer(msg: AnswerMessage) {
  const follow = nearBottom();
  const turn = conversation.apply(msg);
  if (!turn) return;
  views.get(turn.id)?.update(turn, isLastTurn(turn));
  if (!isActive(turn) || isGenerating(turn)) syncComposer();
  if (follow) scrollToEnd();
}

// ---- health and the empty state ----------------------------------------------------------------

/** Health reads asked for, numbered: an older answer arriving late is dropped. */
const healthReads = createLatest();

async function loadHealth() {
  const n = healthReads.ask();
  try {
    const h = await fetchHealth(tokens.get());
    if (!healthReads.take(n)) return;
    // Without a valid token the server only says that one is needed.
    health = typeof h.documents === "number" ? h : undefined;
    // Listed once the server answers this client: the list says which types it reads.
    if (health && !docsListed) {
      docsListed = true;
      void docs.refresh().then(renderEmpty);
    }
    syncComposer();
    range.setBounds(health?.dateRange ?? null);
    healthProblem = health ? undefined : "This server needs an access token before it shows what it holds.";
  } catch (err) {
    if (!healthReads.take(n)) return;
    healthProblem =
      err instanceof ApiError && err.code !== "NETWORK"
        ? `The server could not describe its documents (${err.code}: ${err.message}).`
        : "The server cannot be reached right now; questions will be sent once it is back.";
  }
  renderEmpty();
}

function renderEmpty() {
  const empty = conversation.turns.length === 0;
  ui.empty.hidden = !empty;
  ui.log.hidden = empty;
  ui.newChat.disabled = empty;
  // A later render (the health, then the documents list, arriving) replaces the starter buttons:
  // the one the keyboard is on keeps the focus rather than losing it to <body>.
  const focused = document.activeElement;
  const starter =
    focused instanceof HTMLButtonElement &&
    focused.classList.contains("example") &&
    ui.empty.contains(focused)
      ? focused.textContent
      : undefined;
  if (!empty) ui.empty.replaceChildren();
  else {
    replaceChildren(
      ui.empty,
      // The starter button goes away with the empty state: focus moves on to the question box,
      // not to <body>, so the keyboard user can ask the next question at once.
      renderEmptyState(
        health,
        healthProblem,
        (q) => {
          ask(q);
          ui.input.focus();
        },
        renderCorpusHowto(docs.extensions(), () => docs.pick()),
      ),
    );
    if (starter !== undefined)
      [...ui.empty.querySelectorAll<HTMLButtonElement>("button.example")]
        .find((b) => b.textContent === starter)
        ?.focus();
  }
}

// ---- turns -------------------------------------------------------------------------------------

const isLastTurn = (turn: Turn) => conversation.turns.at(-1)?.id === turn.id;

function mountTurn(turn: Turn, before?: Node) {
  const view = createTurnView(turn, {
    chip: (t, n, at, citations) => cites.chip(t, n, at, citations),
    openSource: (_t, source, opener) => cites.open(source, undefined, opener),
    copy: (t) => copyText(answerForClipboard(keptAnswer(t).answer, t.sources)),
    retry,
    keep: (t, choice) => {
      const kept = conversation.keep(t.id, choice);
      if (kept) views.get(kept.id)?.update(kept, isLastTurn(kept));
    },
    stop: (t) => {
      if (conversation.active()?.id === t.id) stop();
    },
  });
  view.update(turn, isLastTurn(turn));
  views.set(turn.id, view);
  ui.log.insertBefore(view.root, before ?? null);
}

/** Re-renders every turn's "is last" affordances (Retry sits on the last turn only). */
function refreshTurns() {
  for (const turn of conversation.turns) views.get(turn.id)?.update(turn, isLastTurn(turn));
}

/** The server's question length limit, once /api/health has said it. */
const questionLimit = () => health?.limits?.maxQuestionChars;

function ask(text: string): boolean {
  const question = text.trim();
  const active = conversation.active();
  // An answer whose quoted part is complete does not hold up the next question: the generated
  // part still being written is stopped (what it wrote so far stays).
  if (question === "" || (active && !isGenerating(active))) return false;
  // Refused by the server anyway: the counter under the box already says by how much.
  const limit = questionLimit();
  if (limit !== undefined && question.length > limit) return false;
  if (active) stop();
  const id = makeId();
  const turn = conversation.add(id, question);
  renderEmpty();
  mountTurn(turn);
  refreshTurns();
  connection.ask({ id, question, history: conversation.history(id), ...range.filters() });
  syncComposer();
  scrollToEnd();
  return true;
}

function retry(turn: Turn) {
  if (conversation.active() || !isLastTurn(turn) || !canRetry(turn)) return;
  const old = views.get(turn.id);
  const fresh = conversation.restart(turn.id, makeId());
  if (!fresh) return;
  views.delete(turn.id);
  mountTurn(fresh, old?.root);
  old?.root.remove();
  connection.ask({
    id: fresh.id,
    question: fresh.question,
    history: conversation.history(fresh.id),
    ...range.filters(),
  });
  syncComposer();
  scrollToEnd();
}

function stop() {
  const turn = conversation.active();
  if (!turn) return;
  connection.cancel(turn.id);
  const stopped = conversation.stop(turn.id);
  if (stopped) views.get(stopped.id)?.update(stopped, isLastTurn(stopped));
  syncComposer();
  ui.input.focus();
}

function newConversation() {
  const active = conversation.active();
  if (active) connection.cancel(active.id);
  cites.close();
  conversation.clear();
  views.clear();
  ui.log.replaceChildren();
  renderEmpty();
  syncComposer();
  ui.input.focus();
}

// ---- composer ----------------------------------------------------------------------------------

function syncComposer() {
  const active = conversation.active();
  const busy = active !== undefined && !isGenerating(active);
  const length = ui.input.value.trim().length;
  const limit = questionLimit();
  const over = limit !== undefined && length > limit;
  ui.send.hidden = busy;
  ui.stop.hidden = !busy;
  ui.send.disabled = length === 0 || over;
  ui.form.classList.toggle("busy", busy);
  ui.form.classList.toggle("too-long", over);
  ui.input.setAttribute("aria-invalid", String(over));
  // Shown from nine tenths of the limit on, so the limit is known before a question is sent.
  const shown = limit !== undefined && length >= limit * 0.9;
  ui.length.hidden = !shown;
  if (shown) {
    const fmt = (n: number) => n.toLocaleString("en-US");
    ui.length.textContent = over
      ? `${fmt(length)} / ${fmt(limit)} characters: shorten the question by ${fmt(length - limit)} to send it`
      : `${fmt(length)} / ${fmt(limit)} characters`;
  }
}

ui.form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (ask(ui.input.value)) {
    ui.input.value = "";
    ui.input.style.removeProperty("height");
  }
  syncComposer();
});
ui.input.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    ui.form.requestSubmit();
  }
});
ui.input.addEventListener("input", syncComposer);
if (!CSS.supports("field-sizing", "content")) {
  // Grow the box with its text where CSS cannot (CSSOM sizing is allowed by the CSP).
  ui.input.addEventListener("input", () => {
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight, window.innerHeight * 0.4)}px`;
  });
}
ui.stop.addEventListener("click", stop);
// Escape stops the answer being written, unless it closed something first (the source panel or a
// citation card prevent the default) or a dialog is open.
document.addEventListener("keydown", (ev) => {
  if (ev.key !== "Escape" || ev.defaultPrevented || ev.isComposing || ui.tokenDialog.open) return;
  if (!conversation.active()) return;
  ev.preventDefault();
  stop();
});
ui.newChat.addEventListener("click", newConversation);

// ---- clipboard, notices, scrolling, token ------------------------------------------------------

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No async clipboard (plain-http origin, denied permission): the old selection route.
    const focused = document.activeElement;
    const buffer = el("textarea", { class: "clip-buffer", attrs: { readonly: "", "aria-hidden": "true" } });
    buffer.value = text;
    document.body.appendChild(buffer);
    buffer.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    buffer.remove();
    if (focused instanceof HTMLElement) focused.focus();
    return ok;
  }
}

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
function showNotice(text: string) {
  ui.notice.textContent = text;
  ui.notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    ui.notice.hidden = true;
  }, 8000);
}

const nearBottom = () => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 160;
const scrollToEnd = () =>
  requestAnimationFrame(() => window.scrollTo({ top: document.documentElement.scrollHeight }));

function askForToken(rejected: boolean) {
  if (rejected || !ui.tokenDialog.open) ui.tokenError.hidden = !rejected;
  if (ui.tokenDialog.open) return;
  ui.tokenInput.value = "";
  ui.tokenDialog.showModal();
}
ui.tokenCancel.addEventListener("click", () => ui.tokenDialog.close("cancel"));
ui.tokenDialog.addEventListener("close", () => {
  const token = ui.tokenInput.value.trim();
  if (ui.tokenDialog.returnValue !== "ok" || token === "") return;
  tokens.set(token);
  connection.authenticate();
  if (!health) void loadHealth();
  void docs.refresh();
});

// ---- start -------------------------------------------------------------------------------------

for (const turn of conversation.turns) mountTurn(turn);
refreshTurns();
renderEmpty();
syncComposer();
void loadHealth();
if (conversation.turns.length > 0) scrollToEnd();
// On touch screens focusing would pop the keyboard over the empty state.
if (window.matchMedia("(pointer: fine)").matches) ui.input.focus();
