/** The messages a model gets for one question. Pure. */
import type { HistoryTurn } from "../types.ts";
import type { ChatMessage } from "./provider.ts";
import type { EvidencePassage } from "./verify.ts";

export const SYSTEM_PROMPT =
  "You answer questions using only the numbered passages you are given. " +
  "Write one to three short sentences. End every sentence with the number of the passage it comes from, " +
  "in brackets, like [2]. Copy names, numbers and dates exactly as the passages write them. " +
  "Do not add anything the passages do not say.";

/** Small models follow the last instruction they read best. */
const REMINDER =
  "Answer in one or two short sentences. End each sentence with the number of its passage, like [1].";

/** One worked example: small models follow the marker format far more reliably after seeing it. */
const EXAMPLE_USER = [
  "Passages:",
  "[1] The Nile flows north through eleven countries. It is about 6,650 km long.",
  "[2] Mount Kenya is the second-highest mountain in Africa.",
  "",
  "Question: How long is the Nile?",
  "",
  REMINDER,
].join("\n");
const EXAMPLE_ANSWER = "The Nile is about 6,650 km long [1].";

/** Earlier turns kept in the prompt: enough for a follow-up's referent, short for a small context. */
const HISTORY_TURNS = 4;
const HISTORY_CHARS = 600;

/** The passage text only: the model sees exactly what its sentences are checked against. */
function passageBlock(p: EvidencePassage): string {
  return `[${p.n}] ${p.text.replace(/\s+/g, " ").trim()}`;
}

/** System rules, the worked example, then the conversation, the passages and the question. */
export function buildMessages(
  question: string,
  history: readonly HistoryTurn[],
  passages: readonly EvidencePassage[],
): ChatMessage[] {
  const lines: string[] = [];
  const recent = history.slice(-HISTORY_TURNS);
  if (recent.length > 0) {
    lines.push("Conversation so far:");
    for (const t of recent) {
      const text = t.text.length > HISTORY_CHARS ? `${t.text.slice(0, HISTORY_CHARS)}…` : t.text;
      lines.push(`${t.role === "user" ? "User" : "Assistant"}: ${text.replace(/\s+/g, " ")}`);
    }
    lines.push("");
  }
  lines.push("Passages:", ...passages.map(passageBlock), "", `Question: ${question}`, "", REMINDER);
  return [
    { role: "system", content: SYSTEM_PROMPT },
    { role: "user", content: EXAMPLE_USER },
    { role: "assistant", content: EXAMPLE_ANSWER },
    { role: "user", content: lines.join("\n") },
  ];
}
