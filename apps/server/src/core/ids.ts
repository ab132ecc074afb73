import { createHash, randomBytes } from 'node:crypto';

/**
 * Makes ids such as `ch_…` and `case_…`. `basis` is the id of what caused the new id (usually the
 * event id): the random generator ignores it, the deterministic one derives the id from it so
 * that replaying the same events gives the same ids.
 */
export interface IdGenerator {
  next(prefix: string, basis: string): string;
}

const crockford = '0123456789abcdefghjkmnpqrstvwxyz';

function encodeBase32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += crockford.charAt((buffer >>> (bits - 5)) & 31);
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += crockford.charAt((buffer << (5 - bits)) & 31);
  return out;
}

/** Time-ordered random ids (48-bit millisecond time, 80 random bits), like ULIDs. */
export function randomIds(clock: { now(): number }): IdGenerator {
  return {
    next(prefix) {
      const bytes = new Uint8Array(16);
      const time = clock.now();
      for (let i = 5; i >= 0; i -= 1) bytes[5 - i] = Math.floor(time / 2 ** (8 * i)) % 256;
      bytes.set(randomBytes(10), 6);
      return `${prefix}_${encodeBase32(bytes)}`;
    },
  };
}

/** Ids derived from their basis: the same events give the same ids (replay, tests). */
export function derivedIds(): IdGenerator {
  return {
    next(prefix, basis) {
      const digest = createHash('sha256').update(prefix).update('\u0000').update(basis).digest();
      return `${prefix}_${encodeBase32(digest.subarray(0, 15))}`;
    },
  };
}
