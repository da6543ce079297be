import { describe, expect, it } from "vitest";
import { useBrowserApp } from "./fixture.ts";
import { ask, TIMEOUT, waitForConnected, waitForStatus } from "./harness.ts";

const TOKEN = "correct-horse-battery-staple";

describe("a server that requires an access token", { timeout: TIMEOUT }, () => {
  const fx = useBrowserApp({ config: { accessToken: TOKEN }, pageErrors: "ignore" });

  it("asks for the token once, refuses a wrong one, and keeps the right one across reloads", async () => {
    const { page, context, log } = await fx.open();
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
