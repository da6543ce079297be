import { describe, expect, it } from "vitest";
import { useBrowserApp } from "./fixture.ts";
import { ask, lastTurn, SEED_TITLE, TIMEOUT, waitForConnected, waitForStatus } from "./harness.ts";

const QUESTION = "Who is China's foreign minister?";

describe("the page in a new user's first hour", { timeout: TIMEOUT }, () => {
  const fx = useBrowserApp({ pageErrors: "ignore" });

  it("closes the hover card too when Escape closes the source panel", async () => {
    const open = await fx.open();
    const { page, log } = open;
    await waitForConnected(page);
    await ask(page, QUESTION);
    await waitForStatus(page);
    await lastTurn(page).locator("button.chip").first().focus();
    await page.locator("#cite-card").waitFor();
    await page.keyboard.press("Enter");
    await page.locator("#source-panel mark").waitFor();
    await page.keyboard.press("Escape");
    await page.locator("#source-panel").waitFor({ state: "hidden" });
    await expect(page.evaluate(() => document.activeElement?.classList.contains("chip"))).resolves.toBe(true);
    await expect(page.locator("#cite-card").isHidden()).resolves.toBe(true);
    expect(log.errors).toEqual([]);
  });

  it("shows each source's title and date, and its file name only in the tooltip", async () => {
    const open = await fx.open();
    const { page } = open;
    await waitForConnected(page);
    await ask(page, QUESTION);
    await waitForStatus(page);
    const card = lastTurn(page).locator(".source").first();
    await expect(card.locator(".source-title").textContent()).resolves.toBe(SEED_TITLE);
    await expect(card.locator(".source-date").textContent()).resolves.toBe("Dec 9, 2024");
    await expect(card.textContent()).resolves.not.toContain("000_1819b03cfa5cc3af");
    await expect(card.getAttribute("title")).resolves.toBe(`${SEED_TITLE}\n000_1819b03cfa5cc3af.txt`);
  });

  it("offers natural starter questions, each of which the index answers", async () => {
    const open = await fx.open();
    const { page } = open;
    const examples = page.locator("button.example");
    await examples.first().waitFor();
    const texts = await examples.allTextContents();
    expect(texts.length).toBeGreaterThan(0);
    for (const t of texts) expect(t).not.toMatch(/^Tell me about/);
    await examples.first().click();
    await waitForStatus(page);
    await expect(lastTurn(page).getAttribute("class")).resolves.not.toContain("not-found");
    await expect(lastTurn(page).locator("button.chip").count()).resolves.toBeGreaterThan(0);
  });

  it("sends the from/to range as filters and says when no document falls in it", async () => {
    const open = await fx.open();
    const { page, log } = open;
    await waitForConnected(page);
    await page.locator("#range summary").click();
    await page.locator("#range-from").fill("2020-01-01");
    await page.locator("#range-to").fill("2020-01-31");
    await expect(page.locator("#range .range-label").textContent()).resolves.toBe(
      "Jan 1, 2020 – Jan 31, 2020",
    );
    await ask(page, QUESTION);
    await waitForStatus(page);
    const sent = log.sent.find((m) => m.type === "ask");
    expect(sent).toMatchObject({ filters: { from: "2020-01-01", to: "2020-01-31" } });
    await expect(lastTurn(page).textContent()).resolves.toContain("No documents in this date range");
    await expect(lastTurn(page).locator(".a-body").textContent()).resolves.toContain(
      "No documents fall between 2020-01-01 and 2020-01-31",
    );

    // "Last 7 days" counts back from the newest document, which it then finds. (The range is still open.)
    await page.locator("#range-week").click();
    await ask(page, QUESTION);
    await waitForStatus(page);
    const asks = log.sent.filter((m) => m.type === "ask");
    expect(asks.at(-1)).toMatchObject({ filters: { from: "2024-12-03", to: "2024-12-09" } });
    await expect(lastTurn(page).locator(".a-body").textContent()).resolves.toContain("Wang Yi");
  });

  it("keeps one conversation per tab: two tabs do not overwrite each other", async () => {
    const open = await fx.open();
    const { page, context } = open;
    await waitForConnected(page);
    const other = await context.newPage();
    await other.goto(fx.app.url);
    await waitForConnected(other);
    await ask(page, QUESTION);
    await waitForStatus(page);
    await ask(other, "Where was the dialogue held?");
    await waitForStatus(other);
    await page.reload();
    await other.reload();
    await expect(page.locator(".q-bubble").allTextContents()).resolves.toEqual([QUESTION]);
    await expect(other.locator(".q-bubble").allTextContents()).resolves.toEqual([
      "Where was the dialogue held?",
    ]);
  });

  it("goes back to the WebSocket after falling back to HTTP once WebSockets work again", async () => {
    let blocked = true;
    const { page } = await fx.open({
      setup: (context) =>
        context.routeWebSocket(/\/ws$/, (ws) => {
          if (blocked) ws.close({ code: 1008, reason: "refused" });
          else ws.connectToServer();
        }),
    });
    await page.locator('#conn[data-transport="http"][data-state="connected"]').waitFor({ timeout: 20_000 });
    blocked = false;
    await page
      .locator('#conn[data-transport="websocket"][data-state="connected"]')
      .waitFor({ timeout: 30_000 });
    const answerPosts: string[] = [];
    page.on("request", (r) => {
      if (new URL(r.url()).pathname === "/api/answer") answerPosts.push(r.url());
    });
    await ask(page, QUESTION);
    await waitForStatus(page);
    await expect(page.locator("#conn-label").textContent()).resolves.toBe("Connected");
    expect(answerPosts).toEqual([]);
  });
});
