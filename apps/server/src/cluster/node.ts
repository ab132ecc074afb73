import type { Redis } from 'ioredis';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { PostgresPartitionLeases } from '../adapters/db/partition-leases.ts';
import { JetStreamEventStream } from '../adapters/nats/jetstream-event-stream.ts';
import { RedisDecisionState } from '../adapters/redis/redis-decision-state.ts';
import type { Config } from '../config/config.ts';
import type { Clock } from '../core/clock.ts';
import type { IdGenerator } from '../core/ids.ts';
import type { Metrics } from '../http/metrics.ts';
import type { RiskPolicy } from '../risk/domain/policy.ts';
import type { RuleSetService } from '../rules/service.ts';
import type { Storage } from '../storage/ports.ts';
import { applyDegraded, ClusterProcessor } from './api-processor.ts';
import { StreamPersister } from './persister.ts';

const dayMs = 86_400_000;
/** How often a node looks whether another node activated a rule set or model. */
const policyRefreshMs = 5_000;

/** A node of a cluster (`--role api|worker`): its processor, and on a worker the persister. */
export interface ClusterNode {
  readonly processor: ClusterProcessor;
  readonly stream: JetStreamEventStream;
  readonly state: RedisDecisionState;
  readonly persister: StreamPersister | undefined;
  setPolicy(policy: RiskPolicy): void;
  /** Answers what is queued, stops republishing and (worker) drains the batch in hand. */
  stop(): Promise<void>;
}

/**
 * Starts the cluster parts of a node (docs/scaling.md). Every node decides: requests to any node
 * are answered from the shared state. A worker also persists the stream to PostgreSQL; the
 * caller runs containment, reconciliation, alerts and review deadlines there.
 */
export async function startClusterNode(deps: {
  config: Config;
  redis: Redis;
  nats: NatsConnection;
  storage: Storage;
  rules: RuleSetService;
  clock: Clock;
  ids: IdGenerator;
  policy: RiskPolicy;
  logger: Logger;
  metrics: Metrics;
  /** Told when a persisted batch opened cases (a worker wakes its containment loop). */
  onCasesOpened?: () => void;
}): Promise<ClusterNode> {
  const { config, logger, storage } = deps;
  const stream = await JetStreamEventStream.open(deps.nats, {
    stream: config.streamName,
    subjectPrefix: config.streamSubjectPrefix,
    partitions: config.streamPartitions,
    ackWaitMs: 30_000,
    deliveriesMax: 10,
    retryDelayMs: 1_000,
    onProblem: ({ kind, partition, error }) =>
      logger.warn({ err: error, partition }, `persisting a stream event failed (${kind})`),
  });
  const state = new RedisDecisionState({
    client: deps.redis,
    keyPrefix: config.redisKeyPrefix,
    clock: deps.clock,
    accountTtlMs: config.clusterAccountTtlDays * dayMs,
    outcomeTtlMs: config.clusterOutcomeTtlDays * dayMs,
  });
  const processor = new ClusterProcessor({
    state,
    stream,
    log: storage.events,
    fallback: storage.state,
    clock: deps.clock,
    ids: deps.ids,
    policy: deps.policy,
    options: {
      cycleEventsMax: config.cycleEventsMax,
      conflictRetriesMax: 8,
      republishAfterMs: 5_000,
      republishIntervalMs: 1_000,
      degraded: { login: config.clusterLoginDegraded, order: config.clusterOrderDegraded },
    },
    metrics: deps.metrics.clusterHooks(),
    onShadow: (records) => deps.rules.recordShadow(records),
    onError: (error, during) =>
      logger.warn(
        { err: error, during },
        'cluster: shared state or stream failed; deciding degraded where needed',
      ),
  });
  processor.start();

  const persister =
    config.role === 'worker'
      ? new StreamPersister({
          stream,
          events: storage.events,
          ping: () => storage.ping(),
          // Several workers share the partitions; each is persisted by one at a time.
          leases: new PostgresPartitionLeases(config.databaseUrl ?? '', config.streamName),
          batchMax: config.persistBatchMax,
          applyDegraded: (messages) => applyDegraded(state, messages, processor.policy),
          onError: (error) => logger.warn({ err: error }, 'persisting stream events failed; they come again'),
          onBatch: (batch) => {
            deps.metrics.onPersisted(batch);
            // A case just written: its containment run starts now rather than at the next poll.
            if (batch.casesOpened > 0) deps.onCasesOpened?.();
          },
        })
      : undefined;
  persister?.start();

  // A rule set or model activated through another node reaches this one within a few seconds.
  let lastSlots = JSON.stringify(await storage.ruleSets.slots());
  let refreshing = false;
  const policyTimer = setInterval(() => {
    if (refreshing) return;
    refreshing = true;
    void (async () => {
      const slots = JSON.stringify(await storage.ruleSets.slots());
      if (slots === lastSlots) return;
      processor.setPolicy(await deps.rules.load());
      lastSlots = slots;
    })()
      .catch((error: unknown) => logger.warn({ err: error }, 'reading the active rule set failed; retrying'))
      .finally(() => {
        refreshing = false;
      });
  }, policyRefreshMs);
  policyTimer.unref();

  return {
    processor,
    stream,
    state,
    persister,
    setPolicy: (policy) => processor.setPolicy(policy),
    async stop() {
      clearInterval(policyTimer);
      await processor.stop();
      await persister?.stop();
      await stream.close();
      await state.close();
    },
  };
}
