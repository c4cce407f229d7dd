import * as z from "zod";
import type { PartsProgress } from "./deliver.ts";

/**
 * What a notifier has of a message split in parts, kept with the run's record (the run's messages and its
 * results alike), so that a retry sends only the parts it lacks, numbered as before.
 */

/** The parts of a split message a notifier has accepted (numbered from 1), of how many. */
export const PartsSentSchema = z.object({ of: z.number().int(), sent: z.array(z.number().int()) });
export type PartsSent = z.infer<typeof PartsSentSchema>;

/**
 * How a delivery remembers, in `partsSent`, each part a notifier accepts: `save` stores the record, so
 * a retry sends only the parts it lacks. `beforeSend` throws when the run's holder may no longer send.
 */
export function partsProgress(partsSent: Record<string, PartsSent>, notifier: string, save: () => Promise<void>, beforeSend: () => void): PartsProgress {
  const before = partsSent[notifier];
  return {
    sent: before?.sent ?? [],
    ...(before ? { of: before.of } : {}),
    beforeSend,
    onSent: async (part, of) => {
      const known = partsSent[notifier];
      partsSent[notifier] = { of, sent: [...(known && known.of === of ? known.sent : []), part] };
      await save();
    },
  };
}
