/**
 * Batch inserts over Weaviate's REST batch endpoint (`POST /v1/batch/objects`), not the client's
 * `insertMany`. In weaviate-client 3.12, `insertMany` serialises one object per `setTimeout` tick
 * and polls for the end of that every 500 ms, so every call costs at least half a second and about
 * a millisecond per object more on an idle machine, while both processes sit idle (measured: 2 to
 * 10 objects 505–515 ms, 500 objects 1.1–1.3 s, of which the gRPC call itself took 5 ms and
 * 200 ms). The REST endpoint takes the same objects as JSON in one request.
 */
import type { NodeEndpoint } from "./nodes.ts";

export interface BatchObject {
  id: string;
  properties: unknown;
  /** The object's vector under the collection's one named vector, `default`. */
  vectors?: number[];
}

type BatchReply = { id?: string; result?: { errors?: { error?: { message?: string }[] } } }[];

/**
 * Writes `objects` into `collection` in one request at the given consistency level; rejects
 * naming how many objects failed and the first reason.
 */
export async function insertObjects(
  node: NodeEndpoint,
  collection: string,
  objects: readonly BatchObject[],
  consistency: "ONE" | "QUORUM" | "ALL",
  timeoutMs: number,
): Promise<void> {
  if (objects.length === 0) return;
  const base = node.url.endsWith("/") ? node.url : `${node.url}/`;
  const url = new URL(`v1/batch/objects?consistency_level=${consistency}`, base);
  const body = JSON.stringify({
    objects: objects.map((o) => ({
      class: collection,
      id: o.id,
      properties: o.properties,
      ...(o.vectors ? { vectors: { default: o.vectors } } : {}),
    })),
  });
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(node.apiKey ? { authorization: `Bearer ${node.apiKey}` } : {}),
    },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`batch insert into ${collection}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  const reply = JSON.parse(text) as BatchReply;
  const failed = reply.filter((r) => (r.result?.errors?.error?.length ?? 0) > 0);
  if (failed.length > 0)
    throw new Error(
      `${failed.length} of ${objects.length} objects were not written: ${failed[0]!.result!.errors!.error![0]!.message}`,
    );
}
