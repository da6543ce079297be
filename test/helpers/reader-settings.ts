import { COMBINATION_FEATURES, type ReaderSettings } from "../../core/answer.ts";

/**
 * Reader settings whose combination is one stump on readerRank: the reader's favourite of the
 * `read` sentences comes first whatever the trees said. It refuses nothing and adds no follower
 * unless told otherwise.
 */
export function readerFavouriteFirst(fields: Partial<ReaderSettings> = {}): ReaderSettings {
  return {
    features: [...COMBINATION_FEATURES],
    base: 0,
    trees: [
      {
        feature: [COMBINATION_FEATURES.indexOf("readerRank"), -1, -1],
        threshold: [0.75, 0, 0],
        left: [1, -1, -1],
        right: [2, -1, -1],
        value: [0, -2, 2],
      },
    ],
    read: 3,
    follower: 1,
    notFound: 0,
    shortAnswer: 1,
    ...fields,
  };
}
