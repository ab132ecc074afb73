import { LruMap } from '../core/lru.ts';
import { FixedWindowLimiter, type RateDecision, type RateLimitPolicy } from '../verify/domain/rate-limit.ts';

export type { RateDecision, RateLimitPolicy };

/**
 * A per-key rate limit: at most `limit` hits per `windowMs` for each key (an IP address, an
 * account). The in-process implementation serves one node; the Redis one (adapters/redis) lets
 * several nodes share the counts. docs/scaling.md.
 */
export interface RateLimiter {
  /** Counts one hit for `key` at `nowMs` if it is within the limit; a refused hit is not counted. */
  take(key: string, nowMs: number): Promise<RateDecision>;
  /** Whether a hit for `key` at `nowMs` would be allowed; counts nothing. */
  peek(key: string, nowMs: number): Promise<RateDecision>;
}

/**
 * What a shared limiter answers when its engine cannot: `open` allows (the request goes on
 * unthrottled), `closed` refuses with a retry-after of one window.
 */
export type DegradedMode = 'open' | 'closed';

/** The rate limits the service keeps, each by name (metric label, key prefix). */
export type LimiterName = 'verify-ip' | 'verify-account' | 'verify-sends' | 'failed-auth';

/** In-process fixed windows (the single-node default): the counts of this process only. */
export class MemoryRateLimiter implements RateLimiter {
  readonly #windows: FixedWindowLimiter;

  constructor(policy: RateLimitPolicy) {
    this.#windows = new FixedWindowLimiter(policy);
  }

  take(key: string, nowMs: number): Promise<RateDecision> {
    return Promise.resolve(this.#windows.take(key, nowMs));
  }

  peek(key: string, nowMs: number): Promise<RateDecision> {
    return Promise.resolve(this.#windows.peek(key, nowMs));
  }
}

/** Makes the limiter for one named policy (memory or Redis, chosen once at start-up). */
export type RateLimiterFactory = (name: LimiterName, policy: RateLimitPolicy) => RateLimiter;

export const memoryRateLimiters: RateLimiterFactory = (_name, policy) => new MemoryRateLimiter(policy);

/** The failed-API-key limit per client address (was FailureLimiter's 30 per minute). */
export const failedAuthPolicy: RateLimitPolicy = { limit: 30, windowMs: 60_000, keysMax: 100_000 };

/**
 * A limiter whose `peek` answers from memory for `freshMs` after a shared look found the key far
 * from its limit (at least half the hits left). Every request peeks the failed-API-key limit, and
 * with Redis that was a round trip on every API call; now it is one per address per second. A
 * `take` (a failure) always goes to the shared limiter and forgets what was remembered once the
 * key is near or at its limit. The cost: a block decided on another node is seen here up to
 * `freshMs` late, and only for an address that was far from its limit a moment ago.
 */
export class PeekCachingLimiter implements RateLimiter {
  readonly #inner: RateLimiter;
  readonly #policy: RateLimitPolicy;
  readonly #freshMs: number;
  /** Key → until when an `allowed` peek is reused. */
  readonly #fresh: LruMap<string, number>;

  constructor(inner: RateLimiter, policy: RateLimitPolicy, freshMs = 1_000) {
    this.#inner = inner;
    this.#policy = policy;
    this.#freshMs = freshMs;
    this.#fresh = new LruMap(policy.keysMax);
  }

  async peek(key: string, nowMs: number): Promise<RateDecision> {
    const until = this.#fresh.get(key);
    if (until !== undefined && nowMs < until) return { allowed: true, remaining: this.#policy.limit / 2 };
    const decision = await this.#inner.peek(key, nowMs);
    if (decision.allowed && decision.remaining * 2 >= this.#policy.limit)
      this.#fresh.set(key, nowMs + this.#freshMs);
    else this.#fresh.delete(key);
    return decision;
  }

  async take(key: string, nowMs: number): Promise<RateDecision> {
    const decision = await this.#inner.take(key, nowMs);
    if (!decision.allowed || decision.remaining * 2 < this.#policy.limit) this.#fresh.delete(key);
    return decision;
  }
}
