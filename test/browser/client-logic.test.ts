/** The page's pure logic, run in Node: no browser needed for these. */
import { describe, expect, it } from "vitest";
import {
  answerForClipboard,
  citationForMarker,
  formatDate,
  safeHref,
  segmentAnswer,
  snippetWindow,
} from "../../client/src/answer-text.ts";
import { backoffDelay } from "../../client/src/connection.ts";
import {
  applyMessage,
  historyBefore,
  keptAnswer,
  newTurn,
  parseStored,
  type Turn,
} from "../../client/src/conversation.ts";
import { createLatest, type Latest } from "../../client/src/latest.ts";
import { createSseParser, type SseEvent } from "../../client/src/sse.ts";
import type { Citation, SourceRef } from "../../core/protocol.ts";

const source = (n: number, over: Partial<SourceRef> = {}): SourceRef => ({
  n,
  docId: `d${n}`,
  chunkId: `d${n}#0`,
  title: `Title ${n}`,
  date: "2024-12-09",
  source: `d${n}.txt`,
  start: 0,
  end: 20,
  snippet: "Alpha beta. Gamma d.",
  score: 1,
  ...over,
});

const cite = (n: number, answerStart: number, answerEnd: number, over: Partial<Citation> = {}): Citation => ({
  n,
  docId: `d${n}`,
  chunkId: `d${n}#0`,
  start: 0,
  end: 11,
  text: "Alpha beta.",
  answerStart,
  answerEnd,
  ...over,
});

describe("segmentAnswer", () => {
  it.each([
    ["plain text", "No markers.", 2, ["t:No markers."]],
    ["a marker after a sentence", "One. [1]", 1, ["t:One. ", "m:1"]],
    ["adjacent markers", "One. [1][2]", 2, ["t:One. ", "m:1", "m:2"]],
    [
      "numbers beyond the sources stay text",
      "In [1999] it [3] did [1].",
      2,
      ["t:In [1999] it [3] did ", "m:1", "t:."],
    ],
    ["a zero marker stays text", "Zero [0].", 1, ["t:Zero [0]."]],
  ])("splits %s", (_name, answer, count, expected) => {
    const got = segmentAnswer(answer, count).map((s) => (s.kind === "text" ? `t:${s.text}` : `m:${s.n}`));
    expect(got).toEqual(expected);
  });

  it("tags the text of cited sentences with the sentence's start", () => {
    const answer = "Alpha beta. [1] Gamma. [2]";
    const segs = segmentAnswer(answer, 2, [cite(1, 0, 11), cite(2, 16, 22)]);
    expect(segs).toEqual([
      { kind: "text", text: "Alpha beta.", start: 0, sentence: 0 },
      { kind: "text", text: " ", start: 11 },
      { kind: "marker", n: 1, start: 12, end: 15 },
      { kind: "text", text: " ", start: 15 },
      { kind: "text", text: "Gamma.", start: 16, sentence: 16 },
      { kind: "text", text: " ", start: 22 },
      { kind: "marker", n: 2, start: 23, end: 26 },
    ]);
  });
});

describe("citationForMarker", () => {
  const citations = [cite(1, 0, 10), cite(2, 0, 10), cite(1, 20, 30)];
  it.each([
    [1, 11, 0],
    [2, 11, 1],
    [1, 31, 2],
  ])("picks, for [%i] at %i, the citation whose sentence ends last before it", (n, at, index) => {
    expect(citationForMarker(citations, n, at)).toBe(citations[index]);
  });
  it("falls back to any citation of the source, and to nothing", () => {
    expect(citationForMarker(citations, 2, 5)).toBe(citations[1]);
    expect(citationForMarker(citations, 3, 50)).toBeUndefined();
  });
});

describe("snippetWindow", () => {
  it("cuts around the match at word boundaries and says what was cut", () => {
    const text = "one two three four five six seven eight nine ten";
    const start = text.indexOf("five");
    expect(snippetWindow(text, start, start + 4, 8)).toEqual({
      before: "four ",
      match: "five",
      after: " six",
      clippedStart: true,
      clippedEnd: true,
    });
  });
  it("shows the start of the text when the offsets do not fit it", () => {
    expect(snippetWindow("short text", 5, 50)).toMatchObject({ match: "", before: "", after: "short text" });
  });
});

describe("safeHref", () => {
  it.each([
    ["https://example.com/a?b=1", "https://example.com/a?b=1"],
    ["http://example.com", "http://example.com/"],
    ["javascript:alert(1)", undefined],
    [" JavaScript:alert(1)", undefined],
    ["java\nscript:alert(1)", undefined],
    ["data:text/html,<script>1</script>", undefined],
    ["/relative/path", undefined],
    ["vbscript:msgbox(1)", undefined],
  ])("%j → %j", (url, expected) => {
    expect(safeHref(url)).toBe(expected);
  });
});

describe("answerForClipboard", () => {
  it("lists the cited sources in number order with titles and dates", () => {
    const sources = [source(1), source(2, { url: "https://x.test/2" }), source(3)];
    delete sources[1]?.date;
    expect(answerForClipboard("B. [2] A. [1]", sources)).toBe(
      "B. [2] A. [1]\n\nSources:\n[1] Title 1 (2024-12-09)\n[2] Title 2 https://x.test/2\n",
    );
  });
  it("lists every source when the answer cites none (not found)", () => {
    expect(answerForClipboard("Not found.", [source(1)])).toBe(
      "Not found.\n\nSources:\n[1] Title 1 (2024-12-09)\n",
    );
  });
});

describe("formatDate", () => {
  it.each([
    ["2024-12-09", "Dec 9, 2024"],
    ["2024-1-5", "Jan 5, 2024"],
    ["2024-13-01", "2024-13-01"],
    ["last week", "last week"],
  ])("%s → %s", (iso, out) => expect(formatDate(iso)).toBe(out));
});

describe("applyMessage", () => {
  it("builds a turn from sources, deltas and done, and ignores messages after it finished", () => {
    let t = newTurn("q1", "Who?", 0);
    t = applyMessage(t, { type: "sources", id: "q1", sources: [source(1)], notFound: false });
    expect(t.status).toBe("streaming");
    t = applyMessage(t, { type: "delta", id: "q1", text: "Alpha" });
    t = applyMessage(t, { type: "delta", id: "q1", text: " beta. [1]" });
    expect(t.answer).toBe("Alpha beta. [1]");
    const timings = { retrievalMs: 1, firstDeltaMs: 2, totalMs: 3 };
    const citations = [cite(1, 0, 11)];
    t = applyMessage(t, {
      type: "done",
      id: "q1",
      answer: "Alpha beta. [1]",
      citations,
      notFound: false,
      query: "Who?",
      timings,
    });
    expect(t).toMatchObject({ status: "done", citations, timings });
    expect(t).not.toHaveProperty("query");
    expect(applyMessage(t, { type: "delta", id: "q1", text: "more" })).toBe(t);
  });
  it("takes the extractive answer whole, then adds each generated sentence with its citations", () => {
    let t = newTurn("q1", "Who?", 0);
    t = applyMessage(t, { type: "sources", id: "q1", sources: [source(1)], notFound: false });
    t = applyMessage(t, { type: "delta", id: "q1", text: "Alpha beta. [1]" });
    const quoted = [cite(1, 0, 11)];
    const generator = { provider: "llama", model: "m" } as const;
    t = applyMessage(t, {
      type: "extractive",
      id: "q1",
      answer: "Alpha beta. [1]",
      citations: quoted,
      generator,
    });
    expect(t).toMatchObject({ status: "streaming", citations: quoted, generator, withheld: 0 });
    const first = cite(1, 0, 6);
    const second = cite(1, 11, 16);
    t = applyMessage(t, { type: "generated", id: "q1", text: "Alpha. [1]", citations: [first] });
    t = applyMessage(t, { type: "withheld", id: "q1", reason: "UNSUPPORTED_NUMBER" });
    t = applyMessage(t, { type: "generated", id: "q1", text: "Beta. [1]", citations: [second] });
    // Joined by one space, as the server counts its offsets.
    expect(t.generated).toEqual({ answer: "Alpha. [1] Beta. [1]", citations: [first, second] });
    expect(t.generated?.answer.slice(second.answerStart, second.answerEnd)).toBe("Beta.");
    expect(t.withheld).toBe(1);
    expect(t.answer).toBe("Alpha beta. [1]");
  });
  it("keeps the code, message and retry hint of an error", () => {
    const t = applyMessage(newTurn("q1", "Who?"), {
      type: "error",
      id: "q1",
      code: "BUSY",
      message: "full",
      retryAfterS: 2,
    });
    expect(t).toMatchObject({ status: "error", error: { code: "BUSY", message: "full", retryAfterS: 2 } });
  });
  it("marks a cut-off answer interrupted and keeps its text", () => {
    let t = applyMessage(newTurn("q1", "Who?"), { type: "delta", id: "q1", text: "Part" });
    t = applyMessage(t, { type: "interrupted", id: "q1" });
    expect(t).toMatchObject({ status: "interrupted", answer: "Part" });
  });
});

describe("historyBefore", () => {
  const turn = (q: string, a: string, status: Turn["status"]): Turn => ({
    ...newTurn(q, q),
    answer: a,
    status,
  });
  it("sends answered and stopped turns, skips failed ones, and keeps the last entries", () => {
    const turns = [
      turn("q1", "a1", "done"),
      turn("q2", "", "error"),
      turn("q3", "a3", "stopped"),
      turn("q4", "", "waiting"),
    ];
    expect(historyBefore(turns, 3)).toEqual([
      { role: "user", text: "q1" },
      { role: "assistant", text: "a1" },
      { role: "user", text: "q3" },
      { role: "assistant", text: "a3" },
    ]);
    expect(historyBefore(turns, 3, 3)).toEqual([
      { role: "assistant", text: "a1" },
      { role: "user", text: "q3" },
      { role: "assistant", text: "a3" },
    ]);
    expect(historyBefore(turns, 3, 10, 4)).toEqual([
      { role: "user", text: "q3" },
      { role: "assistant", text: "a3" },
    ]);
  });
  it("sends the answer the user kept: the generated one only when they chose it", () => {
    const both: Turn = {
      ...turn("q1", "quoted", "done"),
      generated: { answer: "generated", citations: [] },
    };
    expect(historyBefore([both], 1)[1]).toEqual({ role: "assistant", text: "quoted" });
    expect(historyBefore([{ ...both, keep: "generated" }], 1)[1]).toEqual({
      role: "assistant",
      text: "generated",
    });
    expect(keptAnswer({ ...both, keep: "extractive" }).answer).toBe("quoted");
    // Nothing generated to keep: the quoted answer stands.
    expect(keptAnswer({ ...both, generated: { answer: "", citations: [] }, keep: "generated" }).answer).toBe(
      "quoted",
    );
  });
});

describe("parseStored", () => {
  it("turns answers that were streaming into interrupted ones and drops malformed turns", () => {
    const good = { ...newTurn("q1", "Who?"), status: "streaming", answer: "Part" };
    const raw = JSON.stringify({
      version: 1,
      turns: [
        good,
        { id: 5 },
        null,
        { ...good, id: "q2", status: "bogus" },
        { ...good, id: "q3", generated: "text" },
        { ...good, id: "q4", keep: "both" },
      ],
    });
    expect(parseStored(raw)).toEqual([{ ...good, status: "interrupted" }]);
  });
  it.each([undefined, "", "not json", "null", '{"turns":3}'])("reads %j as no turns", (raw) => {
    expect(parseStored(raw)).toEqual([]);
  });
});

describe("createSseParser", () => {
  const parse = (chunks: string[]): SseEvent[] => {
    const out: SseEvent[] = [];
    const p = createSseParser((e) => out.push(e));
    for (const c of chunks) p.push(c);
    p.end();
    return out;
  };
  const stream = 'event: sources\ndata: {"a":1}\n\n: comment\nevent: delta\ndata: {"text":"x"}\n\n';
  const expected = [
    { event: "sources", data: '{"a":1}' },
    { event: "delta", data: '{"text":"x"}' },
  ];

  it("reads events however the stream is split", () => {
    expect(parse([stream])).toEqual(expected);
    expect(parse(stream.split(""))).toEqual(expected);
  });
  it("accepts CRLF and CR line ends, also split between chunks", () => {
    const crlf = stream.replace(/\n/g, "\r\n");
    expect(parse([crlf])).toEqual(expected);
    expect(parse(crlf.split(""))).toEqual(expected);
    expect(parse([stream.replace(/\n/g, "\r")])).toEqual(expected);
  });
  it("joins multi-line data, defaults the event name and flushes an unterminated event", () => {
    expect(parse(["data: one\ndata: two\n\ndata:three"])).toEqual([
      { event: "message", data: "one\ntwo" },
      { event: "message", data: "three" },
    ]);
  });
});

describe("backoffDelay", () => {
  it.each([
    [1, 0, 250],
    [1, 1, 500],
    [3, 0, 1000],
    [3, 1, 2000],
    [10, 0, 5000],
    [10, 1, 10_000],
  ])("attempt %i with random %f waits %i ms", (attempt, r, ms) => {
    expect(backoffDelay(attempt, 500, 10_000, () => r)).toBe(ms);
  });
});

describe("createLatest", () => {
  /** Asks as the page does: numbered when sent, shown only if taken when answered. */
  function reader(latest: Latest, shown: string[]) {
    return async (answer: Promise<string>) => {
      const n = latest.ask();
      const text = await answer;
      if (latest.take(n)) shown.push(text);
    };
  }
  const later = () => {
    let answer!: (text: string) => void;
    const promise = new Promise<string>((resolve) => {
      answer = resolve;
    });
    return { promise, answer };
  };

  it("drops an older answer that arrives after a newer one was shown", async () => {
    const shown: string[] = [];
    const read = reader(createLatest(), shown);
    const older = later();
    const newer = later();
    const reads = [read(older.promise), read(newer.promise)];
    newer.answer("newer");
    await reads[1];
    older.answer("older");
    await reads[0];
    expect(shown).toEqual(["newer"]);
  });

  it("shows answers that arrive in the order they were asked for, and counts the asks", async () => {
    const latest = createLatest();
    const shown: string[] = [];
    const read = reader(latest, shown);
    await read(Promise.resolve("one"));
    await read(Promise.resolve("two"));
    expect(shown).toEqual(["one", "two"]);
    expect(latest.asked).toBe(2);
  });
});
