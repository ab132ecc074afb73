import {
  AckPolicy,
  connect,
  DeliverPolicy,
  headers,
  JSONCodec,
  nanos,
  RetentionPolicy,
  StorageType,
  type Consumer,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import { ConfigError } from '../../config/config.ts';
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
  /**
   * A publish not acknowledged in this time fails (default 1,000 ms). While the server is away
   * the client holds publishes for its reconnect; a caller with a latency budget must not wait
   * for that.
   */
  readonly publishTimeoutMs?: number;
  /** Copies of the stream in a JetStream cluster (1 on a single server). */
  readonly replicas?: number;
  /**
   * How long the consumer's open pull lasts before the client asks again (default 30,000 ms; at
   * least 1000, the client's floor). The server's idle heartbeats come at half of it.
   */
  readonly pullWaitMs?: number;
  /** Told of handler failures and dead letters (for logs and metrics). */
  readonly onProblem?: StreamProblemListener;
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
        timeout: this.#options.publishTimeoutMs ?? 1_000,
      },
    );
    return { partition, sequence: ack.seq, duplicate: ack.duplicate };
  }

  consume(partition: number, handler: StreamHandler): StreamConsumer {
    return this.consumeBatch(partition, oneAtATime(handler), { max: 1 });
  }

  consumeBatch(partition: number, handler: BatchHandler, options: { max: number }): StreamConsumer {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.#options.partitions)
      throw new RangeError(`partition must be 0…${String(this.#options.partitions - 1)}`);
    if (!Number.isInteger(options.max) || options.max < 1 || options.max > maxBatch)
      throw new RangeError(`max must be 1…${String(maxBatch)}`);
    let stopped = false;
    // Read through a call: stop() flips it while the loop awaits.
    const isStopped = (): boolean => stopped || this.#connection.isClosed();
    const inboxes = new Set<Inbox>();
    const loop = this.#run(partition, handler, options.max, inboxes, isStopped).catch((error: unknown) => {
      // The connection closed under the consumer (a crash or shutdown): what it held comes again.
      this.#options.onProblem?.({ kind: 'retry', partition, error });
    });
    const interrupt = (): void => {
      for (const inbox of inboxes) inbox.interrupt();
    };
    void this.#connection.closed().then(interrupt, interrupt);
    const handle: StreamConsumer = {
      stop: async () => {
        stopped = true;
        interrupt();
        await loop;
        this.#consumers.delete(handle);
      },
    };
    this.#consumers.add(handle);
    return handle;
  }

  async #run(
    partition: number,
    handler: BatchHandler,
    max: number,
    inboxes: Set<Inbox>,
    isStopped: () => boolean,
  ): Promise<void> {
    const { stream } = this.#options;
    const durable = consumerName(partition);
    // Up to `max` unacknowledged at once: the server delivers no more than that before acks, so
    // the batch in hand and the events waiting behind it are never more than `max`.
    await this.#jsm.consumers.update(stream, durable, { max_ack_pending: max });
    const info = await this.#jsm.consumers.info(stream, durable);
    if (info.num_ack_pending > 0) {
      // A consumer that died left events unacknowledged. Once their ack wait is over the server
      // gives them again before anything newer; pulling earlier could hand us newer events first
      // (up to `max` may be pending), breaking the partition's order.
      await sleepUnless(this.#options.ackWaitMs + leftoverMarginMs, isStopped);
    }
    const consumer = await this.#js.consumers.get(stream, durable);
    while (!isStopped()) {
      const inbox = new Inbox();
      inboxes.add(inbox);
      try {
        await this.#receive(consumer, partition, max, inbox, handler, isStopped);
      } catch (error) {
        if (isStopped()) break;
        // The server may be restarting: wait a moment rather than spin.
        this.#options.onProblem?.({ kind: 'retry', partition, error });
        await sleepUnless(fetchRetryDelayMs, isStopped);
      } finally {
        inboxes.delete(inbox);
      }
    }
    // The last acks leave before stop() answers (the caller may close the connection next).
    await this.#connection.flush().catch(() => undefined);
  }

  /**
   * One long-lived pull subscription (`consume`): the client keeps a pull for up to `max` events
   * open, the server fills it as events come (never more than `max` unacknowledged), and each
   * turn hands the handler whatever has arrived. Compared with a pull per batch this saves a
   * subscription, a pull request and an unsubscription per batch, which is most of a worker's
   * CPU when it keeps up and batches are small. Returns on stop; throws if the subscription ends
   * by itself (the consumer or the connection went away).
   */
  async #receive(
    consumer: Consumer,
    partition: number,
    max: number,
    inbox: Inbox,
    handler: BatchHandler,
    isStopped: () => boolean,
  ): Promise<void> {
    const messages = await consumer.consume({
      max_messages: max,
      expires: Math.max(1000, this.#options.pullWaitMs ?? 30_000),
      callback: (message) => inbox.push(message),
    });
    let ended: Error | undefined;
    const end = (error: unknown): void => {
      ended = error instanceof Error ? error : new Error('the stream subscription ended');
      inbox.interrupt();
    };
    void messages.closed().then(end, end);
    // Delivered events wait for their turn beyond their ack wait when a batch takes long (an
    // outage): keep them ours, so the server does not deliver them again behind newer ones.
    // Once stopping, the subscription ends before the last acks: the slots they free would
    // otherwise be filled at once with events nobody will handle, given back and so delivered
    // again (a spent try) to the next consumer.
    const beforeAck = (): void => {
      if (isStopped()) messages.stop();
    };
    const keepAlive = setInterval(() => inbox.keepAlive(), Math.max(500, this.#options.ackWaitMs / 2));
    try {
      for (;;) {
        const taken = await inbox.take(max);
        if (taken.length === 0) break;
        await this.#handleBatch(partition, taken, handler, isStopped, beforeAck);
        inbox.settled();
        if (isStopped()) break;
      }
    } finally {
      clearInterval(keepAlive);
      // No more deliveries; what arrived and was not handled goes back, in order, to come again
      // before anything newer.
      messages.stop();
      giveBack(inbox.rest());
    }
    if (!isStopped() && ended !== undefined) throw ended;
  }

  /**
   * Hands a batch to the handler and settles it. A failed batch is kept in hand and its events
   * are tried again one at a time, in order, so one that keeps failing is dead-lettered on its
   * own; giving them back to the server instead would let a retried event come after later ones.
   */
  async #handleBatch(
    partition: number,
    messages: readonly JsMsg[],
    handler: BatchHandler,
    isStopped: () => boolean,
    beforeAck: () => void,
  ): Promise<void> {
    const events: StreamEvent[] = [];
    const taken: JsMsg[] = [];
    for (const message of messages) {
      const event = readEvent(message.data);
      if (event === undefined) {
        // Nothing can ever handle it: straight to the dead letter.
        await this.#deadLetter(partition, message, message.info.deliveryCount, 'undecodable event');
      } else {
        events.push(event);
        taken.push(message);
      }
    }
    if (taken.length === 0) return;
    if (taken.length > 1) {
      try {
        await handler(
          events,
          taken.map((m) => this.#delivery(partition, m, 0)),
        );
        beforeAck();
        acknowledge(taken);
        return;
      } catch (error) {
        this.#options.onProblem?.({ kind: 'retry', partition, error });
        await new Promise((resolve) => setTimeout(resolve, this.#options.retryDelayMs));
      }
    }
    // One try is spent when the batch failed.
    const spent = taken.length > 1 ? 1 : 0;
    for (let i = 0; i < taken.length; i += 1) {
      const settled = await this.#handleOne(
        partition,
        taken.slice(i),
        events[i] as StreamEvent,
        spent,
        handler,
        isStopped,
        beforeAck,
      );
      if (!settled) {
        // Stopping: the rest go back, in order, for the next consumer.
        giveBack(taken.slice(i));
        return;
      }
    }
  }

  /**
   * Tries one event (the first of `held`, the rest of the batch still in hand) until it succeeds
   * or is dead-lettered; false if stopped before either.
   */
  async #handleOne(
    partition: number,
    held: readonly JsMsg[],
    event: StreamEvent,
    spent: number,
    handler: BatchHandler,
    isStopped: () => boolean,
    beforeAck: () => void,
  ): Promise<boolean> {
    const message = held[0] as JsMsg;
    for (let extra = spent; ; extra += 1) {
      const delivery = this.#delivery(partition, message, extra);
      try {
        await handler([event], [delivery]);
        beforeAck();
        acknowledge([message]);
        return true;
      } catch (error) {
        if (delivery.attempt >= this.#options.deliveriesMax) {
          this.#options.onProblem?.({ kind: 'dead-letter', partition, error });
          const reason = error instanceof Error ? error.message : String(error);
          await this.#deadLetter(partition, message, delivery.attempt, reason);
          return true;
        }
        this.#options.onProblem?.({ kind: 'retry', partition, error });
      }
      await new Promise((resolve) => setTimeout(resolve, this.#options.retryDelayMs));
      if (isStopped()) return false;
      // Still ours: the server must not give them to another consumer meanwhile.
      settle(held, (kept) => kept.working());
    }
  }

  /** The delivery as the handler sees it: the server's count plus the tries made while holding it. */
  #delivery(partition: number, message: JsMsg, extra: number): Delivery {
    return { partition, attempt: message.info.deliveryCount + extra, sequence: message.seq };
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
/** Beyond the ack wait, before a consumer that found events left unacknowledged pulls. */
const leftoverMarginMs = 250;
/** The largest batch a consumer takes. */
const maxBatch = 10_000;

/**
 * Acknowledges in order, without waiting for the server to confirm: a confirmation is a request
 * (an inbox message, a timer) per batch, and nothing could be done with a failed one anyway. The
 * server handles acks in order before the pulls sent after them, and the consumer flushes them
 * when it stops. If the connection is gone the acks are lost and the events come again (the write
 * is idempotent).
 */
function acknowledge(messages: readonly JsMsg[]): void {
  settle(messages, (message) => message.ack());
}

/** Gives events back to the server, in order, to be delivered again before anything newer. */
function giveBack(messages: readonly JsMsg[]): void {
  settle(messages, (message) => message.nak());
}

/**
 * Sends one reply per event. The client throws once the connection is closed: the replies are
 * then lost, and the server delivers the events again after their ack wait, which is what a
 * crash does too.
 */
function settle(messages: readonly JsMsg[], reply: (message: JsMsg) => void): void {
  try {
    for (const message of messages) reply(message);
  } catch {
    // The connection is gone (see above).
  }
}

/**
 * Events delivered to one partition's subscription, in order, taken a batch at a time. It also
 * knows the batch in hand, to keep every event it holds from being delivered again meanwhile.
 */
class Inbox {
  readonly #waiting: JsMsg[] = [];
  #inHand: readonly JsMsg[] = [];
  #wake: (() => void) | undefined;
  #interrupted = false;

  push(message: JsMsg): void {
    this.#waiting.push(message);
    this.#wakeUp();
  }

  /** Makes `take` answer nothing from now on (stopping, or the subscription ended). */
  interrupt(): void {
    this.#interrupted = true;
    this.#wakeUp();
  }

  /** Up to `max` events, waiting for the first; none once interrupted. */
  async take(max: number): Promise<JsMsg[]> {
    while (this.#waiting.length === 0 && !this.#interrupted)
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    if (this.#interrupted) return [];
    const taken = this.#waiting.splice(0, max);
    this.#inHand = taken;
    return taken;
  }

  /** The batch in hand was acknowledged (or dead-lettered). */
  settled(): void {
    this.#inHand = [];
  }

  /** Tells the server every held event is still being worked on (resets its ack wait). */
  keepAlive(): void {
    settle([...this.#inHand, ...this.#waiting], (message) => message.working());
  }

  /** The events delivered and not taken, in order; the inbox keeps none. */
  rest(): JsMsg[] {
    this.#inHand = [];
    return this.#waiting.splice(0);
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** Sleeps `ms`, ending early once `stopped()` holds. */
async function sleepUnless(ms: number, stopped: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!stopped() && Date.now() < end)
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, end - Date.now())));
}

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
