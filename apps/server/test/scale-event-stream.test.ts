import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { NatsConnection } from 'nats';
import { ConfigError } from '../src/config/config.ts';
import {
  connectNats,
  JetStreamEventStream,
  type JetStreamOptions,
} from '../src/adapters/nats/jetstream-event-stream.ts';
import { MemoryEventStream } from '../src/stream/memory-event-stream.ts';
import { partitionOf, type Delivery, type StreamEvent } from '../src/stream/port.ts';
import { eventStreamSuite, until } from './helpers/event-stream-suite.ts';
import { freePort } from './helpers/redis.ts';

/** The shared NATS of this machine (CI starts it: .ci/run). */
const natsUrl = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** A stream and subjects no other run (CI shares the server) can collide with. */
function uniqueOptions(overrides: Partial<JetStreamOptions> = {}): JetStreamOptions {
  const id = `${String(process.pid)}_${randomUUID().slice(0, 8)}`;
  return {
    stream: `BULWARK_TEST_${id}`,
    subjectPrefix: `bulwark-test.${id}`,
    partitions: 4,
    ackWaitMs: 1_000,
    deliveriesMax: 3,
    retryDelayMs: 20,
    pullWaitMs: 1_000,
    ...overrides,
  };
}

type Seen = { event: StreamEvent; delivery: Delivery };

describe('event stream on NATS JetStream', () => {
  const connections: NatsConnection[] = [];
  const streams: JetStreamEventStream[] = [];
  const open = async (
    options: JetStreamOptions,
  ): Promise<{ stream: JetStreamEventStream; connection: NatsConnection }> => {
    const connection = await connectNats(natsUrl, 'bulwark-test');
    connections.push(connection);
    const stream = await JetStreamEventStream.open(connection, options);
    streams.push(stream);
    return { stream, connection };
  };
  after(async () => {
    // The first stream of each run deletes its streams; then every connection closes.
    const cleaner = await connectNats(natsUrl, 'bulwark-test-cleanup');
    for (const stream of streams) await stream.close();
    const jsm = await cleaner.jetstreamManager();
    for await (const name of jsm.streams.names()) {
      if (createdStreams.has(name.replace(/_DEAD$/, ''))) await jsm.streams.delete(name);
    }
    await cleaner.close();
    for (const connection of connections) if (!connection.isClosed()) await connection.close();
  });
  const createdStreams = new Set<string>();
  const fresh = (overrides: Partial<JetStreamOptions> = {}): JetStreamOptions => {
    const options = uniqueOptions(overrides);
    createdStreams.add(options.stream);
    return options;
  };

  before(() => {
    assert.equal(partitionOf('acct_1', 4), partitionOf('acct_1', 4));
  });

  test('a consumer that crashes mid-event: another resumes, the event comes again, nothing lost', async () => {
    const options = fresh({ partitions: 1 });
    const first = await open(options);
    const published: string[] = [];
    for (let i = 0; i < 30; i += 1) {
      const eventId = `evt_${String(i)}`;
      published.push(eventId);
      await first.stream.publish({ eventId, accountId: `acct_${String(i % 3)}`, body: i });
    }
    const handled: Seen[] = [];
    let release: (() => void) | undefined;
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Node one handles ten events, then hangs inside the eleventh and dies.
    first.stream.consume(0, async (event, delivery) => {
      handled.push({ event, delivery });
      if (handled.length === 11) await stuck;
    });
    await until(() => handled.length === 11, 'the eleventh event');
    await first.connection.close();
    release?.();

    // Node two: same durable consumer, a new connection.
    const second = await open(options);
    const processed = new Set<string>();
    const byNodeTwo: Seen[] = [];
    const consumer = second.stream.consume(0, async (event, delivery) => {
      byNodeTwo.push({ event, delivery });
      processed.add(event.eventId); // idempotent by event id
      await Promise.resolve();
    });
    await until(() => byNodeTwo.length >= 20, 'the rest');
    await consumer.stop();
    for (const seen of handled.slice(0, 10)) processed.add(seen.event.eventId);
    assert.deepEqual([...processed].sort(), [...published].sort(), 'nothing lost');
    // The event in hand at the crash is the only one given twice, as its second delivery.
    const [firstAgain] = byNodeTwo;
    assert.ok(firstAgain);
    assert.equal(firstAgain.event.eventId, 'evt_10');
    assert.equal(firstAgain.delivery.attempt, 2);
    assert.deepEqual(
      byNodeTwo.map((s) => s.event.eventId),
      published.slice(10),
      'order kept across the restart',
    );
    assert.ok(byNodeTwo.slice(1).every((s) => s.delivery.attempt === 1));
  });

  test('an undecodable event goes straight to the dead letter and its partition moves on', async () => {
    const options = fresh({ partitions: 1, deliveriesMax: 3 });
    const { stream, connection } = await open(options);
    await stream.publish({ eventId: 'evt_ok_1', accountId: 'acct_a', body: 1 });
    // Not even JSON: nothing could handle it, so it is dead at once.
    connection.publish(`${options.subjectPrefix}.events.0`, new TextEncoder().encode('{not json'));
    await stream.publish({ eventId: 'evt_ok_2', accountId: 'acct_a', body: 2 });
    const attempts: { id: string; attempt: number }[] = [];
    const consumer = stream.consume(0, async (event, delivery) => {
      attempts.push({ id: event.eventId, attempt: delivery.attempt });
      await Promise.resolve();
    });
    let dead: Awaited<ReturnType<JetStreamEventStream['deadLetters']>> = [];
    await until(async () => (dead = await stream.deadLetters()).length >= 1, 'the dead letter');
    await until(() => attempts.length >= 2, 'both events');
    await consumer.stop();
    assert.deepEqual(attempts, [
      { id: 'evt_ok_1', attempt: 1 },
      { id: 'evt_ok_2', attempt: 1 },
    ]);
    const [garbage] = dead;
    assert.ok(garbage);
    assert.equal(dead.length, 1);
    assert.equal(garbage.reason, 'undecodable event');
    assert.equal(garbage.deliveries, 1);
    assert.equal(garbage.subject, `${options.subjectPrefix}.events.0`);
  });

  test('an unreachable server at start is a ConfigError naming the URL without its password', async () => {
    const port = await freePort();
    await assert.rejects(
      connectNats(`nats://bulwark:hunter2-secret@127.0.0.1:${String(port)}`),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, new RegExp(`nats://bulwark:\\*\\*\\*@127\\.0\\.0\\.1:${String(port)}`));
        assert.doesNotMatch(error.message, /hunter2/);
        return true;
      },
    );
  });
});

eventStreamSuite({
  name: 'in process',
  open: (options) => {
    const stream = new MemoryEventStream(options);
    return Promise.resolve({
      stream,
      deadLetters: () =>
        Promise.resolve(
          stream
            .deadLetters()
            .map((d) => ({ eventId: d.event.eventId, deliveries: d.deliveries, reason: d.reason })),
        ),
    });
  },
  cleanup: () => Promise.resolve(),
});

const suiteConnections: NatsConnection[] = [];
const suiteStreams: JetStreamEventStream[] = [];
eventStreamSuite({
  name: 'NATS JetStream',
  open: async (options) => {
    const connection = await connectNats(natsUrl, 'bulwark-test');
    suiteConnections.push(connection);
    const stream = await JetStreamEventStream.open(connection, { ...uniqueOptions(), ...options });
    suiteStreams.push(stream);
    return {
      stream,
      deadLetters: async () =>
        (await stream.deadLetters()).map((d) => {
          const { eventId } = JSON.parse(new TextDecoder().decode(d.data)) as { eventId: string };
          return { eventId, deliveries: d.deliveries, reason: d.reason };
        }),
    };
  },
  cleanup: async () => {
    for (const stream of suiteStreams) await stream.destroy();
    for (const connection of suiteConnections) await connection.close();
  },
});
