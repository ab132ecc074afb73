import {
  AckPolicy,
  connect,
  DeliverPolicy,
  headers,
  JSONCodec,
  nanos,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import { ConfigError } from '../../config/config.ts';
import {
  partitionOf,
  type EventStream,
  type StreamConsumer,
  type StreamEvent,
  type StreamHandler,
} from '../../stream/port.ts';

export interface JetStreamOptions {
  /** Stream name, e.g. BULWARK_EVENTS (tests use one of their own). */
  readonly stream: string;
  /** Subjects are `<subjectPrefix>.events.<partition>`, dead letters `<subjectPrefix>.dead.<partition>`. */
  readonly subjectPrefix: string;
  readonly partitions: number;
  /** Unacknowledged this long, a delivery is given again (the consumer that had it crashed). */
  readonly ackWaitMs: number;
  /** After this many failed deliveries the event goes to the dead-letter subject. */
  readonly deliveriesMax: number;
  /** Wait before a failed event is given again. */
  readonly retryDelayMs: number;
  /** Copies of the stream in a JetStream cluster (1 on a single server). */
  readonly replicas?: number;
  /** How long one pull waits for an event before asking again (bounds stop()); at least 1000 (the client's floor). */
  readonly pullWaitMs?: number;
  /** Told of handler failures and dead letters (for logs and metrics). */
  readonly onProblem?: (problem: {
    kind: 'retry' | 'dead-letter';
    partition: number;
    error: unknown;
  }) => void;
}

const codec = JSONCodec();

function readEvent(data: Uint8Array): StreamEvent | undefined {
  let value: unknown;
  try {
    value = codec.decode(data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { eventId, accountId, body } = value as Record<string, unknown>;
  if (typeof eventId !== 'string' || typeof accountId !== 'string') return undefined;
  return { eventId, accountId, body };
}

/**
 * Connects; an unreachable server (or one without JetStream) is a ConfigError naming the URL
 * without its password, so `bulwark start` exits as for any other bad setting.
 */
export async function connectNats(url: string, name = 'bulwark'): Promise<NatsConnection> {
  const shown = redactNatsUrl(url);
  let connection: NatsConnection;
  try {
    connection = await connect({ servers: url, name, timeout: 3000, maxReconnectAttempts: -1 });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`NATS at ${shown} is not reachable (${reason}); check NATS_URL`);
  }
  try {
    await (await connection.jetstreamManager()).getAccountInfo();
  } catch (error) {
    await connection.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`NATS at ${shown} has no JetStream (${reason}); start nats-server with -js`);
  }
  return connection;
}

export function redactNatsUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unreadable URL)';
  }
}

/** The event stream on NATS JetStream: one stream, one subject and durable pull consumer per partition. */
export class JetStreamEventStream implements EventStream {
  readonly #connection: NatsConnection;
  readonly #options: JetStreamOptions;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #consumers = new Set<StreamConsumer>();

  private constructor(connection: NatsConnection, jsm: JetStreamManager, options: JetStreamOptions) {
    this.#connection = connection;
    this.#options = options;
    this.#jsm = jsm;
    this.#js = connection.jetstream();
  }

  get partitions(): number {
    return this.#options.partitions;
  }

  /** Creates (or updates) the stream, its dead-letter stream and one durable consumer per partition. */
  static async open(connection: NatsConnection, options: JetStreamOptions): Promise<JetStreamEventStream> {
    const jsm = await connection.jetstreamManager();
    const { stream, subjectPrefix, replicas = 1 } = options;
    const common = { retention: RetentionPolicy.Limits, storage: StorageType.File, num_replicas: replicas };
    await ensureStream(jsm, {
      name: stream,
      subjects: [`${subjectPrefix}.events.*`],
      duplicate_window: nanos(120_000),
      ...common,
    });
    await ensureStream(jsm, { name: `${stream}_DEAD`, subjects: [`${subjectPrefix}.dead.*`], ...common });
    for (let partition = 0; partition < options.partitions; partition += 1) {
      const config = {
        durable_name: consumerName(partition),
        filter_subject: `${subjectPrefix}.events.${String(partition)}`,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(options.ackWaitMs),
        // One event in flight per partition keeps an account's order even across redeliveries.
        max_ack_pending: 1,
        // Dead letters are our decision (after `deliveriesMax`), so the server never drops one.
        max_deliver: -1,
      };
      try {
        await jsm.consumers.info(stream, config.durable_name);
        await jsm.consumers.update(stream, config.durable_name, { ack_wait: config.ack_wait });
      } catch {
        await jsm.consumers.add(stream, config);
      }
    }
    return new JetStreamEventStream(connection, jsm, options);
  }

  async publish(event: StreamEvent): Promise<{ partition: number; sequence: number; duplicate: boolean }> {
    const partition = partitionOf(event.accountId, this.#options.partitions);
    const ack = await this.#js.publish(
      `${this.#options.subjectPrefix}.events.${String(partition)}`,
      codec.encode(event),
      {
        // JetStream stores a repeated id once within the duplicate window.
        msgID: event.eventId,
      },
    );
    return { partition, sequence: ack.seq, duplicate: ack.duplicate };
  }

  consume(partition: number, handler: StreamHandler): StreamConsumer {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.#options.partitions)
      throw new RangeError(`partition must be 0…${String(this.#options.partitions - 1)}`);
    let stopped = false;
    // Read through a call: stop() flips it while the loop awaits.
    const isStopped = (): boolean => stopped;
    const loop = (async () => {
      const consumer = await this.#js.consumers.get(this.#options.stream, consumerName(partition));
      while (!isStopped() && !this.#connection.isClosed()) {
        let batch;
        try {
          batch = await consumer.fetch({
            max_messages: 1,
            expires: Math.max(1000, this.#options.pullWaitMs ?? 1000),
          });
        } catch (error) {
          if (isStopped() || this.#connection.isClosed()) return;
          // The server may be restarting: wait a moment rather than spin.
          this.#options.onProblem?.({ kind: 'retry', partition, error });
          await new Promise((resolve) => setTimeout(resolve, fetchRetryDelayMs));
          continue;
        }
        for await (const message of batch) await this.#handle(partition, message, handler);
      }
    })().catch((error: unknown) => {
      // The connection closed under the consumer (a crash or shutdown): what it held comes again.
      this.#options.onProblem?.({ kind: 'retry', partition, error });
    });
    const handle: StreamConsumer = {
      stop: async () => {
        stopped = true;
        await loop;
        this.#consumers.delete(handle);
      },
    };
    this.#consumers.add(handle);
    return handle;
  }

  async #handle(partition: number, message: JsMsg, handler: StreamHandler): Promise<void> {
    const event = readEvent(message.data);
    const attempt = message.info.deliveryCount;
    if (event === undefined) {
      // Nothing can ever handle it: straight to the dead letter.
      await this.#deadLetter(partition, message, attempt, 'undecodable event');
      return;
    }
    try {
      await handler(event, { partition, attempt, sequence: message.seq });
    } catch (error) {
      if (attempt >= this.#options.deliveriesMax) {
        this.#options.onProblem?.({ kind: 'dead-letter', partition, error });
        await this.#deadLetter(
          partition,
          message,
          attempt,
          error instanceof Error ? error.message : String(error),
        );
      } else {
        this.#options.onProblem?.({ kind: 'retry', partition, error });
        message.nak(this.#options.retryDelayMs);
      }
      return;
    }
    // Waits for the server to record the ack, so a crash after this point never redelivers. If
    // the connection is gone the ack is lost and the event comes again (at least once).
    await message.ackAck().catch(() => false);
  }

  async #deadLetter(partition: number, message: JsMsg, attempt: number, reason: string): Promise<void> {
    const meta = headers();
    meta.set('Bulwark-Original-Subject', message.subject);
    meta.set('Bulwark-Original-Sequence', String(message.seq));
    meta.set('Bulwark-Deliveries', String(attempt));
    meta.set('Bulwark-Reason', reason.slice(0, 500));
    // The id makes a repeat (crash between these two steps) a no-op in the dead-letter stream.
    await this.#js.publish(`${this.#options.subjectPrefix}.dead.${String(partition)}`, message.data, {
      headers: meta,
      msgID: `dead-${String(message.seq)}`,
    });
    // No reason text: servers before 2.10.4 do not understand `+TERM reason` and would redeliver.
    message.term();
  }

  /** Events in the dead-letter stream (for operators and tests), oldest first. */
  async deadLetters(
    limit = 100,
  ): Promise<{ subject: string; sequence: number; reason: string; deliveries: number; data: Uint8Array }[]> {
    const name = `${this.#options.stream}_DEAD`;
    const info = await this.#jsm.streams.info(name);
    const found = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && found.length < limit; seq += 1) {
      try {
        const stored = await this.#jsm.streams.getMessage(name, { seq });
        found.push({
          subject: stored.header.get('Bulwark-Original-Subject'),
          sequence: Number(stored.header.get('Bulwark-Original-Sequence')),
          reason: stored.header.get('Bulwark-Reason'),
          deliveries: Number(stored.header.get('Bulwark-Deliveries')),
          data: stored.data,
        });
      } catch {
        // A deleted message leaves a gap.
      }
    }
    return found;
  }

  /** Deletes both streams (tests, and `bulwark` tooling for a fresh start). */
  async destroy(): Promise<void> {
    await this.close();
    for (const name of [this.#options.stream, `${this.#options.stream}_DEAD`]) {
      await this.#jsm.streams.delete(name).catch(() => false);
    }
  }

  /** Stops every consumer; the connection belongs to the caller. */
  async close(): Promise<void> {
    await Promise.all([...this.#consumers].map((consumer) => consumer.stop()));
  }
}

/** Wait after a failed pull before the next (the server is away or restarting). */
const fetchRetryDelayMs = 250;

function consumerName(partition: number): string {
  return `partition-${String(partition)}`;
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Parameters<JetStreamManager['streams']['add']>[0] & { name: string },
): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch {
    await jsm.streams.add(config);
  }
}
