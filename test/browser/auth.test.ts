import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type App,
  ask,
  launchBrowser,
  openPage,
  startApp,
  TIMEOUT,
  waitForConnected,
  waitForStatus,
} from "./harness.ts";

const TOKEN = "correct-horse-battery-staple";

describe("a server that requires an access token", { timeout: TIMEOUT }, () => {
  let app: App;
  let browser: Browser;

  beforeAll(async () => {
    [app, browser] = await Promise.all([startApp({ config: { accessToken: TOKEN } }), launchBrowser()]);
  }, TIMEOUT);
  afterAll(async () => {
    await browser?.close();
    await app?.dispose();
  });

  it("asks for the token once, refuses a wrong one, and keeps the right one across reloads", async () => {
    const { page, context, log } = await openPage(browser, app);
    try {
      const dialog = page.locator("#token-dialog");
      await dialog.waitFor();
      await expect(page.locator("#token-error").isHidden()).resolves.toBe(true);

      await page.locator("#token-input").fill("wrong-token-wrong-token");
      await page.locator("#token-input").press("Enter");
      await page.locator("#token-error").waitFor();
      await expect(dialog.isVisible()).resolves.toBe(true);

      await page.locator("#token-input").fill(TOKEN);
      await page.getByRole("button", { name: "Connect" }).click();
      await dialog.waitFor({ state: "hidden" });
      await waitForConnected(page);
      await page.locator(".fact").first().waitFor();
      expect(log.sent.filter((m) => m.type === "auth")).toEqual([
        { type: "auth", token: "wrong-token-wrong-token" },
        { type: "auth", token: TOKEN },
      ]);

      await ask(page, "Who is China's foreign minister?");
      await waitForStatus(page);
      // Documents are fetched with the token too.
      await page.locator(".a-body button.chip").first().click();
      await page.locator("#source-panel mark").waitFor();
      await page.keyboard.press("Escape");

      await page.reload();
      await waitForConnected(page);
      await expect(dialog.isVisible()).resolves.toBe(false);
      await expect(page.locator(".turn").count()).resolves.toBe(1);
    } finally {
      await context.close();
    }
  });
});
