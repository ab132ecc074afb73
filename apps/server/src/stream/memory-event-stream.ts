import {
  oneAtATime,
  partitionOf,
  type BatchHandler,
  type Delivery,
  type EventStream,
  type StreamConsumer,
  type StreamEvent,
  type StreamHandler,
  type StreamProblemListener,
} from './port.ts';

export interface MemoryEventStreamOptions {
  readonly partitions: number;
  /** After this many failed deliveries the event goes to the dead letters. */
  readonly deliveriesMax: number;
  /** Wait before a failed event is given again. */
  readonly retryDelayMs: number;
  /** Told of handler failures and dead letters (for logs and metrics), as the JetStream stream. */
  readonly onProblem?: StreamProblemListener;
}

/** An event the stream gave up on, with why. */
export interface MemoryDeadLetter {
  readonly partition: number;
  readonly sequence: number;
  readonly deliveries: number;
  readonly reason: string;
  readonly event: StreamEvent;
}

interface StoredEvent {
  /** Kept as JSON, as JetStream keeps it: each delivery is a fresh copy, and what cannot be sent fails at publish. */
  readonly json: string;
  readonly sequence: number;
  deliveries: number;
}

interface Partition {
  readonly events: StoredEvent[];
  /** Index of the first event not yet acknowledged (the durable consumer's position). */
  acked: number;
  /** The active consumer's wake-up, when it waits for an event. */
  wake: (() => void) | undefined;
  consumed: boolean;
}

/**
 * The event stream in this process, with the semantics of the JetStream one (and the same
 * conformance suite, test/helpers/event-stream-suite.ts): per-partition order, one consumer and one
 * batch in flight per partition, redelivery after a delay when a handler throws, dead letters
 * after `deliveriesMax` deliveries, a repeated event id stored once. For a single process and for
 * tests; nothing survives a restart. Unlike JetStream (a two-minute window), ids are remembered
 * for the stream's life.
 */
export class MemoryEventStream implements EventStream {
  readonly #options: MemoryEventStreamOptions;
  readonly #partitions: Partition[];
  /** Sequence given to each event id. */
  readonly #ids = new Map<string, number>();
  readonly #dead: MemoryDeadLetter[] = [];
  readonly #consumers = new Set<StreamConsumer>();
  #sequence = 0;

  constructor(options: MemoryEventStreamOptions) {
    if (!Number.isInteger(options.partitions) || options.partitions < 1)
      throw new RangeError('partitions must be a positive integer');
    this.#options = options;
    this.#partitions = Array.from({ length: options.partitions }, () => ({
      events: [],
      acked: 0,
      wake: undefined,
      consumed: false,
    }));
  }

  get partitions(): number {
    return this.#options.partitions;
  }

  publish(event: StreamEvent): Promise<{ partition: number; sequence: number; duplicate: boolean }> {
    const partition = partitionOf(event.accountId, this.#options.partitions);
    const known = this.#ids.get(event.eventId);
    if (known !== undefined) return Promise.resolve({ partition, sequence: known, duplicate: true });
    const json = JSON.stringify({ eventId: event.eventId, accountId: event.accountId, body: event.body });
    this.#sequence += 1;
    const sequence = this.#sequence;
    this.#ids.set(event.eventId, sequence);
    const target = this.#partition(partition);
    target.events.push({ json, sequence, deliveries: 0 });
    target.wake?.();
    return Promise.resolve({ partition, sequence, duplicate: false });
  }

  consume(partition: number, handler: StreamHandler): StreamConsumer {
    return this.consumeBatch(partition, oneAtATime(handler), { max: 1 });
  }

  consumeBatch(partition: number, handler: BatchHandler, options: { max: number }): StreamConsumer {
    const target = this.#partition(partition);
    if (!Number.isInteger(options.max) || options.max < 1)
      throw new RangeError('max must be a positive integer');
    // JetStream would share the partition between two consumers; here it is a mistake to say so.
    if (target.consumed) throw new Error(`partition ${String(partition)} already has a consumer`);
    target.consumed = true;
    let stopped = false;
    const isStopped = (): boolean => stopped;
    const loop = this.#run(partition, target, handler, options.max, isStopped);
    const handle: StreamConsumer = {
      stop: async () => {
        stopped = true;
        target.wake?.();
        await loop;
        target.consumed = false;
        this.#consumers.delete(handle);
      },
    };
    this.#consumers.add(handle);
    return handle;
  }

  async #run(
    partition: number,
    target: Partition,
    handler: BatchHandler,
    max: number,
    isStopped: () => boolean,
  ): Promise<void> {
    while (!isStopped()) {
      if (target.acked >= target.events.length) {
        await new Promise<void>((resolve) => {
          target.wake = resolve;
        });
        target.wake = undefined;
        continue;
      }
      const taken = target.events.slice(target.acked, target.acked + max);
      if (taken.length > 1) {
        try {
          await handler(...this.#deliver(partition, taken));
          target.acked += taken.length;
          continue;
        } catch (error) {
          this.#options.onProblem?.({ kind: 'retry', partition, error });
          await new Promise((resolve) => setTimeout(resolve, this.#options.retryDelayMs));
        }
      }
      // A failed batch is tried again one event at a time, in order (as the JetStream stream).
      for (const stored of taken) {
        if (!(await this.#handleOne(partition, stored, handler, isStopped))) return;
        target.acked += 1;
      }
    }
  }

  /** Tries one event until it succeeds or is dead-lettered; false if stopped before either. */
  async #handleOne(
    partition: number,
    stored: StoredEvent,
    handler: BatchHandler,
    isStopped: () => boolean,
  ): Promise<boolean> {
    for (;;) {
      const [events, deliveries] = this.#deliver(partition, [stored]);
      try {
        await handler(events, deliveries);
        return true;
      } catch (error) {
        if (stored.deliveries >= this.#options.deliveriesMax) {
          this.#options.onProblem?.({ kind: 'dead-letter', partition, error });
          const reason = (error instanceof Error ? error.message : String(error)).slice(0, 500);
          const [event] = events;
          if (event !== undefined)
            this.#dead.push({
              partition,
              sequence: stored.sequence,
              deliveries: stored.deliveries,
              reason,
              event,
            });
          return true;
        }
        this.#options.onProblem?.({ kind: 'retry', partition, error });
      }
      await new Promise((resolve) => setTimeout(resolve, this.#options.retryDelayMs));
      if (isStopped()) return false;
    }
  }

  /** Counts a delivery of each and answers fresh copies with their deliveries. */
  #deliver(partition: number, taken: readonly StoredEvent[]): [StreamEvent[], Delivery[]] {
    for (const stored of taken) stored.deliveries += 1;
    return [
      taken.map((stored) => JSON.parse(stored.json) as StreamEvent),
      taken.map((stored) => ({ partition, attempt: stored.deliveries, sequence: stored.sequence })),
    ];
  }

  #partition(partition: number): Partition {
    const target = this.#partitions[partition];
    if (!Number.isInteger(partition) || target === undefined)
      throw new RangeError(`partition must be 0…${String(this.#options.partitions - 1)}`);
    return target;
  }

  /** Events given up on, oldest first (for operators and tests). */
  deadLetters(limit = 100): MemoryDeadLetter[] {
    return this.#dead.slice(0, limit);
  }

  /** Stops every consumer. */
  async close(): Promise<void> {
    await Promise.all([...this.#consumers].map((consumer) => consumer.stop()));
  }
}
