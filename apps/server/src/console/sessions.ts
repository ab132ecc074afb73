import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import type { ConsoleSessionKind, ConsoleSessionRecord, ConsoleStore } from '../storage/console-ports.ts';

/** How long a session lives: at most `absoluteMs` after sign-in, `idleMs` after its last use. */
export const sessionLifetimes: Record<ConsoleSessionKind, { absoluteMs: number; idleMs: number }> = {
  analyst: { absoluteMs: 12 * 3_600_000, idleMs: 30 * 60_000 },
  shopper: { absoluteMs: 30 * 60_000, idleMs: 15 * 60_000 },
};
/** A session's last use is written at most this often (a write per request would be waste). */
const touchIntervalMs = 60_000;
const tokenPattern = /^[A-Za-z0-9_-]{43}$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface StartedSession {
  /** The cookie's value: 256 random bits. Only its SHA-256 is stored. */
  token: string;
  tokenHash: string;
  csrfToken: string;
  expiresAtMs: number;
}

/**
 * Browser sessions of analysts (console) and shoppers (security center). The CSRF token is an
 * HMAC of the session's token hash: bound to the session, never stored, checked in constant time.
 */
export class ConsoleSessions {
  readonly #store: ConsoleStore;
  readonly #clock: Clock;
  readonly #csrfKey: Buffer;

  constructor(deps: { store: ConsoleStore; clock: Clock; csrfKey: Buffer }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#csrfKey = deps.csrfKey;
  }

  async start(kind: ConsoleSessionKind, subjectId: string): Promise<StartedSession> {
    const token = randomBytes(32).toString('base64url');
    const tokenHash = hashToken(token);
    const nowMs = this.#clock.now();
    const expiresAtMs = nowMs + sessionLifetimes[kind].absoluteMs;
    await this.#store.insertSession({
      tokenHash,
      kind,
      subjectId,
      createdAtMs: nowMs,
      lastSeenAtMs: nowMs,
      expiresAtMs,
      endedAtMs: undefined,
    });
    return { token, tokenHash, csrfToken: this.csrfTokenFor(tokenHash), expiresAtMs };
  }

  /** The live session of this kind that the cookie's token names, or undefined. */
  async resolve(token: string, kind: ConsoleSessionKind): Promise<ConsoleSessionRecord | undefined> {
    if (!tokenPattern.test(token)) return undefined;
    const record = await this.#store.findSession(hashToken(token));
    if (record?.kind !== kind || record.endedAtMs !== undefined) return undefined;
    const nowMs = this.#clock.now();
    if (nowMs >= record.expiresAtMs || nowMs - record.lastSeenAtMs >= sessionLifetimes[kind].idleMs) {
      return undefined;
    }
    if (nowMs - record.lastSeenAtMs >= touchIntervalMs) {
      await this.#store.touchSession(record.tokenHash, nowMs);
    }
    return record;
  }

  csrfTokenFor(tokenHash: string): string {
    return createHmac('sha256', this.#csrfKey).update(tokenHash).digest('base64url');
  }

  csrfMatches(tokenHash: string, presented: string | undefined): boolean {
    if (presented === undefined) return false;
    const expected = Buffer.from(this.csrfTokenFor(tokenHash));
    const actual = Buffer.from(presented);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }

  end(tokenHash: string): Promise<void> {
    return this.#store.endSession(tokenHash, this.#clock.now());
  }
}
