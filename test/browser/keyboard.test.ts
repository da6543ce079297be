import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { useBrowserApp } from "./fixture.ts";
import { TIMEOUT, waitForConnected, waitForStatus } from "./harness.ts";

/** Presses Tab until `matches` holds for the focused element; fails after `max` presses. */
async function tabTo(
  page: Page,
  what: string,
  matches: (el: Element | null) => boolean,
  max = 40,
): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate(matches, await page.evaluateHandle(() => document.activeElement))) return;
  }
  throw new Error(`Tab never reached ${what}`);
}

describe("using the page with the keyboard only", { timeout: TIMEOUT }, () => {
  const fx = useBrowserApp({});

  it("asks, opens a citation with Enter, closes it with Escape and gets focus back on the chip", async () => {
    const { page, context, log } = await fx.open();
    try {
      await waitForConnected(page);
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await tabTo(page, "the question box", (el) => el?.id === "question");

      // Shift+Enter is a new line; Enter sends.
      await page.keyboard.type("Who is China's");
      await page.keyboard.press("Shift+Enter");
      await page.keyboard.type("foreign minister?");
      await expect(page.locator("#question").inputValue()).resolves.toBe("Who is China's\nforeign minister?");
      expect(log.sent.filter((m) => m.type === "ask")).toEqual([]);
      await page.keyboard.press("Enter");
      await waitForStatus(page);
      await expect(page.locator(".q-bubble").textContent()).resolves.toBe(
        "Who is China's\nforeign minister?",
      );
      await expect(page.locator("#question").inputValue()).resolves.toBe("");

      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await tabTo(page, "a citation chip", (el) => el?.classList.contains("chip") === true);
      const chip = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        return { n: el.dataset.n, at: el.dataset.at, outline: getComputedStyle(el).outlineStyle };
      });
      expect(chip.outline).not.toBe("none");
      await page.locator("#cite-card").waitFor();

      await page.keyboard.press("Enter");
      await page.locator("#source-panel mark").waitFor();
      await expect(
        page.evaluate(() => document.activeElement?.closest("#source-panel") !== null),
      ).resolves.toBe(true);

      await page.keyboard.press("Escape");
      await page.locator("#source-panel").waitFor({ state: "hidden" });
      const back = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        return { n: el.dataset.n, at: el.dataset.at, chip: el.classList.contains("chip") };
      });
      expect(back).toEqual({ n: chip.n, at: chip.at, chip: true });

      // Every control has a name a screen reader can announce.
      const unnamed = await page.evaluate(() =>
        [...document.querySelectorAll("button, textarea, input, [role=dialog], dialog")]
          .filter((el) => {
            const labelledBy = el.getAttribute("aria-labelledby");
            const label = el.id ? document.querySelector(`label[for="${el.id}"]`) : null;
            const name =
              el.getAttribute("aria-label") ??
              (labelledBy ? document.getElementById(labelledBy)?.textContent : null) ??
              label?.textContent ??
              el.textContent;
            return !name?.trim();
          })
          .map((el) => el.outerHTML.slice(0, 80)),
      );
      expect(unnamed).toEqual([]);

      // Space opens it too.
      await page.keyboard.press("Space");
      await page.locator("#source-panel mark").waitFor();
      await page.keyboard.press("Escape");
      await page.locator("#source-panel").waitFor({ state: "hidden" });
      expect(log.errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
