import type { ClusterProcessorMetrics } from '../cluster/api-processor.ts';
import type { PersistedBatch } from '../cluster/persister.ts';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ProcessorMetrics } from '../ingest/processor.ts';

/** The service's Prometheus metrics, on a registry of its own (no global state). */
export class Metrics implements ProcessorMetrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'bulwark_http_requests_total',
    help: 'HTTP requests answered, by route and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'bulwark_http_request_duration_seconds',
    help: 'Time to answer an HTTP request.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: 'bulwark_decisions_total',
    help: 'Decisions given, by event type and outcome (duplicates answered from the log are not counted).',
    labelNames: ['type', 'decision'] as const,
    registers: [this.registry],
  });
  readonly eventErrors = new Counter({
    name: 'bulwark_event_errors_total',
    help: 'Events refused, by error code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly cycleDuration = new Histogram({
    name: 'bulwark_ingest_cycle_duration_seconds',
    help: 'Time of one ingest cycle: load, decide, append to the log.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly cycleEvents = new Histogram({
    name: 'bulwark_ingest_cycle_events',
    help: 'Events decided and logged together in one cycle (group commit size).',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000],
    registers: [this.registry],
  });
  readonly rateLimitDegraded = new Counter({
    name: 'bulwark_rate_limit_degraded_total',
    help: 'Rate-limit decisions made without the shared store (Redis unreachable), by limiter and mode.',
    labelNames: ['limiter', 'mode'] as const,
    registers: [this.registry],
  });
  readonly checkpoints = new Counter({
    name: 'bulwark_state_checkpoints_total',
    help: 'Write-behind checkpoints of hot state, by result.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly checkpointDuration = new Histogram({
    name: 'bulwark_state_checkpoint_duration_seconds',
    help: 'Time to write one checkpoint.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });

  // ---- cluster mode (docs/scaling.md) ----
  readonly clusterConflicts = new Counter({
    name: 'bulwark_cluster_commit_conflicts_total',
    help: 'Batches decided again because another node changed one of their accounts first.',
    registers: [this.registry],
  });
  readonly clusterDegraded = new Counter({
    name: 'bulwark_cluster_degraded_decisions_total',
    help: 'Decisions made without the shared state (Redis unreachable), by decision group and mode.',
    labelNames: ['group', 'mode'] as const,
    registers: [this.registry],
  });
  readonly clusterPublishDeferred = new Counter({
    name: 'bulwark_cluster_publish_deferred_total',
    help: 'Decided events kept in the shared spool because the event stream did not take them at once.',
    registers: [this.registry],
  });
  readonly clusterStoreTrips = new Histogram({
    name: 'bulwark_cluster_store_round_trips',
    help: 'Round trips to the shared state per ingest cycle.',
    buckets: [1, 2, 3, 4, 6, 8, 12, 20],
    registers: [this.registry],
  });

  readonly clusterRepublished = new Counter({
    name: 'bulwark_cluster_republished_total',
    help: 'Spooled decisions published again by the republisher (their node died, or NATS was away).',
    registers: [this.registry],
  });
  readonly clusterPersisted = new Counter({
    name: 'bulwark_cluster_persisted_total',
    help: 'Stream events a worker wrote: appended to the log, or already there (a redelivery).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly clusterPersistBatch = new Histogram({
    name: 'bulwark_cluster_persist_batch_events',
    help: 'Events a worker wrote to PostgreSQL in one transaction.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000],
    registers: [this.registry],
  });
  readonly clusterPersistDuration = new Histogram({
    name: 'bulwark_cluster_persist_batch_duration_seconds',
    help: 'Time to write one batch: parsing, degraded effects and the transaction.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [this.registry],
  });

  constructor(options: { processMetrics: boolean }) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'bulwark_' });
  }

  onCycle(eventCount: number, durationMs: number): void {
    this.cycleDuration.observe(durationMs / 1000);
    this.cycleEvents.observe(eventCount);
  }

  onCheckpoint(_entryCount: number, durationMs: number, succeeded: boolean): void {
    this.checkpoints.inc({ result: succeeded ? 'ok' : 'failed' });
    this.checkpointDuration.observe(durationMs / 1000);
  }

  /** The hooks an API node's processor reports to (cluster/api-processor.ts). */
  clusterHooks(): ClusterProcessorMetrics {
    return {
      onCycle: (count, durationMs) => this.onCycle(count, durationMs),
      onConflict: () => this.clusterConflicts.inc(),
      onDegraded: (group, mode) => this.clusterDegraded.inc({ group, mode }),
      onPublishDeferred: (count) => this.clusterPublishDeferred.inc(count),
      onRoundTrips: (store) => this.clusterStoreTrips.observe(store),
      onRepublished: (count) => this.clusterRepublished.inc(count),
    };
  }

  /** A worker's persisted batch (cluster/persister.ts). */
  onPersisted(batch: PersistedBatch): void {
    this.clusterPersisted.inc({ result: 'appended' }, batch.appended);
    if (batch.duplicates > 0) this.clusterPersisted.inc({ result: 'duplicate' }, batch.duplicates);
    this.clusterPersistBatch.observe(batch.messages);
    this.clusterPersistDuration.observe(batch.durationMs / 1000);
  }
}
