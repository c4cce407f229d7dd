import { createHash } from "node:crypto";

/** The most a table is filled before it grows: linear probing stays short below it. */
const MAX_LOAD = 0.8;

/**
 * The IDs a walk has handed over, so that an asset a list repeats (an offset shift while the estate
 * changes) goes into one task. Each ID is kept as a 64-bit fingerprint (the first 8 bytes of its SHA-1,
 * used here as a hash, not for security) in one open-addressing table of 32-bit pairs: a million IDs take
 * 10 MB (8 bytes a slot, at most 80% full) where a Set of their strings takes some 60 MB, which a walk
 * in 128 MB cannot spare. Two different IDs share a fingerprint with a probability of about n²/2⁶⁵, 3 in
 * 100 million for a million IDs: the second would be taken for a repeat and left out of that walk.
 */
export class SeenIds {
  /** Pairs (high, low) of fingerprints; (0, 0) is an empty slot. */
  private slots: Uint32Array;
  private count = 0;

  constructor(expected = 1024) {
    this.slots = new Uint32Array(2 * slotsFor(expected));
  }

  /** IDs held. */
  get size(): number {
    return this.count;
  }

  /** Makes room for `expected` IDs in all (a list's total, once its first page states it). */
  reserve(expected: number): void {
    if (slotsFor(expected) > this.slots.length / 2) this.rehash(slotsFor(expected));
  }

  /** Adds `id`; false when it was there already (a repeat). */
  add(id: string): boolean {
    if (this.count + 1 > (this.slots.length / 2) * MAX_LOAD) this.rehash(Math.ceil((this.slots.length / 2) * 1.5));
    const digest = createHash("sha1").update(id).digest();
    const high = digest.readUInt32LE(0);
    // (0, 0) marks an empty slot: a fingerprint of that value is kept as (0, 1).
    const low = digest.readUInt32LE(4) || (high === 0 ? 1 : 0);
    if (!this.place(high, low)) return false;
    this.count++;
    return true;
  }

  /** Puts the fingerprint in its slot; false when it is there already. */
  private place(high: number, low: number): boolean {
    const slots = this.slots;
    const capacity = slots.length / 2;
    for (let i = (high ^ low) >>> 0; ; i++) {
      const at = 2 * (i % capacity);
      if (slots[at] === 0 && slots[at + 1] === 0) {
        slots[at] = high;
        slots[at + 1] = low;
        return true;
      }
      if (slots[at] === high && slots[at + 1] === low) return false;
    }
  }

  private rehash(capacity: number): void {
    const old = this.slots;
    this.slots = new Uint32Array(2 * capacity);
    for (let at = 0; at < old.length; at += 2) if (old[at] !== 0 || old[at + 1] !== 0) this.place(old[at]!, old[at + 1]!);
  }
}

/** Slots for `expected` fingerprints at most MAX_LOAD full. */
function slotsFor(expected: number): number {
  return Math.max(16, Math.ceil(Math.max(0, expected) / MAX_LOAD) + 1);
}
