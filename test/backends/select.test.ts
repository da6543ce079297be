/** Choosing the search backend: the embedded one by default, loaded without any other adapter. */
import { describe, expect, it } from "vitest";
import { embeddedBackend } from "../../backends/embedded/adapter.ts";
import { loadBackend } from "../../backends/select.ts";
import { loadConfig } from "../../core/config.ts";

describe("the backend choice", () => {
  it("is the embedded backend unless CITELINE_BACKEND names another", async () => {
    expect(loadConfig({}, {}).backend).toBe("embedded");
    await expect(loadBackend("embedded")).resolves.toBe(embeddedBackend);
  });
});
