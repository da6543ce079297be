/**
 * The bind promise: without a token the server listens on the loopback only, unless the operator
 * allows the network explicitly; and it reports the address it actually bound.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkBind, describeBound, isLoopbackAddress } from "../../server/bind.ts";
import { createWorkspace, startTestServer, type Workspace } from "../helpers/server.ts";

describe("isLoopbackAddress", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["[::1]", true],
    ["0:0:0:0:0:0:0:1", true],
    ["::ffff:127.0.0.1", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.5", false],
    ["192.168.1.20", false],
    ["fe80::1", false],
    ["localhost", false],
  ])("%s: %s", (address, expected) => {
    expect(isLoopbackAddress(address)).toBe(expected);
  });
});

describe("checkBind", () => {
  it.each(["127.0.0.1", "::1", "localhost"])("lets %s listen without a token", async (host) => {
    await expect(checkBind({ host, token: undefined, allowNoToken: false })).resolves.toBeUndefined();
  });

  it.each(["0.0.0.0", "::", "10.0.0.5"])("refuses %s without a token, naming both ways out", async (host) => {
    await expect(checkBind({ host, token: undefined, allowNoToken: false })).rejects.toMatchObject({
      code: "NO_TOKEN_FOR_NETWORK",
      message: `refusing to listen on ${host} without an access token: anyone who can reach it could use it. Set CITELINE_TOKEN (16 characters or more), or CITELINE_ALLOW_NO_TOKEN=1 to serve it open, or listen on 127.0.0.1`,
    });
  });

  it("lets a non-loopback address listen with a token, or when allowed explicitly", async () => {
    const host = "0.0.0.0";
    await expect(checkBind({ host, token: "x".repeat(16), allowNoToken: false })).resolves.toBeUndefined();
    await expect(checkBind({ host, token: undefined, allowNoToken: true })).resolves.toBeUndefined();
  });
});

describe("describeBound", () => {
  it.each([
    ["127.0.0.1", 8787, "http://127.0.0.1:8787", "127.0.0.1:8787"],
    ["0.0.0.0", 8787, "http://127.0.0.1:8787", "0.0.0.0:8787"],
    ["::", 9000, "http://127.0.0.1:9000", "[::]:9000"],
    ["::1", 9000, "http://[::1]:9000", "[::1]:9000"],
  ])("%s:%i is reached at %s and bound as %s", (address, port, url, bound) => {
    expect(describeBound(address, port)).toEqual({ url, bound });
  });
});

describe("a real server", () => {
  let workspace: Workspace;
  beforeAll(async () => {
    workspace = await createWorkspace();
    await workspace.build();
  }, 120_000);
  afterAll(async () => {
    await workspace.remove();
  });

  it("refuses 0.0.0.0 without a token before it listens", async () => {
    await expect(startTestServer(workspace, { host: "0.0.0.0" })).rejects.toMatchObject({
      code: "NO_TOKEN_FOR_NETWORK",
    });
  });

  it("serves 0.0.0.0 with CITELINE_ALLOW_NO_TOKEN and reports the wildcard address it bound", async () => {
    const running = await startTestServer(workspace, { host: "0.0.0.0", allowNoToken: true });
    try {
      expect(running.server.bound).toBe(`0.0.0.0:${running.server.port}`);
      expect(running.url).toBe(`http://127.0.0.1:${running.server.port}`);
      expect((await fetch(`${running.url}/api/health`)).status).toBe(200);
    } finally {
      await running.close();
    }
  });

  it("serves 0.0.0.0 with a token, which every request then needs", async () => {
    const token = "a-token-of-sixteen-or-more";
    const running = await startTestServer(workspace, { host: "0.0.0.0", accessToken: token });
    try {
      expect(running.server.bound).toBe(`0.0.0.0:${running.server.port}`);
      const search = `${running.url}/api/search?q=minister`;
      expect((await fetch(search)).status).toBe(401);
      expect((await fetch(search, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    } finally {
      await running.close();
    }
  });
});
