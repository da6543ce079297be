/**
 * The page for a corpus that is not a news archive, or not there yet: its wording, starter
 * questions made from notes, the empty-corpus state, the question length limit shown before
 * sending, and the keyboard (focus after a starter, the open source panel keeping focus, Escape
 * stopping an answer). Real Chromium against a real server.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { canRetry } from "../../client/src/render.ts";
import { useBrowserApp } from "./fixture.ts";
import { lastTurn, TIMEOUT, waitForConnected, waitForStatus } from "./harness.ts";

const NOTES = `${[
  {
    id: "allotment-spring",
    title: "Allotment notes, spring 2025",
    date: "2025-04-20",
    text: "Sowed broad beans along the north fence of the allotment in March. The rhubarb on the allotment came up early after the mild winter. Slugs took most of the lettuce seedlings in April.",
  },
  {
    id: "boiler-service",
    title: "Boiler service record",
    date: "2025-03-02",
    text: "The boiler service was done by Kettering Heating on 2 March. The engineer replaced the boiler's pressure relief valve. The next boiler service is due in March 2026.",
  },
]
  .map((r) => JSON.stringify(r))
  .join("\n")}\n`;

const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    return el
      ? { id: el.id, tag: el.tagName.toLowerCase(), inPanel: el.closest("#source-panel") !== null }
      : null;
  });

describe("a corpus of notes", { timeout: TIMEOUT }, () => {
  const fx = useBrowserApp({
    docs: { "notes.jsonl": NOTES },
    // Paced slowly enough that a short answer (a few pieces) is seen streaming on a loaded
    // machine: at 150 ms a piece, CI once saw it go to "done" without ever finding it streaming.
    config: { streamDelayMs: 400, maxQuestionChars: 80 },
  });

  it("speaks of documents, not news, and offers starter questions made from the notes that are answered", async () => {
    const { page } = await fx.open();
    await expect(page.locator(".empty-title").textContent()).resolves.toBe("Ask your documents");
    const lede = await page.locator(".empty-lede").textContent();
    expect(lede).toContain("indexed documents");
    expect(await page.locator("body").textContent()).not.toMatch(/news|articles/i);
    const examples = page.locator("button.example");
    await examples.first().waitFor();
    const texts = await examples.allTextContents();
    expect(texts.some((t) => /Allotment notes, spring 2025|Boiler service record/.test(t))).toBe(true);
  });

  it("keeps focus in the question box after a starter question is picked with Enter", async () => {
    const { page } = await fx.open();
    await waitForConnected(page);
    const example = page.locator("button.example").first();
    await example.waitFor();
    await example.focus();
    await page.keyboard.press("Enter");
    await page.locator(".turn").first().waitFor();
    await expect(focused(page)).resolves.toMatchObject({ id: "question" });
    await waitForStatus(page);
  });

  it("keeps the keyboard on a starter question when the documents list arrives after it", async () => {
    // The page shows the starters with the health, then renders the empty state again when the
    // documents list comes: hold the list until a starter has the focus.
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let asked = 0;
    const { page } = await fx.open({
      setup: async (context) => {
        await context.route("**/api/documents*", async (route) => {
          asked++;
          await held;
          await route.continue();
        });
      },
    });
    await waitForConnected(page);
    const example = page.locator("button.example").first();
    await example.waitFor();
    await example.focus();
    const first = await example.elementHandle();
    await expect.poll(() => asked, { timeout: TIMEOUT }).toBeGreaterThan(0);
    release();
    await page.waitForFunction((el) => el !== null && !el.isConnected, first, { timeout: TIMEOUT });
    await expect(
      page.evaluate(() => document.activeElement?.classList.contains("example") ?? false),
    ).resolves.toBe(true);
    await page.keyboard.press("Enter");
    await page.locator(".turn").first().waitFor();
    await expect(focused(page)).resolves.toMatchObject({ id: "question" });
    await waitForStatus(page);
  });

  it("keeps Tab inside the open source panel, both ways", async () => {
    const { page } = await fx.open();
    await waitForConnected(page);
    await page.locator("#question").fill("When is the next boiler service due?");
    await page.locator("#question").press("Enter");
    await waitForStatus(page);
    await lastTurn(page).locator("button.chip").first().click();
    await page.locator("#source-panel mark").waitFor();
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press("Tab");
      await expect(focused(page)).resolves.toMatchObject({ inPanel: true });
    }
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press("Shift+Tab");
      await expect(focused(page)).resolves.toMatchObject({ inPanel: true });
    }
    // Escape closes the panel (and does not stop or change anything else).
    await page.keyboard.press("Escape");
    await page.locator("#source-panel").waitFor({ state: "hidden" });
    await expect(lastTurn(page).getAttribute("data-status")).resolves.toBe("done");
  });

  it("stops a streaming answer with Escape", async () => {
    const { page, log } = await fx.open();
    await waitForConnected(page);
    await page.locator("#question").fill("What did the engineer replace?");
    await page.locator("#question").press("Enter");
    await waitForStatus(page, "streaming");
    await page.keyboard.press("Escape");
    await waitForStatus(page, "stopped");
    const id = log.sent.find((m) => m.type === "ask")?.id;
    expect(log.sent).toContainEqual({ type: "cancel", id });
    await expect(focused(page)).resolves.toMatchObject({ id: "question" });
  });

  it("shows the length limit before sending and sends nothing over it", async () => {
    const { page, log } = await fx.open();
    await waitForConnected(page);
    await page.locator("button.example").first().waitFor();
    const length = page.locator("#question-length");
    await page.locator("#question").fill("When was the boiler serviced?");
    await expect(length.isHidden()).resolves.toBe(true);
    await page.locator("#question").fill("x".repeat(75));
    await expect(length.textContent()).resolves.toBe("75 / 80 characters");
    const tooLong = "y".repeat(95);
    await page.locator("#question").fill(tooLong);
    await expect(length.textContent()).resolves.toBe(
      "95 / 80 characters: shorten the question by 15 to send it",
    );
    await expect(page.locator("#send").isDisabled()).resolves.toBe(true);
    await page.locator("#question").press("Enter");
    await expect(page.locator("#question").inputValue()).resolves.toBe(tooLong);
    expect(log.sent.filter((m) => m.type === "ask")).toEqual([]);
  });
});

describe("an empty corpus", { timeout: TIMEOUT }, () => {
  const fx = useBrowserApp({ seed: false });

  it("says there are no documents yet and where files go", async () => {
    const { page } = await fx.open();
    await expect(page.locator(".empty-title").textContent()).resolves.toBe("No documents yet");
    const howto = await page.locator(".empty-howto").textContent();
    expect(howto).toContain("corpus/");
    expect(howto).toContain("CITELINE_CORPUS_DIR");
    expect(howto).toContain("npm run index");
    await expect(page.locator("button.example").count()).resolves.toBe(0);
  });
});

describe("Retry", () => {
  it.each([
    [{ status: "error", error: { code: "QUESTION_TOO_LONG", message: "" } }, false],
    [{ status: "error", error: { code: "UNKNOWN_FIELD", message: "" } }, false],
    [{ status: "error", error: { code: "BUSY", message: "" } }, true],
    [{ status: "error", error: { code: "INTERNAL", message: "" } }, true],
    [{ status: "interrupted" }, true],
    [{ status: "done" }, true],
  ] as const)("is offered for %j: %s", (turn, offered) => {
    expect(canRetry(turn as Parameters<typeof canRetry>[0])).toBe(offered);
  });
});
