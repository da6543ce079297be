import { describe, expect, it } from "vitest";
import { citationForMarker } from "../../client/src/answer-text.ts";
import { useBrowserApp } from "./fixture.ts";
import { ask, doneFrame, lastTurn, SEED_TITLE, TIMEOUT, waitForConnected, waitForStatus } from "./harness.ts";

const QUESTION = "Who is China's foreign minister?";

describe("asking a question in the page", { timeout: TIMEOUT }, () => {
  const fx = useBrowserApp({ config: { streamDelayMs: 20 } });

  it("shows what the corpus holds and its example questions before anything is asked", async () => {
    const open = await fx.open();
    const { page } = open;
    await expect(page.locator(".empty-title").textContent()).resolves.toBe("Ask your documents");
    await page.locator(".fact").first().waitFor();
    await expect(page.locator(".fact").allTextContents()).resolves.toEqual([
      "1 document",
      expect.stringMatching(/^\d+ passages?$/),
      "Dec 9, 2024",
    ]);
    const example = page.locator("button.example").first();
    const text = (await example.textContent()) ?? "";
    // Phrased from the article's lead (its speaker), and checked against the index by the server.
    expect(text).toBe("What did Foreign Minister Wang Yi say?");
    await example.click();
    await waitForStatus(page);
    await expect(page.locator(".q-bubble").textContent()).resolves.toBe(text);
    await expect(page.locator(".empty").count()).resolves.toBe(0);
  });

  it("streams a cited answer and opens the cited sentence highlighted in the source panel", async () => {
    const open = await fx.open();
    const { page, log } = open;
    await waitForConnected(page);
    await ask(page, QUESTION);
    // Sources arrive before the answer is complete.
    await lastTurn(page).locator(".source").first().waitFor();
    await waitForStatus(page);
    const done = doneFrame(log);
    const body = lastTurn(page).locator(".a-body");
    await expect(body.textContent()).resolves.toContain("Wang Yi");
    await expect(body.getAttribute("aria-live")).resolves.toBe("polite");

    const chip = body.locator("button.chip").first();
    const n = Number(await chip.getAttribute("data-n"));
    const at = Number(await chip.getAttribute("data-at"));
    const cited = citationForMarker(done.citations, n, at);
    expect(cited?.text).toContain("Wang Yi");

    await chip.hover();
    const card = page.locator("#cite-card");
    await card.waitFor();
    await expect(card.textContent()).resolves.toContain(SEED_TITLE);
    await expect(card.locator("mark").textContent()).resolves.toBe(cited?.text);

    await chip.click();
    const panel = page.locator("#source-panel");
    const mark = panel.locator("mark");
    await mark.waitFor();
    await expect(mark.textContent()).resolves.toBe(cited?.text);
    await expect(panel.locator(".panel-title").textContent()).resolves.toBe(SEED_TITLE);
    // The mark is scrolled into the panel's view.
    const visible = await mark.evaluate((m) => {
      const r = m.getBoundingClientRect();
      const p = m.closest(".panel-body")?.getBoundingClientRect();
      return p !== undefined && r.top >= p.top && r.bottom <= p.bottom;
    });
    expect(visible).toBe(true);

    await page.keyboard.press("Escape");
    await panel.waitFor({ state: "hidden" });
    await expect(chip.evaluate((c) => c === document.activeElement)).resolves.toBe(true);
  });

  it("shows the short answer first, in bold, above the cited sentence that holds it", async () => {
    const open = await fx.open();
    const { page, log } = open;
    await ask(page, "Where was the Hernán Santa Cruz Dialogue held?");
    await waitForStatus(page);
    const done = doneFrame(log);
    expect(done.shortAnswer?.text).toBe("Hangzhou");
    const doc = await (
      await fetch(`${fx.app.url}/api/documents/${encodeURIComponent(done.shortAnswer!.docId)}`)
    ).json();
    expect(doc.text.slice(done.shortAnswer!.start, done.shortAnswer!.end)).toBe("Hangzhou");
    const turn = lastTurn(page);
    await expect(turn.locator(".a-short strong").textContent()).resolves.toBe("Hangzhou");
    await expect(turn.locator(".a-body").textContent()).resolves.toContain("Hangzhou");
    const order = await turn.evaluate((t) => {
      const short = t.querySelector(".a-short");
      const body = t.querySelector(".a-body");
      return short && body ? short.compareDocumentPosition(body) & Node.DOCUMENT_POSITION_FOLLOWING : 0;
    });
    expect(order).toBeGreaterThan(0);
  });

  it("gives an acronym's whole expansion as the short answer, never a list cut short", async () => {
    const open = await fx.open();
    const { page, log } = open;
    await ask(page, "What does ESCR stand for?");
    await waitForStatus(page);
    // The reader's span starts at "Social"; a short answer is the whole list or nothing.
    const short = doneFrame(log).shortAnswer;
    if (short) {
      expect(short.text).toBe("Economic, Social and Cultural Rights");
      await expect(lastTurn(page).locator(".a-short strong").textContent()).resolves.toBe(short.text);
    } else {
      await expect(lastTurn(page).locator(".a-short").isHidden()).resolves.toBe(true);
    }
  });

  it("opens a source from the source list with its passage highlighted", async () => {
    const open = await fx.open();
    const { page, log } = open;
    await ask(page, QUESTION);
    await waitForStatus(page);
    const sources = log.received.find((m) => m.type === "sources");
    if (sources?.type !== "sources") throw new Error("no sources frame");
    await lastTurn(page).locator('.source[data-n="1"]').click();
    const mark = page.locator("#source-panel mark");
    await mark.waitFor();
    await expect(mark.textContent()).resolves.toBe(sources.sources[0]?.snippet);
    await page.locator('#source-panel button[aria-label="Close source"]').click();
    await page.locator("#source-panel").waitFor({ state: "hidden" });
  });

  it("sends the earlier turns as history with a follow-up question", async () => {
    const open = await fx.open();
    const { page, log } = open;
    await ask(page, QUESTION);
    await waitForStatus(page);
    const first = doneFrame(log, 0);
    await ask(page, "What else did he say?");
    await waitForStatus(page);
    const asks = log.sent.filter((m) => m.type === "ask");
    expect(asks).toHaveLength(2);
    expect(asks[0]).not.toHaveProperty("history");
    expect(asks[1]).toMatchObject({
      question: "What else did he say?",
      history: [
        { role: "user", text: QUESTION },
        { role: "assistant", text: first.answer },
      ],
    });
    await expect(page.locator(".turn").count()).resolves.toBe(2);
    // Retry sits on the last turn only.
    await expect(page.locator('.turn:first-child [data-action="retry"]').count()).resolves.toBe(0);
    await expect(page.locator('.turn:last-child [data-action="retry"]').count()).resolves.toBe(1);
  });

  it("keeps the conversation, with working citations, across a reload", async () => {
    const open = await fx.open();
    const { page, log } = open;
    await ask(page, QUESTION);
    await waitForStatus(page);
    const done = doneFrame(log);
    const before = await page.locator(".a-body").textContent();
    await page.reload();
    await waitForConnected(page);
    await expect(page.locator(".turn").count()).resolves.toBe(1);
    await expect(page.locator(".q-bubble").textContent()).resolves.toBe(QUESTION);
    await expect(page.locator(".a-body").textContent()).resolves.toBe(before);
    await page.locator(".a-body button.chip").first().click();
    await expect(page.locator("#source-panel mark").textContent()).resolves.toBe(done.citations[0]?.text);
  });

  it("copies the answer with a numbered source list", async () => {
    const open = await fx.open();
    const { page, log } = open;
    await ask(page, QUESTION);
    await waitForStatus(page);
    const done = doneFrame(log);
    await lastTurn(page).locator('[data-action="copy"]').click();
    await lastTurn(page).getByText("Copied").waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toBe(`${done.answer}\n\nSources:\n[1] ${SEED_TITLE} (2024-12-09)\n`);
  });

  it("marks an answer the documents do not hold and shows the closest passages", async () => {
    const open = await fx.open();
    const { page, log } = open;
    await ask(page, "What is the boiling point of mercury?");
    await waitForStatus(page);
    const turn = lastTurn(page);
    await expect(turn.getAttribute("class")).resolves.toContain("not-found");
    await expect(turn.locator(".a-heading").textContent()).resolves.toBe("Not in the documents");
    await expect(turn.locator(".sources-title").textContent()).resolves.toMatch(/^Closest passages · \d+$/);
    await expect(turn.locator(".source").count()).resolves.toBeGreaterThan(0);
    // Passages of one document share one card, with the title shown once.
    const frame = log.received.find((m) => m.type === "sources");
    if (frame?.type !== "sources") throw new Error("no sources frame");
    const docs = new Set(frame.sources.map((s) => s.docId)).size;
    await expect(turn.locator(".source").count()).resolves.toBe(frame.sources.length);
    await expect(turn.locator(".source-doc").count()).resolves.toBe(docs);
    await expect(turn.locator(".source-title").count()).resolves.toBe(docs);
  });

  it("starts a new conversation that forgets the old one", async () => {
    const open = await fx.open();
    const { page } = open;
    await ask(page, QUESTION);
    await waitForStatus(page);
    await page.locator("#new-chat").click();
    await page.locator(".empty").waitFor();
    await expect(page.locator(".turn").count()).resolves.toBe(0);
    await page.reload();
    await page.locator(".empty").waitFor();
    await expect(page.locator(".turn").count()).resolves.toBe(0);
  });

  it("shows a server error inline with its code and message, without a futile Retry", async () => {
    // The page checks the length itself once /api/health has said the limit: hide the limit, so
    // the question reaches the server and its refusal is what the page shows.
    const open = await fx.open({
      setup: async (context) => {
        await context.route("**/api/health", async (route) => {
          const res = await route.fetch();
          const { limits: _limits, ...body } = (await res.json()) as Record<string, unknown>;
          await route.fulfill({ response: res, json: body });
        });
      },
    });
    const { page } = open;
    await waitForConnected(page);
    await ask(page, "x".repeat(fx.app.config.maxQuestionChars + 1));
    await waitForStatus(page, "error");
    const notice = lastTurn(page).locator(".notice-error");
    await expect(notice.locator(".error-code").textContent()).resolves.toBe("QUESTION_TOO_LONG");
    await expect(notice.textContent()).resolves.toContain(String(fx.app.config.maxQuestionChars).slice(0, 1));
    // Asking the same question again can only fail the same way.
    await expect(lastTurn(page).locator('[data-action="retry"]').count()).resolves.toBe(0);
  });
});
