/**
 * Citation chips, the card a chip shows on hover or focus, and the source panel that opens the
 * whole document with the cited sentence (or the retrieved passage) highlighted. The highlight is
 * cut from the document text by the citation's offsets, never found by searching.
 */
import type { Citation, DocumentBody, SourceRef } from "../../core/protocol.ts";
import { citationForMarker, formatDate, safeHref, snippetWindow } from "./answer-text.ts";
import { ApiError, fetchDocument } from "./api.ts";
import type { Turn } from "./conversation.ts";
import { el, icon, replaceChildren } from "./render.ts";

export interface CitationUiDeps {
  getToken(): string | undefined;
}

export interface CitationUi {
  /**
   * The chip for marker `[n]` at offset `at` of an answer whose citations are `citations` (the
   * turn's extractive ones unless given: a generated answer has its own).
   */
  chip(turn: Turn, n: number, at: number, citations?: readonly Citation[]): HTMLElement;
  /** Opens the panel on `source`, highlighting `citation` when given, else the passage. */
  open(source: SourceRef, citation: Citation | undefined, opener: HTMLElement): void;
  close(): void;
}

interface Highlight {
  start: number;
  end: number;
  /** The text the offsets should cut out; a mismatch means the document changed since. */
  expect: string;
}

const CARD_DELAY_MS = 120;

export function createCitationUi(deps: CitationUiDeps): CitationUi {
  const docs = new Map<string, Promise<DocumentBody>>();
  const loadDoc = (id: string): Promise<DocumentBody> => {
    let p = docs.get(id);
    if (!p) {
      p = fetchDocument(id, deps.getToken());
      docs.set(id, p);
      p.catch(() => docs.delete(id));
    }
    return p;
  };

  // ---- hover / focus card ----------------------------------------------------------------------

  const card = el("div", { class: "cite-card", attrs: { id: "cite-card", role: "tooltip" } });
  card.hidden = true;
  document.body.appendChild(card);
  let cardAnchor: HTMLElement | undefined;
  let cardTimer: ReturnType<typeof setTimeout> | undefined;
  /** Focus handed back to a chip when the panel closes: no card then, it would cover the page. */
  let returningFocus = false;

  const showCard = (chip: HTMLElement, source: SourceRef, citation: Citation | undefined) => {
    clearTimeout(cardTimer);
    const range = citation
      ? snippetWindow(source.snippet, citation.start - source.start, citation.end - source.start, 90)
      : snippetWindow(source.snippet, 0, 0, 120);
    replaceChildren(
      card,
      el(
        "div",
        { class: "cite-card-head" },
        el("span", { class: "source-n", text: String(source.n) }),
        el("span", { class: "cite-card-title", text: source.title }),
      ),
      // The date and page, not the file name: that is in the panel, where the whole document is.
      (source.date !== undefined || pageOf(source, citation) !== undefined) &&
        el("p", {
          class: "cite-card-meta",
          text: [source.date && formatDate(source.date), pageLabel(pageOf(source, citation))]
            .filter(Boolean)
            .join(" · "),
        }),
      el(
        "p",
        { class: "cite-card-snippet" },
        range.clippedStart && "…",
        range.before,
        range.match && el("mark", { text: range.match }),
        range.after,
        range.clippedEnd && "…",
      ),
      el("p", { class: "cite-card-hint", text: "Click or press Enter to open the document" }),
    );
    cardAnchor?.removeAttribute("aria-describedby");
    cardAnchor = chip;
    chip.setAttribute("aria-describedby", "cite-card");
    card.hidden = false;
    placeCard(chip);
  };

  const placeCard = (chip: HTMLElement) => {
    const r = chip.getBoundingClientRect();
    const w = card.offsetWidth;
    const h = card.offsetHeight;
    const margin = 12;
    const left = Math.min(Math.max(margin, r.left + r.width / 2 - w / 2), window.innerWidth - w - margin);
    const below = r.bottom + 8;
    const top = below + h + margin > window.innerHeight && r.top - h - 8 > margin ? r.top - h - 8 : below;
    // CSSOM positioning is allowed under style-src 'self'; style attributes would not be.
    card.style.left = `${Math.round(left)}px`;
    card.style.top = `${Math.round(top)}px`;
  };

  const hideCard = () => {
    clearTimeout(cardTimer);
    card.hidden = true;
    cardAnchor?.removeAttribute("aria-describedby");
    cardAnchor = undefined;
  };
  // Follow the chip when the page scrolls (focus scrolls it into view after the card opened).
  let placing = false;
  const follow = () => {
    if (card.hidden || placing) return;
    placing = true;
    requestAnimationFrame(() => {
      placing = false;
      if (cardAnchor?.isConnected) placeCard(cardAnchor);
      else hideCard();
    });
  };
  window.addEventListener("scroll", follow, { passive: true, capture: true });
  window.addEventListener("resize", follow);

  // ---- source panel ----------------------------------------------------------------------------

  const kicker = el("p", { class: "panel-kicker" });
  const title = el("h2", { class: "panel-title", attrs: { id: "panel-title" } });
  const meta = el("p", { class: "panel-meta" });
  const closeButton = el(
    "button",
    { class: "icon-btn", attrs: { type: "button", "aria-label": "Close source" } },
    icon("close"),
  );
  const content = el("div", { class: "panel-body" });
  const panel = el(
    "aside",
    {
      class: "panel",
      attrs: {
        id: "source-panel",
        role: "dialog",
        "aria-modal": "false",
        "aria-labelledby": "panel-title",
        tabindex: "-1",
      },
    },
    el(
      "header",
      { class: "panel-head" },
      el("div", { class: "panel-heading" }, kicker, title, meta),
      closeButton,
    ),
    content,
  );
  const scrim = el("div", { class: "scrim" });
  panel.hidden = true;
  scrim.hidden = true;
  document.body.append(scrim, panel);
  let opener: HTMLElement | undefined;
  let openSeq = 0;

  const close = () => {
    if (panel.hidden) return;
    openSeq += 1;
    panel.hidden = true;
    scrim.hidden = true;
    document.body.classList.remove("panel-open");
    const back = opener;
    opener = undefined;
    returningFocus = true;
    if (back?.isConnected) back.focus();
    else document.getElementById("question")?.focus();
    returningFocus = false;
  };
  closeButton.addEventListener("click", close);
  scrim.addEventListener("click", close);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Tab" && !panel.hidden) {
      trapFocus(ev);
      return;
    }
    if (ev.key !== "Escape") return;
    if (!card.hidden) {
      // Handled: the page's own Escape (stopping an answer) waits for the next press.
      ev.preventDefault();
      hideCard();
      if (panel.hidden) return;
    }
    if (!panel.hidden) {
      ev.preventDefault();
      close();
    }
  });
  /** Tab and Shift+Tab cycle through the open panel's controls, never the dimmed page behind it. */
  const trapFocus = (ev: KeyboardEvent) => {
    const items = [
      ...panel.querySelectorAll<HTMLElement>(
        'a[href], button:not([disabled]), input, textarea, select, [tabindex]:not([tabindex="-1"])',
      ),
    ].filter((e) => !e.hidden && e.getClientRects().length > 0);
    const first = items[0];
    const last = items.at(-1);
    if (!first || !last) return;
    const active = document.activeElement;
    const inside = active instanceof Node && panel.contains(active);
    if (ev.shiftKey ? !inside || active === first : !inside || active === last) {
      ev.preventDefault();
      (ev.shiftKey ? last : first).focus();
    }
  };

  const open = (source: SourceRef, citation: Citation | undefined, from: HTMLElement) => {
    hideCard();
    const seq = ++openSeq;
    opener = from;
    const highlight: Highlight = citation
      ? { start: citation.start, end: citation.end, expect: citation.text }
      : { start: source.start, end: source.end, expect: source.snippet };
    kicker.textContent = citation ? `Source ${source.n} · cited sentence` : `Source ${source.n} · passage`;
    title.textContent = source.title;
    const page = pageOf(source, citation);
    renderMeta(source.date, source.source, source.url, page);
    replaceChildren(content, el("p", { class: "panel-loading", text: "Loading the document…" }));
    panel.hidden = false;
    scrim.hidden = false;
    document.body.classList.add("panel-open");
    closeButton.focus({ preventScroll: true });
    loadDoc(source.docId).then(
      (doc) => {
        if (seq !== openSeq) return;
        title.textContent = doc.title;
        renderMeta(doc.date, doc.source, doc.url, page);
        renderDocument(doc, highlight);
      },
      (err: unknown) => {
        if (seq !== openSeq) return;
        const why =
          err instanceof ApiError ? `${err.code}: ${err.message}` : "the document could not be loaded";
        replaceChildren(
          content,
          el("p", { class: "notice notice-error", text: `Could not load the whole document (${why}).` }),
          el("h3", { class: "panel-sub", text: "Retrieved passage" }),
          el("div", { class: "doc-text" }, source.snippet),
        );
      },
    );
  };

  const renderMeta = (date: string | undefined, file: string, url: string | undefined, page?: number) => {
    const href = url ? safeHref(url) : undefined;
    replaceChildren(
      meta,
      date && el("span", { text: formatDate(date) }),
      el("span", { text: file }),
      page !== undefined && el("span", { class: "panel-page", text: pageLabel(page) }),
      href ? link(href) : url && el("span", { class: "url-text", text: url }),
    );
  };

  const link = (href: string): HTMLAnchorElement => {
    const a = el(
      "a",
      { class: "panel-link", attrs: { target: "_blank", rel: "noopener noreferrer" } },
      "Original",
    );
    a.href = href; // only ever an http(s) URL, checked by safeHref
    a.appendChild(icon("link"));
    return a;
  };

  const renderDocument = (doc: DocumentBody, h: Highlight) => {
    const text = doc.text;
    const fits =
      h.start >= 0 && h.end <= text.length && h.start < h.end && text.slice(h.start, h.end) === h.expect;
    if (!fits) {
      replaceChildren(
        content,
        el("p", {
          class: "notice notice-interrupted",
          text: "This document changed after the answer was written, so the cited passage cannot be marked.",
        }),
        el("div", { class: "doc-text" }, text),
      );
      return;
    }
    const mark = el("mark", { class: "doc-mark", text: text.slice(h.start, h.end) });
    replaceChildren(
      content,
      el("div", { class: "doc-text" }, text.slice(0, h.start), mark, text.slice(h.end)),
    );
    requestAnimationFrame(() => mark.scrollIntoView({ block: "center" }));
  };

  // ---- chips ---------------------------------------------------------------------------------

  const chip = (turn: Turn, n: number, at: number, citations = turn.citations): HTMLElement => {
    const source = turn.sources[n - 1];
    // Citations arrive with the answer complete (done, or extractive when a generated one follows).
    const citation = citations.length > 0 ? citationForMarker(citations, n, at) : undefined;
    const page = source ? pageOf(source, citation) : undefined;
    const label = source
      ? `Source ${n}: ${source.title}${page ? `, ${pageLabel(page)}` : ""}`
      : `Source ${n}`;
    const button = el(
      "button",
      {
        class: "chip",
        attrs: { type: "button", "aria-label": label, "data-n": String(n), "data-at": String(at) },
      },
      String(n),
      page !== undefined && el("span", { class: "chip-page", text: ` p. ${page}` }),
    );
    if (!source) return button;
    const sentence = citation ? String(citation.answerStart) : undefined;
    const lightSentence = (on: boolean) => {
      if (sentence === undefined) return;
      const root = button.closest(".a-body, .a-gen-body");
      for (const s of root?.querySelectorAll<HTMLElement>(`[data-sentence="${sentence}"]`) ?? []) {
        s.classList.toggle("lit", on);
      }
    };
    button.addEventListener("pointerenter", (ev) => {
      if (ev.pointerType !== "mouse") return;
      lightSentence(true);
      clearTimeout(cardTimer);
      cardTimer = setTimeout(() => showCard(button, source, citation), CARD_DELAY_MS);
    });
    button.addEventListener("pointerleave", () => {
      lightSentence(false);
      if (document.activeElement !== button) hideCard();
    });
    button.addEventListener("focus", () => {
      lightSentence(true);
      if (!returningFocus) showCard(button, source, citation);
    });
    button.addEventListener("blur", () => {
      lightSentence(false);
      hideCard();
    });
    button.addEventListener("click", () => open(source, citation, button));
    return button;
  };

  return { chip, open, close };
}

/** The page a citation's sentence (or else its passage) starts on, for paginated documents. */
function pageOf(source: SourceRef, citation: Citation | undefined): number | undefined {
  return citation?.page ?? source.page;
}

function pageLabel(page: number | undefined): string {
  return page === undefined ? "" : `page ${page}`;
}
