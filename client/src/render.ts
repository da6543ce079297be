/**
 * DOM building. Everything here creates elements and sets text with `textContent`; corpus text
 * (titles, snippets, answers, documents) is data and never parsed as HTML. Attributes that could
 * run code or load things (`on*`, `style`, `href`, `src`) cannot be set through `el`.
 */
import type { Citation, Generator, Health, SourceRef } from "../../core/protocol.ts";
import { formatDate, type Segment, segmentAnswer } from "./answer-text.ts";
import { isActive, isGenerating, type Keep, type Turn } from "./conversation.ts";

export type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  text?: string;
  attrs?: Record<string, string | undefined>;
  on?: { [K in keyof HTMLElementEventMap]?: (ev: HTMLElementEventMap[K]) => void };
}

const UNSAFE_ATTR = /^(on|style$|href$|src$|srcdoc$|formaction$|action$)/i;

/** Creates an element with text, attributes, listeners and children (strings become text nodes). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (UNSAFE_ATTR.test(name)) throw new Error(`el: attribute "${name}" must not be set this way`);
    if (value !== undefined) node.setAttribute(name, value);
  }
  for (const [type, listener] of Object.entries(props.on ?? {})) {
    node.addEventListener(type, listener as EventListener);
  }
  if (props.text !== undefined) node.textContent = props.text;
  append(node, children);
  return node;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
}

/** Replaces the children of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

// ---- icons -------------------------------------------------------------------------------------

const ICONS = {
  send: "M4 12l16-8-6 16-2.5-6.5L4 12z",
  stop: "M7 7h10v10H7z",
  copy: "M9 9h10v11H9zM5 15V4h10",
  retry: "M4 12a8 8 0 1 0 2.3-5.6M4 4v4h4",
  plus: "M12 5v14M5 12h14",
  close: "M6 6l12 12M18 6L6 18",
  doc: "M7 3h7l5 5v13H7zM14 3v5h5",
  spark: "M12 3l1.8 5.2L19 10l-5.2 1.8L12 17l-1.8-5.2L5 10l5.2-1.8z",
  alert:
    "M12 8v5M12 16.5v.5M10.3 3.9L2.6 17.5A2 2 0 0 0 4.3 20.5h15.4a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z",
  search: "M11 4a7 7 0 1 0 0 14 7 7 0 0 0 0-14zM20 20l-4-4",
  link: "M14 4h6v6M20 4l-9 9M18 14v5H5V6h5",
  check: "M5 12.5l4.5 4.5L19 7",
} as const;

export type IconName = keyof typeof ICONS;

/** A decorative 24×24 stroke icon. */
export function icon(name: IconName, cls = "icon"): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", cls);
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name]);
  svg.appendChild(path);
  return svg;
}

// ---- empty state -------------------------------------------------------------------------------

const count = (n: number, one: string, many: string) =>
  `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;

/** What the corpus holds and a few questions to start with. */
export function renderEmptyState(
  health: Health | undefined,
  problem: string | undefined,
  onExample: (question: string) => void,
  /** Where files go and how to add them, shown when the index holds no document. */
  howto: HTMLElement,
): HTMLElement {
  const facts: string[] = [];
  if (health) {
    facts.push(count(health.documents, "document", "documents"), count(health.chunks, "passage", "passages"));
    if (health.dateRange) {
      const { from, to } = health.dateRange;
      facts.push(from === to ? formatDate(from) : `${formatDate(from)} – ${formatDate(to)}`);
    }
  }
  const examples = health?.examples ?? [];
  const nothing = health?.documents === 0;
  return el(
    "section",
    { class: "empty", attrs: { "aria-labelledby": "empty-title" } },
    el("div", { class: "empty-mark" }, icon("spark")),
    el("h1", {
      class: "empty-title",
      text: nothing ? "No documents yet" : "Ask your documents",
      attrs: { id: "empty-title" },
    }),
    nothing
      ? howto
      : el("p", {
          class: "empty-lede",
          text: "Answers are taken only from the indexed documents, and every sentence links to the passage it came from.",
        }),
    facts.length > 0 &&
      el(
        "ul",
        { class: "facts", attrs: { "aria-label": "What the corpus holds" } },
        ...facts.map((f) => el("li", { class: "fact", text: f })),
      ),
    problem && el("p", { class: "empty-problem", text: problem }),
    examples.length > 0 &&
      el(
        "div",
        { class: "examples" },
        el("h2", { class: "examples-title", text: "Try asking", attrs: { id: "examples-title" } }),
        el(
          "ul",
          { class: "example-list", attrs: { "aria-labelledby": "examples-title" } },
          ...examples.map((q) =>
            el(
              "li",
              {},
              el(
                "button",
                { class: "example", attrs: { type: "button" }, on: { click: () => onExample(q) } },
                icon("search"),
                el("span", { text: q }),
              ),
            ),
          ),
        ),
      ),
  );
}

// ---- turns -------------------------------------------------------------------------------------

/**
 * Errors about the question itself: asking it again unchanged fails the same way, so no Retry is
 * offered for them (the message says what to change).
 */
const FUTILE_RETRY = new Set([
  "QUESTION_TOO_LONG",
  "QUESTION_EMPTY",
  "HISTORY_TOO_LONG",
  "PAYLOAD_TOO_LARGE",
  "BAD_REQUEST",
  "BAD_JSON",
  "BAD_ENCODING",
  "BAD_FILTER",
  "BAD_AS_OF",
  "K_OUT_OF_RANGE",
  "UNKNOWN_FIELD",
]);

/** False when asking the turn's question again cannot go differently. */
export function canRetry(turn: Pick<Turn, "status" | "error">): boolean {
  return !(turn.status === "error" && turn.error && FUTILE_RETRY.has(turn.error.code));
}

/** What turn views need from the citation UI and the page. */
export interface TurnDeps {
  /** A chip for marker `[n]` found at answer offset `at`; `citations` of that answer, when not the extractive one's. */
  chip(turn: Turn, n: number, at: number, citations?: readonly Citation[]): HTMLElement;
  openSource(turn: Turn, source: SourceRef, opener: HTMLElement): void;
  copy(turn: Turn): Promise<boolean>;
  retry(turn: Turn): void;
  /** Keeps one of a turn's two answers; `undefined` shows both again. */
  keep(turn: Turn, choice: Keep | undefined): void;
  /** Stops the generated answer being written (the extractive one is complete). */
  stop(turn: Turn): void;
}

export interface TurnView {
  readonly root: HTMLElement;
  update(turn: Turn, isLast: boolean): void;
}

const STATUS_TEXT: Partial<Record<Turn["status"], string>> = {
  stopped: "Stopped",
  interrupted: "Interrupted",
};

/** Why no generated sentence was shown, after the quoted answer. */
const FALLBACK = {
  no_verified_sentence: "None of the model's sentences could be checked against the sources",
  timeout: "The model did not answer in time",
  provider_error: "The model could not be reached",
} as const;

const modelName = (g: Generator) =>
  `${g.model} (${g.provider === "llama" ? "in-process" : "OpenAI-compatible server"})`;

const sentences = (n: number) => `${n} sentence${n === 1 ? "" : "s"}`;

/** One question and its answer, updated in place as the answer streams in. */
export function createTurnView(initial: Turn, deps: TurnDeps): TurnView {
  const question = el("div", { class: "q-bubble" });
  const heading = el("h2", { class: "a-heading" });
  const sources = el("div", { class: "sources" });
  const body = el("div", { class: "a-body", attrs: { "aria-live": "polite" } });
  const short = el("p", { class: "a-short" });
  const status = el("div", { class: "a-status" });
  const actions = el("div", { class: "a-actions" });
  const meta = el("p", { class: "a-meta" });
  const origin = el("p", { class: "a-origin" });
  const genLabel = el("p", { class: "a-gen-label" });
  const genBody = el("div", { class: "a-gen-body", attrs: { "aria-live": "polite" } });
  const genNote = el("p", { class: "a-gen-note" });
  const genStop = el(
    "button",
    { class: "btn-ghost", attrs: { type: "button", "data-action": "stop-generating" } },
    icon("stop"),
    el("span", { text: "Stop writing" }),
  );
  const gen = el(
    "section",
    { class: "a-gen", attrs: { "aria-label": "Generated answer" } },
    genLabel,
    genBody,
    genNote,
    genStop,
  );
  const root = el(
    "article",
    { class: "turn" },
    el("div", { class: "q" }, el("h2", { class: "visually-hidden", text: "Question" }), question),
    el(
      "section",
      { class: "a", attrs: { "aria-label": "Answer" } },
      el("div", { class: "a-avatar" }, icon("spark")),
      el(
        "div",
        { class: "a-main" },
        heading,
        short,
        sources,
        origin,
        body,
        gen,
        status,
        el("div", { class: "a-foot" }, actions, meta),
      ),
    ),
  );

  let prev: Turn | undefined;
  let prevLast: boolean | undefined;
  let current = initial;

  const update = (turn: Turn, isLast: boolean) => {
    current = turn;
    root.dataset.turnId = turn.id;
    root.dataset.status = turn.status;
    root.classList.toggle("not-found", turn.notFound);
    root.classList.toggle("empty-range", turn.notFoundReason !== undefined);
    if (turn.question !== prev?.question) question.textContent = turn.question;
    if (turn.notFound !== prev?.notFound || turn.notFoundReason !== prev?.notFoundReason) {
      heading.textContent = !turn.notFound
        ? ""
        : turn.notFoundReason === "NO_DOCUMENTS_IN_RANGE"
          ? "No documents in this date range"
          : turn.notFoundReason === "NO_DOCUMENTS_BEFORE_AS_OF"
            ? "No documents this early"
            : "Not in the documents";
      heading.hidden = !turn.notFound;
      // A found answer leads with its sources; a not-found one with the explanation, then the
      // closest passages.
      if (turn.notFound) body.after(sources);
      else body.before(sources);
      // The label of the quoted answer sits right above it, below the sources.
      body.before(origin);
    }
    if (turn.sources !== prev?.sources || turn.notFound !== prev?.notFound) renderSources(turn);
    if (turn.shortAnswer !== prev?.shortAnswer || turn.notFound !== prev?.notFound) renderShort(turn);
    if (
      turn.answer !== prev?.answer ||
      turn.citations !== prev?.citations ||
      turn.status !== prev?.status ||
      turn.generator !== prev?.generator
    ) {
      renderBody(turn);
    }
    if (
      turn.generated !== prev?.generated ||
      turn.withheld !== prev?.withheld ||
      turn.status !== prev?.status ||
      turn.generation !== prev?.generation
    ) {
      renderGenerated(turn);
    }
    if (turn.keep !== prev?.keep) renderShort(turn);
    renderKept(turn);
    if (turn !== prev || isLast !== prevLast) {
      renderStatus(turn, isLast);
      renderActions(turn, isLast);
      renderMeta(turn);
      renderOrigin(turn);
    }
    prev = turn;
    prevLast = isLast;
  };

  // The short answer leads, in bold, above the sources and the cited sentence that is its evidence.
  const renderShort = (turn: Turn) => {
    const text = turn.notFound ? undefined : turn.shortAnswer?.text;
    short.hidden = text === undefined;
    if (text === undefined) return short.replaceChildren();
    replaceChildren(short, el("strong", { text }));
  };

  const renderSources = (turn: Turn) => {
    sources.hidden = turn.sources.length === 0;
    if (turn.sources.length === 0) return sources.replaceChildren();
    const title = turn.notFound ? "Closest passages" : "Sources";
    replaceChildren(
      sources,
      el("h3", { class: "sources-title", text: `${title} · ${turn.sources.length}` }),
      el(
        "ol",
        { class: "source-list" },
        // One card per document: its passages (numbered in a row by the server) under one title.
        ...groupByDocument(turn.sources).map((group) => {
          const buttons = group.map((s, i) => {
            const button = el(
              "button",
              {
                class: i === 0 ? "source" : "source source-more",
                attrs: {
                  type: "button",
                  "data-n": String(s.n),
                  "aria-label": `Open source ${s.n}: ${s.title}${s.date ? `, ${formatDate(s.date)}` : ""}`,
                  // The file name helps only now and then (two copies of a story): a tooltip, and in full in the panel.
                  title: `${s.title}\n${s.source}`,
                },
              },
              el(
                "span",
                { class: "source-top" },
                el("span", { class: "source-n", text: String(s.n) }),
                i === 0
                  ? el(
                      "span",
                      { class: "source-head" },
                      el("span", { class: "source-title", text: s.title }),
                      s.date && el("span", { class: "source-date", text: formatDate(s.date) }),
                      s.page !== undefined && el("span", { class: "source-page", text: `page ${s.page}` }),
                    )
                  : el("span", { class: "source-snippet", text: s.snippet }),
              ),
              ...(i === 0 ? [el("span", { class: "source-snippet", text: s.snippet })] : []),
            );
            button.addEventListener("click", () => deps.openSource(turn, s, button));
            return button;
          });
          return el("li", { class: group.length > 1 ? "source-doc grouped" : "source-doc" }, ...buttons);
        }),
      ),
    );
  };

  const renderBody = (turn: Turn) => {
    const writing = isActive(turn) && !isGenerating(turn);
    body.setAttribute("aria-busy", String(writing));
    // Keep keyboard focus on the same chip when the answer re-renders under it.
    const focused = document.activeElement;
    const focusAt = focused instanceof HTMLElement && body.contains(focused) ? focused.dataset.at : undefined;
    if (turn.answer === "" && isActive(turn)) {
      replaceChildren(
        body,
        el(
          "span",
          { class: "typing", attrs: { role: "status" } },
          el("span", {
            class: "visually-hidden",
            text: turn.status === "waiting" ? "Searching…" : "Writing…",
          }),
          el("span", { class: "dot" }),
          el("span", { class: "dot" }),
          el("span", { class: "dot" }),
        ),
      );
      return;
    }
    const segments = segmentAnswer(turn.answer, turn.sources.length, turn.citations);
    replaceChildren(body, el("p", { class: "a-text" }, ...segments.map((s) => segmentNode(turn, s))));
    if (writing) body.appendChild(el("span", { class: "caret", attrs: { "aria-hidden": "true" } }));
    if (focusAt !== undefined) body.querySelector<HTMLElement>(`[data-at="${focusAt}"]`)?.focus();
  };

  /**
   * The generated answer, below the extractive one: marked as the model's, each sentence shown
   * once the server verified it, with how many were withheld and why none was shown, if so.
   */
  const renderGenerated = (turn: Turn) => {
    const g = turn.generator;
    if (g === undefined) return;
    const writing = isGenerating(turn);
    const text = turn.generated?.answer ?? "";
    const citations = turn.generated?.citations ?? [];
    genLabel.textContent = writing
      ? `Writing with ${modelName(g)}: each sentence appears once it is checked against the passage it cites`
      : text !== ""
        ? `Generated by ${modelName(g)}; every sentence was checked against the passage it cites`
        : `Generated by ${modelName(g)}`;
    const focused = document.activeElement;
    const focusAt =
      focused instanceof HTMLElement && genBody.contains(focused) ? focused.dataset.at : undefined;
    genBody.setAttribute("aria-busy", String(writing));
    const parts: Child[] = [];
    if (text !== "") {
      const segments = segmentAnswer(text, turn.sources.length, citations);
      parts.push(el("p", { class: "a-text" }, ...segments.map((s) => segmentNode(turn, s, citations))));
    }
    if (writing) {
      parts.push(
        el(
          "span",
          { class: "typing", attrs: { role: "status" } },
          el("span", { class: "visually-hidden", text: "Writing…" }),
          el("span", { class: "dot" }),
          el("span", { class: "dot" }),
          el("span", { class: "dot" }),
        ),
      );
    }
    replaceChildren(genBody, ...parts);
    genBody.hidden = parts.length === 0;
    if (focusAt !== undefined) genBody.querySelector<HTMLElement>(`[data-at="${focusAt}"]`)?.focus();
    const withheld = turn.withheld ?? turn.generation?.rejected ?? 0;
    const notes: string[] = [];
    if (!writing && text === "") {
      const fallback = turn.generation?.fallback;
      notes.push(
        turn.status === "done" && fallback
          ? `${FALLBACK[fallback]}; the quoted answer above stands.`
          : "No generated sentence was shown; the quoted answer above stands.",
      );
    }
    if (withheld > 0) {
      notes.push(
        `${sentences(withheld)} withheld: not supported by the passage${withheld === 1 ? "" : "s"} cited.`,
      );
    }
    if (turn.generation?.stopped) notes.push(`${FALLBACK[turn.generation.stopped]} to finish.`);
    genNote.textContent = notes.join(" ");
    genNote.hidden = notes.length === 0;
    genStop.hidden = !writing;
  };
  genStop.addEventListener("click", () => deps.stop(current));

  /** A kept answer hides the other one (and the short answer goes with the extractive one). */
  const renderKept = (turn: Turn) => {
    const keep = keptChoice(turn);
    root.dataset.keep = keep ?? "both";
    body.hidden = keep === "generated";
    short.hidden = short.hidden || keep === "generated";
    gen.hidden = turn.generator === undefined || turn.notFound || keep === "extractive";
  };

  const segmentNode = (turn: Turn, s: Segment, citations?: readonly Citation[]): Node => {
    if (s.kind === "marker") return deps.chip(turn, s.n, s.start, citations);
    if (s.sentence === undefined) return document.createTextNode(s.text);
    return el("span", { class: "cited", text: s.text, attrs: { "data-sentence": String(s.sentence) } });
  };

  const renderStatus = (turn: Turn, isLast: boolean) => {
    const parts: Child[] = [];
    if (turn.status === "waiting") {
      // Shown by the stylesheet only while the page is not connected.
      parts.push(
        el("p", {
          class: "notice waiting-note",
          text: "Waiting for the connection; the question is sent as soon as it is back.",
        }),
      );
    } else if (turn.status === "stopped" || turn.status === "interrupted") {
      // With a generated answer following, the quoted one was complete before it began.
      const after = turn.generator !== undefined;
      const why =
        turn.status === "stopped"
          ? after
            ? "You stopped the generated answer; the quoted answer is complete."
            : "You stopped this answer."
          : after
            ? "The connection dropped before the generated answer finished; the quoted answer is complete."
            : "The connection dropped before the answer finished.";
      parts.push(
        el(
          "p",
          { class: `notice notice-${turn.status}` },
          el("strong", { class: "badge", text: STATUS_TEXT[turn.status] ?? turn.status }),
          el("span", { text: ` ${why}${isLast ? " Retry to ask again." : ""}` }),
        ),
      );
    } else if (turn.status === "error" && turn.error) {
      const { code, message, retryAfterS } = turn.error;
      const hint =
        retryAfterS !== undefined
          ? `Try again in about ${Math.max(1, Math.ceil(retryAfterS))} s.`
          : code === "BUSY" || code === "RATE_LIMITED"
            ? "Try again in a moment."
            : "";
      parts.push(
        el(
          "div",
          { class: "notice notice-error", attrs: { role: "alert" } },
          icon("alert"),
          el(
            "p",
            {},
            el("code", { class: "error-code", text: code }),
            el("span", { text: ` ${message}` }),
            hint && el("span", { class: "error-hint", text: ` ${hint}` }),
          ),
        ),
      );
    }
    replaceChildren(status, ...parts);
    status.hidden = parts.length === 0;
  };

  const renderActions = (turn: Turn, isLast: boolean) => {
    const buttons: Child[] = [];
    // Rebuilt on every update: the focused button is focused again in its new form.
    const focused = document.activeElement;
    const refocus =
      focused instanceof HTMLElement && actions.contains(focused)
        ? (focused.dataset.keep ?? focused.dataset.action)
        : undefined;
    if (turn.generated?.answer && !isActive(turn) && !turn.notFound) {
      const keep = keptChoice(turn);
      const choice = (value: Keep, label: string, hint: string) =>
        el(
          "button",
          {
            class: "btn-ghost keep-choice",
            attrs: {
              type: "button",
              "data-keep": value,
              "aria-pressed": String(keep === value),
              title: keep === value ? "Show both answers again" : hint,
            },
            on: { click: () => deps.keep(turn, keep === value ? undefined : value) },
          },
          icon(keep === value ? "check" : value === "generated" ? "spark" : "doc"),
          el("span", { text: label }),
        );
      buttons.push(
        el(
          "div",
          { class: "keep", attrs: { role: "group", "aria-label": "Which answer to keep" } },
          choice(
            "extractive",
            "Keep quoted",
            "Keep the answer quoted from the sources; hide the generated one",
          ),
          choice("generated", "Keep generated", "Keep the generated answer; hide the quoted one"),
        ),
      );
    }
    if (turn.answer.trim() !== "" && (!isActive(turn) || isGenerating(turn))) {
      const copy = el(
        "button",
        { class: "btn-ghost", attrs: { type: "button", "data-action": "copy" } },
        icon("copy"),
        el("span", { text: "Copy" }),
      );
      copy.addEventListener("click", async () => {
        const ok = await deps.copy(turn);
        const label = copy.querySelector("span");
        if (label) label.textContent = ok ? "Copied" : "Copy failed";
        setTimeout(() => {
          if (label) label.textContent = "Copy";
        }, 2000);
      });
      buttons.push(copy);
    }
    if (isLast && !isActive(turn) && canRetry(turn)) {
      buttons.push(
        el(
          "button",
          {
            class: turn.status === "done" ? "btn-ghost" : "btn-ghost btn-emph",
            attrs: { type: "button", "data-action": "retry" },
            on: { click: () => deps.retry(turn) },
          },
          icon("retry"),
          el("span", { text: "Retry" }),
        ),
      );
    }
    replaceChildren(actions, ...buttons);
    if (refocus !== undefined) {
      actions.querySelector<HTMLElement>(`[data-keep="${refocus}"], [data-action="${refocus}"]`)?.focus();
    }
  };

  const renderMeta = (turn: Turn) => {
    const bits: string[] = [];
    if (turn.query) bits.push(`Searched for “${turn.query}”`);
    const took = (ms: number) =>
      ms < 1000 ? `${Math.max(1, Math.round(ms))} ms` : `${(ms / 1000).toFixed(1)} s`;
    if (turn.status === "done" && turn.timings) {
      // With a generated answer, how soon the quoted one came matters as much as the whole.
      bits.push(
        turn.generator
          ? `quoted in ${took(turn.timings.firstDeltaMs)}, generated in ${took(turn.timings.totalMs)}`
          : took(turn.timings.totalMs),
      );
    }
    meta.textContent = bits.join(" · ");
    meta.hidden = bits.length === 0;
  };

  /**
   * With a generated answer following, the quoted one is labelled as such, so the two read as
   * different things; `generated` on the turn says whether the model's text was shown.
   */
  const renderOrigin = (turn: Turn) => {
    const g = turn.generation;
    root.classList.toggle("generated", g?.mode === "generated");
    root.classList.toggle("extractive", g?.mode === "extractive");
    origin.hidden = turn.generator === undefined || turn.notFound || keptChoice(turn) === "generated";
    origin.textContent = "Quoted from the sources";
  };

  update(initial, false);
  return { root, update };
}

/** The answer kept, when the turn has two to choose from. */
function keptChoice(turn: Turn): Keep | undefined {
  const both = turn.generated !== undefined && turn.generated.answer !== "" && !turn.notFound;
  return both ? turn.keep : undefined;
}

/** Sources in runs of one document each: the server numbers a document's passages in a row. */
export function groupByDocument(sources: readonly SourceRef[]): SourceRef[][] {
  const groups: SourceRef[][] = [];
  for (const s of sources) {
    const last = groups[groups.length - 1];
    if (last && last[0]!.docId === s.docId) last.push(s);
    else groups.push([s]);
  }
  return groups;
}
