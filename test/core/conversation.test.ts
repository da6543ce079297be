import { describe, expect, it } from "vitest";
import { compose, NOT_FOUND_TEXT } from "../../core/answer.ts";
import {
  answerInConversation,
  asksForMore,
  givenSentences,
  NOTHING_MORE_TEXT,
} from "../../core/conversation.ts";
import { rewriteQuery } from "../../core/followup.ts";
import type { Passage } from "../../core/retrieval.ts";
import type { Candidate } from "../../core/selector.ts";
import type { HistoryTurn } from "../../core/types.ts";

// One passage holding four sentences of a made-up article; the scores stand for what the
// sentence scorer (answer.ts) would give them for any follow-up about the mayor.
const SENTENCES: [string, number][] = [
  ["Mayor Lena Ortiz opened the Quillby bridge on Tuesday.", 0.9],
  ["She said the bridge would halve commuting times.", 0.8],
  ["Ortiz added that tolls would stay free until 2031.", 0.7],
  ["The weather in Quillby was mild.", 0.2],
];
const TEXT = SENTENCES.map(([s]) => s).join(" ");
const PASSAGES = [
  {
    label: 0,
    score: 1,
    chunk: {
      id: "quillby#0",
      docId: "quillby",
      ordinal: 0,
      label: 0,
      start: 0,
      end: TEXT.length,
      text: TEXT,
    },
    doc: { id: "quillby", title: "Quillby bridge", source: "quillby.txt", hash: "x" },
  },
] as Passage[];
const SCORED: Candidate[] = SENTENCES.map(([text, score]) => {
  const start = TEXT.indexOf(text);
  return {
    docId: "quillby",
    start,
    end: start + text.length,
    text,
    passage: 0,
    dense: score,
    lexical: score,
    features: [],
    probability: score,
    annotation: { spans: [], tokens: [] },
  };
});
const OPTS = { maxSentences: 1, threshold: 0.5, follower: 0.5 };
const answer = (question: string, history: HistoryTurn[]) =>
  answerInConversation(question, history, (excluded, ratio) =>
    compose(SCORED, PASSAGES, { ...OPTS, threshold: OPTS.threshold * ratio, excluded }),
  );

/** Plays a conversation: each question gets the history of every earlier turn. */
function play(questions: string[]): string[] {
  const history: HistoryTurn[] = [];
  return questions.map((q) => {
    const a = answer(q, history).answer;
    history.push({ role: "user", text: q }, { role: "assistant", text: a });
    return a;
  });
}

describe("a conversation that moves on", () => {
  it.each([
    [
      "What else…, Tell me more, And then? each give the next best sentence, then say nothing more is left",
      ["Who opened the Quillby bridge?", "What else did she say?", "Tell me more", "And then?"],
      [
        "Mayor Lena Ortiz opened the Quillby bridge on Tuesday. [1]",
        "She said the bridge would halve commuting times. [1]",
        "Ortiz added that tolls would stay free until 2031. [1]",
        NOTHING_MORE_TEXT,
      ],
    ],
    [
      "a follow-up that would repeat the previous answer word for word gets the next one",
      ["Who opened the Quillby bridge?", "Who was it?"],
      [
        "Mayor Lena Ortiz opened the Quillby bridge on Tuesday. [1]",
        "She said the bridge would halve commuting times. [1]",
      ],
    ],
    [
      "a question that stands on its own may give the same sentence again",
      ["Who opened the Quillby bridge?", "Who opened the Quillby bridge?"],
      [
        "Mayor Lena Ortiz opened the Quillby bridge on Tuesday. [1]",
        "Mayor Lena Ortiz opened the Quillby bridge on Tuesday. [1]",
      ],
    ],
  ])("%s", (_name, questions, expected) => {
    expect(play(questions)).toEqual(expected);
  });

  it("says not found, not 'nothing more', when nothing was relevant in the first place", () => {
    const weak = SCORED.map((s) => ({ ...s, dense: 0.1, lexical: 0.1, probability: 0.1 }));
    const history: HistoryTurn[] = [
      { role: "user", text: "Who opened the bridge?" },
      { role: "assistant", text: NOT_FOUND_TEXT },
    ];
    const a = answerInConversation("What else?", history, (excluded, ratio) =>
      compose(weak, PASSAGES, { ...OPTS, threshold: OPTS.threshold * ratio, excluded }),
    );
    expect(a.answer).toBe(NOT_FOUND_TEXT);
  });

  it("knows a sentence was given even when a client sent the answer without its markers", () => {
    const history: HistoryTurn[] = [
      { role: "user", text: "Who opened the Quillby bridge?" },
      { role: "assistant", text: `${SENTENCES[0]![0]} ${SENTENCES[1]![0]}` },
    ];
    expect(answer("What else?", history).answer).toBe(`${SENTENCES[2]![0]} [1]`);
  });

  it("recovers the sentences of earlier answers verbatim by cutting at their markers", () => {
    expect(
      givenSentences([
        { role: "user", text: "Who? [1]" },
        {
          role: "assistant",
          text: "HANGZHOU, Dec. 9 (Xinhua) -- Wang said. [1][2] U.S.  officials came. [3]",
        },
      ]),
    ).toEqual([["HANGZHOU, Dec. 9 (Xinhua) -- Wang said.", "U.S. officials came."]]);
  });

  it.each([
    ["What else did he say?", true],
    ["Tell me more", true],
    ["And then?", true],
    ["Where was it held?", false],
  ])("%s asks for more: %s", (q, expected) => {
    expect(asksForMore(q)).toBe(expected);
  });
});

describe("the retrieval query of a follow-up", () => {
  const turn1 = "Who is China's foreign minister?";
  const answer1 =
    "HANGZHOU, Dec. 9 (Xinhua) -- China will continue to work with all countries, Foreign Minister Wang Yi said Monday. [1]";
  it.each([
    ["What else did he say?", [turn1, answer1], "What else did Wang Yi say?"],
    [
      "And then?",
      [turn1, answer1, "What else did he say?", "Wang said the world is changing. [1]"],
      "And then? Who is China's foreign minister?",
    ],
    ["Where was the dialogue held?", [turn1, answer1], "Where was the dialogue held?"],
  ])("%s reads as a question, without stray date tokens", (q, turns, expected) => {
    const history = turns.map((text, i): HistoryTurn => ({ role: i % 2 === 0 ? "user" : "assistant", text }));
    const query = rewriteQuery(q, history);
    expect(query).toBe(expected);
    expect(query).not.toMatch(/\bDec\b|\bMonday\b/);
  });
});
