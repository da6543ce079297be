import { describe, expect, it } from "vitest";
import { useBrowserApp } from "./fixture.ts";
import { ask, lastTurn, screenshot, TIMEOUT, waitForConnected, waitForStatus } from "./harness.ts";

const QUESTION = "Who is China's foreign minister?";

describe("stopping and retrying an answer", { timeout: TIMEOUT }, () => {
  // Slow streaming, so Stop lands in the middle of the answer.
  const fx = useBrowserApp({ config: { streamDelayMs: 250 } });

  it("cancels the answer in flight, keeps the text so far and marks it stopped", async () => {
    const open = await fx.open();
    const { page, log } = open;
    await waitForConnected(page);
    await ask(page, QUESTION);
    const stop = page.locator("#stop");
    await stop.waitFor();
    await expect(page.locator("#send").isHidden()).resolves.toBe(true);
    await lastTurn(page).locator(".a-text").waitFor();
    await stop.click();

    await waitForStatus(page, "stopped");
    const ask0 = log.sent.find((m) => m.type === "ask");
    expect(log.sent.filter((m) => m.type === "cancel")).toEqual([{ type: "cancel", id: ask0?.id }]);
    const kept = (await lastTurn(page).locator(".a-text").textContent()) ?? "";
    expect(kept.length).toBeGreaterThan(0);
    await expect(lastTurn(page).locator(".badge").textContent()).resolves.toBe("Stopped");
    // Nothing more arrives for the stopped answer.
    await page.waitForTimeout(1000);
    await expect(lastTurn(page).locator(".a-text").textContent()).resolves.toBe(kept);
    expect(log.received.some((m) => m.type === "done")).toBe(false);
    await expect(page.locator("#send").isVisible()).resolves.toBe(true);
    await screenshot(page, "stopped-1280x800-light");

    // Stopped survives a reload, and Retry asks the same question again.
    await page.reload();
    await waitForConnected(page);
    await expect(lastTurn(page).getAttribute("data-status")).resolves.toBe("stopped");
    await lastTurn(page).locator('[data-action="retry"]').click();
    await waitForStatus(page, "done");
    await expect(lastTurn(page).locator(".a-body").textContent()).resolves.toContain("Wang Yi");
    await expect(page.locator(".turn").count()).resolves.toBe(1);
  });
});
