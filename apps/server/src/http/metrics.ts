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
}
