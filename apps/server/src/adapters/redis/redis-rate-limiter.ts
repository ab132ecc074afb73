import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { ConfigError } from '../../config/config.ts';
import type {
  DegradedMode,
  LimiterName,
  RateDecision,
  RateLimiter,
  RateLimiterFactory,
  RateLimitPolicy,
} from '../../ratelimit/port.ts';

/**
 * Sliding-window log per key, in one Lua script (one round trip, atomic on the server, so two
 * nodes taking at once can never both get the last slot). KEYS[1] is a sorted set of hit times,
 * KEYS[2] a sequence that makes members unique when two hits share a millisecond. Hits at or
 * before now - window fall out; both keys expire one window after the last counted hit, so an
 * idle key costs nothing and a busy one holds at most `limit` members.
 * ARGV: nowMs, windowMs, limit, count (1 = take, 0 = peek). Returns {allowed 1|0, remaining or retryAfterMs}.
 */
const slidingWindowScript = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if oldest[2] == nil then return {0, window} end
  local wait = tonumber(oldest[2]) + window - now
  if wait < 1 then wait = 1 end
  return {0, wait}
end
if ARGV[4] == '1' then
  local seq = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], now, ARGV[1] .. ':' .. seq)
  redis.call('PEXPIRE', KEYS[1], window)
  redis.call('PEXPIRE', KEYS[2], window)
  used = used + 1
end
return {1, limit - used}
`;
const slidingWindowSha = createHash('sha1').update(slidingWindowScript).digest('hex');

/** When a degraded limiter refuses (mode `closed`), the caller is told to retry this soon. */
export const degradedRetryAfterMs = 1000;

export interface RedisRateLimiterOptions {
  readonly client: Redis;
  readonly name: LimiterName;
  readonly policy: RateLimitPolicy;
  /** Prefix of every key, e.g. `bulwark` (tests use one of their own). */
  readonly keyPrefix: string;
  readonly degraded: DegradedMode;
  /** Told of every decision made without Redis (the caller counts it in a metric and logs). */
  readonly onDegraded: (name: LimiterName, mode: DegradedMode, error: unknown) => void;
}

/** A rate limit shared by every node through Redis. */
export class RedisRateLimiter implements RateLimiter {
  readonly #options: RedisRateLimiterOptions;

  constructor(options: RedisRateLimiterOptions) {
    if (options.policy.limit < 1) throw new RangeError('a rate limit allows at least one hit');
    this.#options = options;
  }

  take(key: string, nowMs: number): Promise<RateDecision> {
    return this.#run(key, nowMs, true);
  }

  peek(key: string, nowMs: number): Promise<RateDecision> {
    return this.#run(key, nowMs, false);
  }

  /** The Redis keys of `key` (one hash tag, so both land in one Redis Cluster slot). */
  keysOf(key: string): [string, string] {
    const base = `${this.#options.keyPrefix}:rl:${this.#options.name}:{${key}}`;
    return [base, `${base}:seq`];
  }

  async #run(key: string, nowMs: number, count: boolean): Promise<RateDecision> {
    const { client, policy } = this.#options;
    const [log, seq] = this.keysOf(key);
    const args = [
      String(Math.floor(nowMs)),
      String(policy.windowMs),
      String(policy.limit),
      count ? '1' : '0',
    ];
    let reply: unknown;
    try {
      try {
        reply = await client.evalsha(slidingWindowSha, 2, log, seq, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        // First use on this server (or after SCRIPT FLUSH): send the script once.
        reply = await client.eval(slidingWindowScript, 2, log, seq, ...args);
      }
    } catch (error) {
      const { degraded, name, onDegraded } = this.#options;
      onDegraded(name, degraded, error);
      return degraded === 'open'
        ? { allowed: true, remaining: 0 }
        : { allowed: false, retryAfterMs: degradedRetryAfterMs };
    }
    const [allowed, value] = reply as [number, number];
    return allowed === 1 ? { allowed: true, remaining: value } : { allowed: false, retryAfterMs: value };
  }
}

/** The URL with any password replaced by `***`, fit for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unreadable URL)';
  }
}

export interface RedisConnectOptions {
  /** A command not answered in this time fails (and a limiter decides in its degraded mode). */
  readonly commandTimeoutMs: number;
  /** How long the first connection may take before start-up gives up. */
  readonly connectTimeoutMs?: number;
  /** Told of connection errors while running (reconnection goes on by itself). */
  readonly onError?: (error: Error) => void;
}

/**
 * Connects and pings once; an unreachable server is a ConfigError naming the URL (without its
 * password), so `bulwark start` exits as for any other bad setting. While running, commands fail
 * at once when disconnected (no offline queue) so decisions never wait on a reconnect.
 */
export async function connectRedis(url: string, options: RedisConnectOptions): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs ?? 3000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  });
  let started = false;
  let firstError: Error | undefined;
  client.on('error', (error: Error) => {
    if (started) options.onError?.(error);
    else firstError ??= error;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    const cause = firstError ?? error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ConfigError(`Redis at ${redactUrl(url)} is not reachable (${reason}); check REDIS_URL`);
  }
  started = true;
  return client;
}

/** Makes every named limiter a Redis one sharing `client`. */
export function redisRateLimiters(
  client: Redis,
  options: Omit<RedisRateLimiterOptions, 'client' | 'name' | 'policy' | 'degraded'> & {
    readonly degradedOf: (name: LimiterName) => DegradedMode;
  },
): RateLimiterFactory {
  return (name, policy) =>
    new RedisRateLimiter({
      client,
      name,
      policy,
      keyPrefix: options.keyPrefix,
      degraded: options.degradedOf(name),
      onDegraded: options.onDegraded,
    });
}

/**
 * Deletes every key under `prefix` with SCAN, never KEYS, so a server other clients share is not
 * blocked. Answers how many were deleted (tests and benchmarks clean up their own keys with it).
 */
export async function deleteKeysUnder(client: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await client.del(...keys);
  } while (cursor !== '0');
  return deleted;
}
