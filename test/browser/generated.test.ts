import { describe, expect, it } from "vitest";
import { TEST_GGUF } from "../../scripts/llm-assets.ts";
import { useBrowserApp } from "./fixture.ts";
import { ask, doneFrame, lastTurn, screenshot, TIMEOUT, waitForConnected, waitForStatus } from "./harness.ts";

describe("generated answers in the page", { timeout: TIMEOUT }, () => {
  const fx = useBrowserApp({
    config: { llmGguf: TEST_GGUF, llmThreads: 1, llmPassages: 1, llmMaxTokens: 40 },
  });

  it("labels the answer with its model and marks generated or quoted text as the server decided", async () => {
    const open = await fx.open();
    const { page, log } = open;
    await waitForConnected(page);
    await ask(page, "Who is China's foreign minister?");
    await waitForStatus(page, "done", 90_000);
    const done = doneFrame(log);
    const generation = done.generation;
    if (!generation) throw new Error("the server sent no generation info");
    const turn = lastTurn(page);
    const origin = turn.locator(".a-origin");
    await expect(origin.isVisible()).resolves.toBe(true);
    const label = (await origin.textContent()) ?? "";
    expect(label).toContain("SmolLM2-135M-Instruct.Q4_1 (in-process)");
    if (generation.mode === "generated") {
      expect(label).toMatch(/^Written by /);
      await expect(turn.getAttribute("class")).resolves.toMatch(/\bgenerated\b/);
    } else {
      expect(label).toMatch(/^Quoted from the sources: /);
      await expect(turn.getAttribute("class")).resolves.toMatch(/\bextractive\b/);
    }
    // Every marker is a chip, as for extractive answers.
    const chips = await turn.locator(".a-body button.chip").count();
    expect(chips).toBe((done.answer.match(/\[\d+\]/g) ?? []).length);
    await screenshot(page, `generated-${generation.mode}`);
  });
});
