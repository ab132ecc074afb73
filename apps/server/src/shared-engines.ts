import type { Redis } from 'ioredis';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { connectNats } from './adapters/nats/jetstream-event-stream.ts';
import { connectRedis, redisRateLimiters } from './adapters/redis/redis-rate-limiter.ts';
import type { Config } from './config/config.ts';
import type { Metrics } from './http/metrics.ts';
import {
  memoryRateLimiters,
  type DegradedMode,
  type LimiterName,
  type RateLimiterFactory,
} from './ratelimit/port.ts';

/**
 * The engines several nodes share (docs/scaling.md), chosen once at start-up: Redis for rate
 * limits when REDIS_URL is set, NATS JetStream when NATS_URL is set. Absent, the in-process
 * implementations run and nothing is connected. Unreachable at start: a ConfigError naming the URL.
 */
export interface SharedEngines {
  readonly rateLimiters: RateLimiterFactory;
  /** Connected when REDIS_URL is set: rate limits, and in cluster roles the shared decision state. */
  readonly redis: Redis | undefined;
  /** Connected and checked for JetStream when NATS_URL is set: the event stream of cluster roles. */
  readonly nats: NatsConnection | undefined;
  close(): Promise<void>;
}

/** Degraded decisions are logged at most this often per limiter (the metric counts every one). */
const degradedLogIntervalMs = 10_000;

export async function connectSharedEngines(
  config: Config,
  logger: Logger,
  metrics: Metrics,
): Promise<SharedEngines> {
  const lastLogged = new Map<LimiterName, number>();
  const redis =
    config.redisUrl === undefined
      ? undefined
      : await connectRedis(config.redisUrl, {
          commandTimeoutMs: config.redisCommandTimeoutMs,
          onError: (error) =>
            logger.warn({ err: error }, 'Redis connection failed; rate limits run degraded'),
        });
  let nats: NatsConnection | undefined;
  try {
    nats = config.natsUrl === undefined ? undefined : await connectNats(config.natsUrl);
  } catch (error) {
    redis?.disconnect();
    throw error;
  }
  const degradedOf = (name: LimiterName): DegradedMode =>
    name === 'failed-auth' ? config.authLimitDegraded : config.verifyLimitDegraded;
  const rateLimiters =
    redis === undefined
      ? memoryRateLimiters
      : redisRateLimiters(redis, {
          keyPrefix: config.redisKeyPrefix,
          degradedOf,
          onDegraded: (name, mode, error) => {
            metrics.rateLimitDegraded.inc({ limiter: name, mode });
            const now = Date.now();
            if (now - (lastLogged.get(name) ?? 0) < degradedLogIntervalMs) return;
            lastLogged.set(name, now);
            logger.warn(
              { err: error, limiter: name, mode },
              `rate limit decided without Redis (fail ${mode})`,
            );
          },
        });
  return {
    rateLimiters,
    redis,
    nats,
    async close() {
      redis?.disconnect();
      await nats?.drain().catch(() => undefined);
    },
  };
}
