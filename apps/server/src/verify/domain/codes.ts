import { createHmac, timingSafeEqual } from 'node:crypto';
import { minuteMs } from '../../core/time.ts';

/**
 * The rules for one-time codes Bulwark sends (e-mail, SMS) and checks (those and TOTP). Pure:
 * randomness and time come from the caller.
 */
export const codePolicy = {
  /** Digits in a sent code: 10^6 guesses against at most `attemptsPerChallengeMax` tries. */
  digits: 6,
  /** NIST SP 800-63B §5.1.3: an out-of-band secret lives at most 10 minutes; we use 5. */
  codeTtlMs: 5 * minuteMs,
  /** How long a challenge can be answered at all, from the decision that asked for it. */
  challengeTtlMs: 15 * minuteMs,
  /** Wrong answers to one challenge before it is closed as failed. */
  attemptsPerChallengeMax: 5,
  /** Codes sent for one challenge (a resend replaces the previous code). */
  sendsPerChallengeMax: 3,
  /** Longest input looked at: anything longer is refused before any comparison. */
  inputLengthMax: 64,
} as const;

export type CodeInput =
  | { readonly ok: true; readonly code: string }
  | { readonly ok: false; readonly problem: 'malformed' | 'too_long' };

/** Normalises what a person typed: spaces and dashes are ignored, only digits count. */
export function readCode(input: unknown, digits: number = codePolicy.digits): CodeInput {
  if (typeof input !== 'string') return { ok: false, problem: 'malformed' };
  if (input.length > codePolicy.inputLengthMax) return { ok: false, problem: 'too_long' };
  const code = input.replace(/[\s-]/g, '');
  if (code.length > digits) return { ok: false, problem: 'too_long' };
  if (!new RegExp(`^\\d{${String(digits)}}$`).test(code)) return { ok: false, problem: 'malformed' };
  return { ok: true, code };
}

/**
 * A new numeric code from `randomInt(maxExclusive)`, which must be uniform (crypto.randomInt in
 * production; a seeded source in tests).
 */
export function generateCode(
  randomInt: (maxExclusive: number) => number,
  digits: number = codePolicy.digits,
): string {
  let code = '';
  for (let i = 0; i < digits; i += 1) code += String(randomInt(10));
  return code;
}

/** What is stored for a sent code: a keyed digest bound to its challenge, never the code. */
export function codeDigest(key: Buffer, challengeId: string, code: string): string {
  return createHmac('sha256', key).update(challengeId).update('\u0000').update(code).digest('base64url');
}

/** Compares digests in constant time (a timing difference would leak how much of a guess matched). */
export function digestsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  if (left.length !== right.length) return false;
  return timingSafeEqual(left, right);
}

export type CodeCheck = 'passed' | 'wrong' | 'expired' | 'no_code';

/** Checks a typed code against the stored digest and its expiry. */
export function checkCode(
  stored: { readonly digest: string | undefined; readonly expiresAtMs: number | undefined },
  key: Buffer,
  challengeId: string,
  code: string,
  nowMs: number,
): CodeCheck {
  if (stored.digest === undefined || stored.expiresAtMs === undefined) return 'no_code';
  // The digest is compared first, whatever the expiry, so both paths cost the same.
  const matches = digestsEqual(codeDigest(key, challengeId, code), stored.digest);
  if (nowMs >= stored.expiresAtMs) return 'expired';
  return matches ? 'passed' : 'wrong';
}
