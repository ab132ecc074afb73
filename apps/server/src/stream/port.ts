/**
 * The event stream between API nodes and workers (docs/scaling.md): events are partitioned by a
 * hash of the account id, so one account's events keep their order and are handled by one
 * consumer at a time. Delivery is at least once: a handler must be idempotent by `eventId`
 * (ingest already answers a repeated event id from the log).
 */
export interface StreamEvent {
  readonly eventId: string;
  readonly accountId: string;
  readonly body: unknown;
}

export interface Delivery {
  readonly partition: number;
  /** 1 on the first delivery, more after a crash or a failed attempt. */
  readonly attempt: number;
  /** The stream's sequence number (increasing within a partition). */
  readonly sequence: number;
}

/** A handler failure (the event comes again) or a dead letter, told to logs and metrics. */
export type StreamProblemListener = (problem: {
  kind: 'retry' | 'dead-letter';
  partition: number;
  error: unknown;
}) => void;

/** Handles one event; throwing asks for redelivery (dead letter after the configured attempts). */
export type StreamHandler = (event: StreamEvent, delivery: Delivery) => Promise<void>;

/**
 * Handles up to `max` consecutive events of one partition, in order; `deliveries[i]` belongs to
 * `events[i]`. Returning acknowledges them all; throwing gives them all again, in order, after the
 * retry delay. After a failed batch the consumer takes those events one at a time, so one that
 * keeps failing is dead-lettered on its own while the others go through.
 */
export type BatchHandler = (events: readonly StreamEvent[], deliveries: readonly Delivery[]) => Promise<void>;

export interface StreamConsumer {
  /** Stops after the event in hand (acknowledged if its handler finished). */
  stop(): Promise<void>;
}

export interface EventStream {
  readonly partitions: number;
  /** Durably appends `event` to its account's partition; a repeated event id is stored once. */
  publish(event: StreamEvent): Promise<{ partition: number; sequence: number; duplicate: boolean }>;
  /** Starts the durable consumer of one partition (it resumes where the last one stopped). */
  consume(partition: number, handler: StreamHandler): StreamConsumer;
  /**
   * Like `consume`, `max` events at a time (fewer when fewer are waiting): one handler call, and
   * so one transaction, per batch. Order and one consumer per partition hold as for `consume`.
   */
  consumeBatch(partition: number, handler: BatchHandler, options: { max: number }): StreamConsumer;
  close(): Promise<void>;
}

/** A one-event handler as a batch handler, for `consume` in terms of `consumeBatch` with `max: 1`. */
export function oneAtATime(handler: StreamHandler): BatchHandler {
  return async ([event], [delivery]) => {
    if (event !== undefined && delivery !== undefined) await handler(event, delivery);
  };
}

/** FNV-1a (32 bit) of the account id, modulo the partition count: stable across nodes and releases. */
export function partitionOf(accountId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(accountId)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}
