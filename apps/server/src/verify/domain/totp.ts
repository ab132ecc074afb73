import { Secret, TOTP } from 'otpauth';

/**
 * TOTP (RFC 6238) with the usual authenticator parameters: SHA-1, 6 digits, 30 s steps, ±1 step
 * accepted for clock drift. A code is accepted once: the step it matched is recorded and a second
 * use of the same step is a replay.
 */
export const totpPolicy = { algorithm: 'SHA1', digits: 6, periodS: 30, windowSteps: 1 } as const;

export function totpFor(secretBase32: string, label: string, issuer: string): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: totpPolicy.algorithm,
    digits: totpPolicy.digits,
    period: totpPolicy.periodS,
    secret: Secret.fromBase32(secretBase32),
  });
}

/** A new 160-bit secret (RFC 4226 recommends 160) from the given random bytes, base32. */
export function secretFromBytes(bytes: Uint8Array): string {
  return new Secret({ buffer: bytes.slice().buffer }).base32;
}

export type TotpCheck =
  | { readonly ok: true; readonly step: number }
  | { readonly ok: false; readonly problem: 'wrong' | 'replayed' };

/** Checks `code` at `nowMs`; `isStepUsed` tells whether a step was already accepted for the account. */
export function checkTotp(
  totp: TOTP,
  code: string,
  nowMs: number,
  isStepUsed: (step: number) => boolean,
): TotpCheck {
  const delta = totp.validate({ token: code, timestamp: nowMs, window: totpPolicy.windowSteps });
  if (delta === null) return { ok: false, problem: 'wrong' };
  const step = Math.floor(nowMs / 1000 / totpPolicy.periodS) + delta;
  if (isStepUsed(step)) return { ok: false, problem: 'replayed' };
  return { ok: true, step };
}
