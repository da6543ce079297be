import { stat } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { useBrowserApp } from "./fixture.ts";
import { ask, screenshot, TIMEOUT, waitForConnected, waitForStatus } from "./harness.ts";

const SIZES = [
  { width: 1280, height: 800 },
  { width: 375, height: 740 },
] as const;
const SCHEMES = ["light", "dark"] as const;

describe("the page at desktop and phone sizes, light and dark", { timeout: TIMEOUT }, () => {
  const fx = useBrowserApp({});

  for (const viewport of SIZES) {
    for (const colorScheme of SCHEMES) {
      const tag = `${viewport.width}x${viewport.height}-${colorScheme}`;
      it(`renders the empty state, an answer and the source panel at ${tag} without overflowing`, async () => {
        const { page, context, log } = await fx.open({ viewport, colorScheme });
        try {
          await waitForConnected(page);
          await page.locator(".fact").first().waitFor();
          const files = [await screenshot(page, `empty-${tag}`)];

          await ask(page, "Who is China's foreign minister?");
          await waitForStatus(page);
          await ask(page, "What is the boiling point of mercury?");
          await waitForStatus(page);
          await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
          files.push(await screenshot(page, `not-found-${tag}`));
          await page.locator(".turn").first().scrollIntoViewIfNeeded();
          await page.locator(".turn").first().locator("button.chip").first().focus();
          await page.locator("#cite-card").waitFor();
          files.push(await screenshot(page, `answer-${tag}`));

          await page.keyboard.press("Enter");
          await page.locator("#source-panel mark").waitFor();
          files.push(await screenshot(page, `panel-${tag}`));

          const overflow = await page.evaluate(
            () => document.documentElement.scrollWidth - window.innerWidth,
          );
          expect(overflow).toBeLessThanOrEqual(0);
          for (const f of files) expect((await stat(f)).size).toBeGreaterThan(5000);
          expect(log.errors).toEqual([]);
        } finally {
          await context.close();
        }
      });
    }
  }
});
