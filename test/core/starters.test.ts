import { describe, expect, it } from "vitest";
import { cleanHeadline, starterCandidates, verifiedStarters } from "../../core/starters.ts";

describe("starter questions", () => {
  it.each([
    [
      "a wire story: its speaker, its dateline, then its headline",
      {
        title: "Harbour reopens after the storm: officials",
        lead: "PORTSMOUTH, Mar. 4 (Wire) -- The harbour reopened on Monday, Harbour Master Ann Lee said Tuesday.",
      },
      [
        "What did Harbour Master Ann Lee say?",
        "What happened in Portsmouth on Mar. 4?",
        "What is “Harbour reopens after the storm” about?",
      ],
    ],
    [
      "a subject before a colon",
      { title: "Library plans: City adds a second branch in the old ...", lead: "The city will open it." },
      [
        "What is the latest on Library plans?",
        "What is “Library plans: City adds a second branch in the old” about?",
      ],
    ],
    [
      "a headline that is a question",
      { title: "Will the ferries run again?", lead: "Nobody knows." },
      ["Will the ferries run again?"],
    ],
  ])("phrases %s", (_name, doc, expected) => {
    expect(starterCandidates({ id: "d", ...doc })).toEqual(expected);
  });

  it("never starts with 'Tell me about'", () => {
    const qs = starterCandidates({ id: "d", title: "Tell me about it", lead: "" });
    expect(qs.filter((q) => q.startsWith("Tell me about"))).toEqual([]);
  });

  it.each([
    ["Harbour reopens today: FM", "Harbour reopens today"],
    ["Storm hits the coast - Reuters", "Storm hits the coast"],
    [
      "Storm death toll rises to 27 but officials fear it ...",
      "Storm death toll rises to 27 but officials fear",
    ],
  ])("cleans the headline %j", (title, clean) => {
    expect(cleanHeadline(title)).toBe(clean);
  });

  it("offers only questions the index answers from their own document, one per document", async () => {
    const docs = [
      { id: "a", title: "Alpha beta gamma news", lead: "ROME, Jan. 2 -- x, Minister Ada Byron said." },
      { id: "b", title: "Delta epsilon zeta news", lead: "" },
      { id: "c", title: "Eta theta iota news", lead: "" },
    ];
    const asked: string[] = [];
    const answers = async (q: string, docId: string) => {
      asked.push(q);
      // The speaker question finds nothing; doc b's only question is answered from another doc.
      return !q.startsWith("What did") && docId !== "b";
    };
    await expect(verifiedStarters(docs, answers, 3)).resolves.toEqual([
      "What happened in Rome on Jan. 2?",
      "What is “Eta theta iota news” about?",
    ]);
    expect(asked[0]).toBe("What did Minister Ada Byron say?");
  });

  it("phrases a note's title as a question about a document of any kind", () => {
    expect(
      starterCandidates({ id: "n", title: "Allotment notes, spring 2025", lead: "Sowed beans." }),
    ).toEqual(["What is “Allotment notes, spring 2025” about?"]);
  });

  it("keeps looking past documents that do not answer, up to a number of checks", async () => {
    const docs = Array.from({ length: 30 }, (_, i) => ({ id: `d${i}`, title: `Note number ${i}`, lead: "" }));
    let asked = 0;
    const found = await verifiedStarters(
      docs,
      async (_q, id) => {
        asked++;
        return id === "d20" || id === "d22";
      },
      3,
      24,
    );
    expect(found).toEqual(["What is “Note number 20” about?", "What is “Note number 22” about?"]);
    expect(asked).toBe(24);
  });
});
