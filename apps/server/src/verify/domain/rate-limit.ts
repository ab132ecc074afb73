import { LruMap } from '../../core/lru.ts';

/**
 * Fixed-window counters per key (IP address, account): at most `limit` hits per `windowMs`.
 * In memory, bounded by `keysMax` (the least recently used key is forgotten first). One process
 * decides (single writer), so in-memory counts are the service's counts; a restart forgets them,
 * while per-challenge attempts live in the database and survive.
 */
export interface RateLimitPolicy {
  readonly limit: number;
  readonly windowMs: number;
  readonly keysMax: number;
}

export type RateDecision =
  | { readonly allowed: true; readonly remaining: number }
  | { readonly allowed: false; readonly retryAfterMs: number };

export class FixedWindowLimiter {
  readonly #policy: RateLimitPolicy;
  readonly #windows: LruMap<string, { startMs: number; count: number }>;

  constructor(policy: RateLimitPolicy) {
    this.#policy = policy;
    this.#windows = new LruMap(policy.keysMax);
  }

  /** Answers whether a hit for `key` at `nowMs` would be within the limit, counting nothing. */
  peek(key: string, nowMs: number): RateDecision {
    const { limit, windowMs } = this.#policy;
    const current = this.#windows.get(key);
    if (current === undefined || nowMs - current.startMs >= windowMs)
      return { allowed: true, remaining: limit };
    if (current.count >= limit) return { allowed: false, retryAfterMs: current.startMs + windowMs - nowMs };
    return { allowed: true, remaining: limit - current.count };
  }

  /** Counts one hit for `key` at `nowMs`; answers whether it is within the limit. */
  take(key: string, nowMs: number): RateDecision {
    const { limit, windowMs } = this.#policy;
    const current = this.#windows.get(key);
    const window =
      current === undefined || nowMs - current.startMs >= windowMs ? { startMs: nowMs, count: 0 } : current;
    if (window.count >= limit) {
      this.#windows.set(key, window);
      return { allowed: false, retryAfterMs: window.startMs + windowMs - nowMs };
    }
    const next = { startMs: window.startMs, count: window.count + 1 };
    this.#windows.set(key, next);
    return { allowed: true, remaining: limit - next.count };
  }
}

/** The limits on verification endpoints. */
export const verifyRateLimits = {
  /** Any verification request from one IP address. */
  perIp: { limit: 60, windowMs: 60_000, keysMax: 100_000 },
  /** Code and assertion checks for one account across all its challenges. */
  perAccount: { limit: 10, windowMs: 15 * 60_000, keysMax: 100_000 },
  /** Messages sent to one account (codes, links, confirmations), so no one can flood the owner. */
  sendsPerAccount: { limit: 5, windowMs: 15 * 60_000, keysMax: 100_000 },
} as const satisfies Record<string, RateLimitPolicy>;
