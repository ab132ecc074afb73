import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * Signed tokens for links Bulwark sends (e-mail link, "was this you?", alert landing, hosted
 * pages). Format: `v1.<base64url JSON payload>.<base64url HMAC-SHA256>`; the key is derived per
 * purpose from the server secret, so a token made for one purpose never verifies for another
 * even if a payload were confused. Single use is enforced by the caller (the token id `jti` is
 * recorded when used).
 */
export const tokenPurposes = ['email_link', 'confirm', 'alert', 'page', 'enrol'] as const;
export type TokenPurpose = (typeof tokenPurposes)[number];

export interface TokenPayload {
  /** Purpose, repeated inside the payload (defence in depth against key confusion). */
  readonly p: TokenPurpose;
  /** What the token is about: a challenge id, an alert's event id, an account id. */
  readonly sub: string;
  /** Unique id of this token, recorded when a single-use token is spent. */
  readonly jti: string;
  /** Expiry, epoch milliseconds. */
  readonly exp: number;
}

/** Longest token accepted: anything longer is refused unread. */
export const tokenLengthMax = 1024;

/** A 32-byte key for one purpose from the configured secret (HKDF-SHA256). */
export function deriveKey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'bulwark-verify-v1', purpose, 32));
}

export function signToken(keyFor: (purpose: TokenPurpose) => Buffer, payload: TokenPayload): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const mac = createHmac('sha256', keyFor(payload.p)).update(`v1.${body}`).digest('base64url');
  return `v1.${body}.${mac}`;
}

export type TokenCheck =
  | { readonly ok: true; readonly payload: TokenPayload }
  | { readonly ok: false; readonly problem: 'malformed' | 'bad_signature' | 'expired' };

export function verifyToken(
  keyFor: (purpose: TokenPurpose) => Buffer,
  purpose: TokenPurpose,
  token: unknown,
  nowMs: number,
): TokenCheck {
  if (typeof token !== 'string' || token.length > tokenLengthMax) return { ok: false, problem: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== 'v1') return { ok: false, problem: 'malformed' };
  const [, body = '', mac = ''] = parts;
  if (!/^[A-Za-z0-9_-]+$/.test(body) || !/^[A-Za-z0-9_-]{43}$/.test(mac))
    return { ok: false, problem: 'malformed' };
  // Compared as canonical text: base64url's last character carries spare bits, so comparing
  // decoded bytes would accept several spellings of one MAC (a token that is not the one issued).
  const expected = Buffer.from(
    createHmac('sha256', keyFor(purpose)).update(`v1.${body}`).digest('base64url'),
  );
  const given = Buffer.from(mac);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, problem: 'bad_signature' };
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, problem: 'malformed' };
  }
  if (!isPayload(payload) || payload.p !== purpose) return { ok: false, problem: 'bad_signature' };
  if (nowMs >= payload.exp) return { ok: false, problem: 'expired' };
  return { ok: true, payload };
}

function isPayload(value: unknown): value is TokenPayload {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.p === 'string' &&
    (tokenPurposes as readonly string[]).includes(v.p) &&
    typeof v.sub === 'string' &&
    typeof v.jti === 'string' &&
    typeof v.exp === 'number'
  );
}
