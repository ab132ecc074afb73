import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import type { ConsoleStore } from '../storage/console-ports.ts';

/** How long a security-center link may wait before it is opened; it is exchanged once, at once. */
export const linkLifetimeMsDefault = 10 * 60_000;
export const linkLifetimeMsMax = 60 * 60_000;

/**
 * Security-center links: `v1.<payload>.<mac>`, the payload base64url JSON of the account, the
 * expiry and a nonce, the MAC an HMAC-SHA-256 under a key derived from BULWARK_SECRET. A store's
 * back end asks for one with its API key and sends the shopper to it; the page exchanges it at
 * once for an HttpOnly cookie, and the nonce is recorded so the link works only once.
 */
export type LinkCheck =
  { ok: true; accountId: string } | { ok: false; reason: 'invalid' | 'expired' | 'used' };

interface LinkPayload {
  a: string;
  exp: number;
  n: string;
}

export class SecurityCenterLinks {
  readonly #key: Buffer;
  readonly #clock: Clock;
  readonly #store: ConsoleStore;

  constructor(deps: { key: Buffer; clock: Clock; store: ConsoleStore }) {
    this.#key = deps.key;
    this.#clock = deps.clock;
    this.#store = deps.store;
  }

  issue(accountId: string, lifetimeMs = linkLifetimeMsDefault): { token: string; expiresAtMs: number } {
    const expiresAtMs = this.#clock.now() + Math.min(lifetimeMs, linkLifetimeMsMax);
    const payload: LinkPayload = { a: accountId, exp: expiresAtMs, n: randomBytes(16).toString('base64url') };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return { token: `v1.${body}.${this.#mac(body)}`, expiresAtMs };
  }

  /** Checks a link and spends it: a second exchange of the same link answers `used`. */
  async redeem(token: string): Promise<LinkCheck> {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== 'v1') return { ok: false, reason: 'invalid' };
    const [, body = '', mac = ''] = parts;
    const expected = Buffer.from(this.#mac(body));
    const actual = Buffer.from(mac);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
      return { ok: false, reason: 'invalid' };
    }
    let payload: LinkPayload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as LinkPayload;
    } catch {
      return { ok: false, reason: 'invalid' };
    }
    if (typeof payload.a !== 'string' || typeof payload.exp !== 'number' || typeof payload.n !== 'string') {
      return { ok: false, reason: 'invalid' };
    }
    const nowMs = this.#clock.now();
    if (nowMs >= payload.exp) return { ok: false, reason: 'expired' };
    if (!(await this.#store.useLinkNonce(payload.n, payload.a, nowMs))) return { ok: false, reason: 'used' };
    return { ok: true, accountId: payload.a };
  }

  #mac(body: string): string {
    return createHmac('sha256', this.#key).update(`security-center-link.${body}`).digest('base64url');
  }
}
