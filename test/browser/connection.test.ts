import { afterEach, describe, expect, it } from "vitest";
import { useBrowserApp } from "./fixture.ts";
import { ask, lastTurn, screenshot, TIMEOUT, waitForConnected, waitForStatus } from "./harness.ts";

const QUESTION = "Who is China's foreign minister?";

describe("the connection to the server", { timeout: TIMEOUT }, () => {
  const fx = useBrowserApp({ config: { streamDelayMs: 150 }, pageErrors: "ignore" });
  // A test that stops the server leaves it started again for the next.
  afterEach(() => fx.app.start());

  it("shows reconnecting while the server is away, then connected, and the next question works", async () => {
    const open = await fx.open();
    const { page } = open;
    await waitForConnected(page);
    await ask(page, QUESTION);
    await waitForStatus(page);

    await fx.app.stop();
    await page.locator('#conn[data-state="reconnecting"]').waitFor();
    await expect(page.locator("#conn-label").textContent()).resolves.toBe("Reconnecting…");
    // The state and the Retry-now button fit a phone's top bar.
    await page.setViewportSize({ width: 375, height: 740 });
    await screenshot(page, "reconnecting-375x740-light");
    await expect(page.evaluate(() => document.documentElement.scrollWidth)).resolves.toBeLessThanOrEqual(375);
    await page.setViewportSize({ width: 1280, height: 800 });
    await fx.app.start();
    await waitForConnected(page);
    await expect(page.locator("#conn-label").textContent()).resolves.toBe("Connected");

    await ask(page, "Where was the Hernán Santa Cruz Dialogue held?");
    await waitForStatus(page);
    await expect(lastTurn(page).locator(".a-body").textContent()).resolves.toContain("Hangzhou");
    await expect(page.locator('.turn[data-status="done"]').count()).resolves.toBe(2);
  });

  it("marks an answer cut off by a dropped connection as interrupted, and Retry finishes it", async () => {
    const open = await fx.open();
    const { page } = open;
    await waitForConnected(page);
    await ask(page, QUESTION);
    await lastTurn(page).locator(".a-text").waitFor();
    await fx.app.stop();

    await waitForStatus(page, "interrupted");
    const notice = lastTurn(page).locator(".notice-interrupted");
    await expect(notice.textContent()).resolves.toContain(
      "The connection dropped before the answer finished.",
    );
    await expect(lastTurn(page).locator(".a-text").textContent()).resolves.not.toBe("");
    await screenshot(page, "interrupted-1280x800-light");

    await fx.app.start();
    await waitForConnected(page);
    await lastTurn(page).locator('[data-action="retry"]').click();
    await waitForStatus(page);
    await expect(lastTurn(page).locator(".a-body").textContent()).resolves.toContain("Wang Yi");
  });

  it("questions asked while the server is away wait and are answered once it is back", async () => {
    const open = await fx.open();
    const { page } = open;
    await waitForConnected(page);
    await fx.app.stop();
    await page.locator('#conn[data-state="reconnecting"]').waitFor();
    await ask(page, QUESTION);
    await expect(lastTurn(page).getAttribute("data-status")).resolves.toBe("waiting");
    await expect(lastTurn(page).locator(".waiting-note").isVisible()).resolves.toBe(true);
    await screenshot(page, "waiting-1280x800-light");
    await fx.app.start();
    await waitForStatus(page);
    await expect(lastTurn(page).locator(".a-body").textContent()).resolves.toContain("Wang Yi");
  });

  it("streams answers over HTTP when WebSockets cannot be opened", async () => {
    const open = await fx.open({
      initScript: () => {
        Object.defineProperty(window, "WebSocket", {
          value: function Blocked() {
            throw new DOMException("WebSockets are blocked here", "SecurityError");
          },
        });
      },
    });
    const { page, log } = open;
    await waitForConnected(page);
    await expect(page.locator("#conn").getAttribute("data-transport")).resolves.toBe("http");
    await expect(page.locator("#conn-label").textContent()).resolves.toBe("Connected (HTTP)");
    await ask(page, QUESTION);
    await lastTurn(page).locator(".source").first().waitFor();
    await waitForStatus(page);
    await expect(lastTurn(page).locator(".a-body").textContent()).resolves.toContain("Wang Yi");
    await expect(lastTurn(page).locator("button.chip").count()).resolves.toBeGreaterThan(0);
    expect(log.requests.filter((u) => new URL(u).pathname === "/api/answer")).toHaveLength(1);
    expect(log.sent).toEqual([]);

    // A follow-up carries the history over HTTP too, and Stop aborts the request.
    const body = page.waitForRequest((r) => new URL(r.url()).pathname === "/api/answer");
    await ask(page, "What else did he say?");
    const sent = (await body).postDataJSON() as { history?: unknown[] };
    expect(sent.history).toHaveLength(2);
    // Stop while the request is in flight (a short follow-up answer can finish within a few deltas).
    await page.locator("#stop").click();
    await waitForStatus(page, "stopped");
    expect(log.errors).toEqual([]);
  });

  it("switches to HTTP when the WebSocket handshake keeps failing while the server answers HTTP", async () => {
    const { page } = await fx.open({
      // Something between page and server (a proxy, say) refuses every WebSocket handshake.
      setup: (context) =>
        context.routeWebSocket(/\/ws$/, (ws) => ws.close({ code: 1008, reason: "refused" })),
    });
    await waitForConnected(page);
    await expect(page.locator("#conn").getAttribute("data-transport")).resolves.toBe("http");
    await ask(page, QUESTION);
    await waitForStatus(page);
    await expect(lastTurn(page).locator(".a-body").textContent()).resolves.toContain("Wang Yi");
  });
});
