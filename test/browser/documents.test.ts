import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { useBrowserApp } from "./fixture.ts";
import { ask, doneFrame, lastTurn, TIMEOUT, waitForConnected, waitForStatus } from "./harness.ts";

const FIXTURES = path.join(import.meta.dirname, "..", "fixtures", "documents");

describe("a PDF in the page", { timeout: TIMEOUT }, () => {
  const fx = useBrowserApp({
    docs: { "harbour-report.pdf": readFileSync(path.join(FIXTURES, "harbour-report.pdf")) },
  });

  it("shows the cited page on the chip, in its card and in the source panel", async () => {
    const { page, log } = await fx.open();
    await waitForConnected(page);
    await ask(page, "How much silt did the dredging of the east basin remove?");
    await waitForStatus(page);
    const done = doneFrame(log);
    expect(done.citations[0]?.page).toBe(2);
    const chip = lastTurn(page).locator(".a-body button.chip").first();
    await expect(chip.textContent()).resolves.toBe("1 p. 2");
    await expect(chip.getAttribute("aria-label")).resolves.toBe("Source 1: Harbour Report 2024, page 2");
    await chip.hover();
    const card = page.locator("#cite-card");
    await card.waitFor();
    await expect(card.locator(".cite-card-meta").textContent()).resolves.toBe("page 2");
    await chip.click();
    const panel = page.locator("#source-panel");
    await panel.locator("mark").waitFor();
    await expect(panel.locator(".panel-page").textContent()).resolves.toBe("page 2");
    await expect(panel.locator(".panel-meta").textContent()).resolves.toContain("harbour-report.pdf");
    await expect(lastTurn(page).locator(".source-page").first().textContent()).resolves.toBe("page 1");
  });
});
