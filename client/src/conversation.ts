/**
 * The conversation: its turns, how answer messages change a turn (a pure reducer), the history
 * sent with follow-up questions, and persistence in localStorage so a reload keeps everything.
 */
import type {
  Citation,
  GeneratedAnswer,
  Generation,
  Generator,
  NotFoundReason,
  ServerMessage,
  ShortAnswer,
  SourceRef,
  Timings,
} from "../../core/protocol.ts";
import type { HistoryTurn } from "../../core/types.ts";
import type { KeyValueStore } from "./storage.ts";

export type TurnStatus =
  /** Asked, no answer event yet (possibly waiting for the connection). */
  | "waiting"
  | "streaming"
  | "done"
  /** The user pressed Stop; the text so far is kept. */
  | "stopped"
  /** The connection dropped (or the page was reloaded) before the answer finished. */
  | "interrupted"
  | "error";

export interface TurnError {
  code: string;
  message: string;
  retryAfterS?: number;
}

export interface Turn {
  id: string;
  question: string;
  answer: string;
  sources: SourceRef[];
  citations: Citation[];
  notFound: boolean;
  /** Why it is not found, when the date range rather than the evidence is the reason. */
  notFoundReason?: NotFoundReason;
  /** The exact words that answer the question, when it asks for a name, date, number... */
  shortAnswer?: ShortAnswer;
  status: TurnStatus;
  error?: TurnError;
  /** The retrieval query the server used, when it differs from the question. */
  query?: string;
  timings?: Timings;
  /** How the generated answer went, when the server has a language model configured. */
  generation?: Generation;
  /**
   * The model writing (or that wrote) a generated answer after the extractive one; set once the
   * extractive answer is complete, cited and shown.
   */
  generator?: Generator;
  /** The generated answer so far: the verified sentences, joined by one space. */
  generated?: GeneratedAnswer;
  /** The model's sentences that failed verification and were not shown. */
  withheld?: number;
  /** The answer the user kept: the other is hidden, and the kept one is copied and sent as history. */
  keep?: Keep;
  askedAt: number;
}

export type Keep = "extractive" | "generated";

/** What a transport reports about one question. */
export type AnswerMessage =
  | Extract<ServerMessage, { type: "sources" | "delta" | "extractive" | "generated" | "withheld" | "done" }>
  | (Extract<ServerMessage, { type: "error" }> & { id: string })
  | { type: "interrupted"; id: string };

export const isActive = (t: Turn): boolean => t.status === "waiting" || t.status === "streaming";

/**
 * True while only the generated answer is still being written: the extractive one is complete
 * and shown, so the user may read it, keep it, or ask the next question.
 */
export const isGenerating = (t: Turn): boolean => isActive(t) && t.generator !== undefined;

/** The answer the user sees as theirs: the generated one when they kept it, else the extractive one. */
export function keptAnswer(t: Turn): { answer: string; citations: Citation[] } {
  if (t.keep === "generated" && t.generated && t.generated.answer !== "") return t.generated;
  return { answer: t.answer, citations: t.citations };
}

/** Most history entries (user and assistant turns) sent with a question. */
export const HISTORY_LIMIT = 10;
/** Most history characters sent, well under the server's default limit (20,000). */
export const HISTORY_CHARS = 12_000;
/** Most turns kept in storage. */
const MAX_TURNS = 100;
const STORAGE_KEY = "citeline.conversation.v1";

export function newTurn(id: string, question: string, now = Date.now()): Turn {
  return {
    id,
    question,
    answer: "",
    sources: [],
    citations: [],
    notFound: false,
    status: "waiting",
    askedAt: now,
  };
}

/** The turn after one answer message. Messages for a finished turn change nothing. */
export function applyMessage(turn: Turn, msg: AnswerMessage): Turn {
  if (!isActive(turn)) return turn;
  switch (msg.type) {
    case "sources":
      return {
        ...turn,
        status: "streaming",
        sources: msg.sources,
        notFound: msg.notFound,
        ...(msg.notFoundReason ? { notFoundReason: msg.notFoundReason } : {}),
      };
    case "delta":
      return { ...turn, status: "streaming", answer: turn.answer + msg.text };
    case "extractive":
      return {
        ...turn,
        status: "streaming",
        answer: msg.answer,
        citations: msg.citations,
        ...(msg.shortAnswer ? { shortAnswer: msg.shortAnswer } : {}),
        generator: msg.generator,
        generated: { answer: "", citations: [] },
        withheld: 0,
      };
    case "generated": {
      // The server's citation offsets are in the sentences joined by one space, as here.
      const prior = turn.generated ?? { answer: "", citations: [] };
      const lead = prior.answer === "" ? "" : " ";
      return {
        ...turn,
        generated: {
          answer: prior.answer + lead + msg.text,
          citations: [...prior.citations, ...msg.citations],
        },
      };
    }
    case "withheld":
      return { ...turn, withheld: (turn.withheld ?? 0) + 1 };
    case "done": {
      const next: Turn = {
        ...turn,
        status: "done",
        answer: msg.answer,
        citations: msg.citations,
        notFound: msg.notFound,
        timings: msg.timings,
      };
      if (msg.notFoundReason) next.notFoundReason = msg.notFoundReason;
      if (msg.shortAnswer) next.shortAnswer = msg.shortAnswer;
      if (msg.query.trim() !== turn.question.trim()) next.query = msg.query;
      if (msg.generation) next.generation = msg.generation;
      if (msg.generated) next.generated = msg.generated;
      return next;
    }
    case "error": {
      const error: TurnError = { code: msg.code, message: msg.message };
      if (msg.retryAfterS !== undefined) error.retryAfterS = msg.retryAfterS;
      return { ...turn, status: "error", error };
    }
    case "interrupted":
      return { ...turn, status: "interrupted" };
  }
}

/**
 * The history sent with the question of turn `index`: earlier questions and the answers the user
 * saw (complete or stopped), at most the last `limit` entries and `maxChars` characters.
 */
export function historyBefore(
  turns: readonly Turn[],
  index: number,
  limit = HISTORY_LIMIT,
  maxChars = HISTORY_CHARS,
): HistoryTurn[] {
  const all: HistoryTurn[] = [];
  for (const t of turns.slice(0, index)) {
    if (t.status !== "done" && t.status !== "stopped") continue;
    all.push({ role: "user", text: t.question });
    const { answer } = keptAnswer(t);
    if (answer.trim() !== "") all.push({ role: "assistant", text: answer });
  }
  const out = all.slice(-limit);
  let chars = out.reduce((n, h) => n + h.text.length, 0);
  while (out.length > 0 && chars > maxChars) chars -= out.shift()?.text.length ?? 0;
  return out;
}

/** Turns read back from storage; anything malformed is dropped rather than trusted. */
export function parseStored(raw: string | undefined): Turn[] {
  if (!raw) return [];
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return [];
  }
  const turns = (data as { turns?: unknown } | null)?.turns;
  if (!Array.isArray(turns)) return [];
  return turns.filter(isTurn).map((t) =>
    // An answer that was streaming when the page went away will never finish.
    isActive(t) ? { ...t, status: "interrupted" } : t,
  );
}

function isTurn(v: unknown): v is Turn {
  if (typeof v !== "object" || v === null) return false;
  const t = v as Record<string, unknown>;
  return (
    typeof t.id === "string" &&
    typeof t.question === "string" &&
    typeof t.answer === "string" &&
    Array.isArray(t.sources) &&
    Array.isArray(t.citations) &&
    typeof t.status === "string" &&
    ["waiting", "streaming", "done", "stopped", "interrupted", "error"].includes(t.status) &&
    (t.generated === undefined || isGenerated(t.generated)) &&
    (t.keep === undefined || t.keep === "extractive" || t.keep === "generated")
  );
}

function isGenerated(v: unknown): v is GeneratedAnswer {
  const g = v as Record<string, unknown> | null;
  return typeof g === "object" && g !== null && typeof g.answer === "string" && Array.isArray(g.citations);
}

export interface Conversation {
  readonly turns: readonly Turn[];
  get(id: string): Turn | undefined;
  /** The turn answering now, if any. */
  active(): Turn | undefined;
  add(id: string, question: string): Turn;
  apply(msg: AnswerMessage): Turn | undefined;
  stop(id: string): Turn | undefined;
  /** Keeps one of the turn's two answers (`undefined`: shows both again). */
  keep(id: string, choice: Keep | undefined): Turn | undefined;
  /** Turns `id` back into a fresh question under a new id (Retry). */
  restart(id: string, newId: string): Turn | undefined;
  history(id: string): HistoryTurn[];
  clear(): void;
}

/** The conversation, loaded from and saved to `store`. */
export function createConversation(store: KeyValueStore): Conversation {
  let turns: Turn[] = parseStored(store.get(STORAGE_KEY));
  let saveTimer: ReturnType<typeof setTimeout> | undefined;

  const saveNow = () => {
    saveTimer = undefined;
    let kept = turns.slice(-MAX_TURNS);
    // When the quota is full, older turns go first.
    while (!store.set(STORAGE_KEY, JSON.stringify({ version: 1, turns: kept })) && kept.length > 1) {
      kept = kept.slice(Math.ceil(kept.length / 2));
    }
  };
  const save = (soon = false) => {
    if (soon) {
      saveTimer ??= setTimeout(saveNow, 250);
      return;
    }
    if (saveTimer !== undefined) clearTimeout(saveTimer);
    saveNow();
  };
  const replace = (next: Turn, soon = false): Turn => {
    turns = turns.map((t) => (t.id === next.id ? next : t));
    save(soon);
    return next;
  };
  window.addEventListener("pagehide", () => {
    if (saveTimer !== undefined) save();
  });

  return {
    get turns() {
      return turns;
    },
    get: (id) => turns.find((t) => t.id === id),
    active: () => turns.find(isActive),
    add(id, question) {
      const turn = newTurn(id, question);
      turns = [...turns, turn];
      save();
      return turn;
    },
    apply(msg) {
      const turn = turns.find((t) => t.id === msg.id);
      if (!turn) return undefined;
      const next = applyMessage(turn, msg);
      return next === turn ? turn : replace(next, msg.type === "delta");
    },
    stop(id) {
      const turn = turns.find((t) => t.id === id);
      if (!turn || !isActive(turn)) return turn;
      return replace({ ...turn, status: "stopped" });
    },
    keep(id, choice) {
      const turn = turns.find((t) => t.id === id);
      if (!turn) return undefined;
      const { keep: _old, ...rest } = turn;
      return replace(choice ? { ...rest, keep: choice } : rest);
    },
    restart(id, newId) {
      const turn = turns.find((t) => t.id === id);
      if (!turn) return undefined;
      const fresh = newTurn(newId, turn.question);
      turns = turns.map((t) => (t.id === id ? fresh : t));
      save();
      return fresh;
    },
    history(id) {
      const index = turns.findIndex((t) => t.id === id);
      return historyBefore(turns, index === -1 ? turns.length : index);
    },
    clear() {
      turns = [];
      save();
    },
  };
}
