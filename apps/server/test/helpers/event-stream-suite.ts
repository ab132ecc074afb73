import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  partitionOf,
  type Delivery,
  type EventStream,
  type StreamEvent,
  type StreamProblemListener,
} from '../../src/stream/port.ts';

/**
 * The behaviour every `EventStream` promises (stream/port.ts), run against each implementation:
 * the in-process one and JetStream (test/scale-event-stream.test.ts).
 */

export interface SuiteStreamOptions {
  readonly partitions: number;
  readonly deliveriesMax: number;
  readonly retryDelayMs: number;
  readonly onProblem?: StreamProblemListener;
}

/** A dead letter as the suite compares it, whatever the implementation keeps. */
export interface SuiteDeadLetter {
  readonly eventId: string;
  readonly deliveries: number;
  readonly reason: string;
}

export interface StreamUnderTest {
  readonly stream: EventStream;
  readonly deadLetters: () => Promise<SuiteDeadLetter[]>;
}

export interface StreamFactory {
  readonly name: string;
  /** A fresh, empty stream no other test shares. */
  open(options: SuiteStreamOptions): Promise<StreamUnderTest>;
  /** Removes everything the factory made (after the suite). */
  cleanup(): Promise<void>;
}

/** Resolves once `done()` holds; a bounded guard (not a timing assertion) against a hang. */
export async function until(done: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt += 1) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

type Seen = { event: StreamEvent; delivery: Delivery };

const defaults: SuiteStreamOptions = { partitions: 4, deliveriesMax: 3, retryDelayMs: 20 };

export function eventStreamSuite(factory: StreamFactory): void {
  describe(`event stream conformance: ${factory.name}`, () => {
    after(() => factory.cleanup());
    const open = (overrides: Partial<SuiteStreamOptions> = {}): Promise<StreamUnderTest> =>
      factory.open({ ...defaults, ...overrides });

    test('partitions by account hash; each partition in publish order; a repeated event id stored once', async () => {
      const { stream } = await open();
      const published: StreamEvent[] = [];
      for (let i = 0; i < 120; i += 1) {
        const event = { eventId: `evt_${String(i)}`, accountId: `acct_${String(i % 15)}`, body: { n: i } };
        const receipt = await stream.publish(event);
        assert.equal(receipt.partition, partitionOf(event.accountId, 4));
        assert.equal(receipt.duplicate, false);
        published.push(event);
      }
      const again = await stream.publish(published[7] as StreamEvent);
      assert.equal(again.duplicate, true);
      const seen: Seen[] = [];
      const consumers = [0, 1, 2, 3].map((partition) =>
        stream.consume(partition, async (event, delivery) => {
          seen.push({ event, delivery });
          await Promise.resolve();
        }),
      );
      await until(() => seen.length >= published.length, 'every event');
      await Promise.all(consumers.map((consumer) => consumer.stop()));
      assert.deepEqual(
        seen.map((s) => s.event.eventId).sort(),
        published.map((e) => e.eventId).sort(),
        'each event exactly once',
      );
      assert.deepEqual(
        seen.find((s) => s.event.eventId === 'evt_7')?.event,
        published[7],
        'the event as published',
      );
      assert.ok(new Set(seen.map((s) => s.delivery.partition)).size > 1, 'spread over partitions');
      for (let partition = 0; partition < 4; partition += 1) {
        const inPartition = seen.filter((s) => s.delivery.partition === partition);
        const expected = published
          .filter((e) => partitionOf(e.accountId, 4) === partition)
          .map((e) => e.eventId);
        assert.deepEqual(
          inPartition.map((s) => s.event.eventId),
          expected,
          `partition ${String(partition)} order`,
        );
        const sequences = inPartition.map((s) => s.delivery.sequence);
        assert.deepEqual(
          [...sequences].sort((a, b) => a - b),
          sequences,
        );
      }
    });

    test('a poison event goes to the dead letter after N attempts and its partition moves on', async () => {
      const problems: string[] = [];
      const { stream, deadLetters } = await open({
        partitions: 1,
        deliveriesMax: 3,
        onProblem: (p) => problems.push(p.kind),
      });
      await stream.publish({ eventId: 'evt_ok_1', accountId: 'acct_a', body: 1 });
      await stream.publish({ eventId: 'evt_poison', accountId: 'acct_a', body: 'boom' });
      await stream.publish({ eventId: 'evt_ok_2', accountId: 'acct_a', body: 2 });
      const attempts: { id: string; attempt: number }[] = [];
      const consumer = stream.consume(0, async (event, delivery) => {
        attempts.push({ id: event.eventId, attempt: delivery.attempt });
        await Promise.resolve();
        if (event.body === 'boom') throw new Error('cannot handle this one');
      });
      await until(() => attempts.some((a) => a.id === 'evt_ok_2'), 'the event after the poison');
      await consumer.stop();
      assert.deepEqual(attempts, [
        { id: 'evt_ok_1', attempt: 1 },
        { id: 'evt_poison', attempt: 1 },
        { id: 'evt_poison', attempt: 2 },
        { id: 'evt_poison', attempt: 3 },
        { id: 'evt_ok_2', attempt: 1 },
      ]);
      assert.deepEqual(problems, ['retry', 'retry', 'dead-letter']);
      assert.deepEqual(await deadLetters(), [
        { eventId: 'evt_poison', deliveries: 3, reason: 'cannot handle this one' },
      ]);
    });

    test('batches: up to max events of one partition at a time, in order, each once', async () => {
      const { stream } = await open({ partitions: 2 });
      const published: StreamEvent[] = [];
      // A backlog, so the consumer finds full batches waiting.
      for (let i = 0; i < 70; i += 1) {
        const event = { eventId: `evt_${String(i)}`, accountId: `acct_${String(i % 7)}`, body: i };
        await stream.publish(event);
        published.push(event);
      }
      const batches: { partition: number; ids: string[]; attempts: number[] }[] = [];
      const consumers = [0, 1].map((partition) =>
        stream.consumeBatch(
          partition,
          async (events, deliveries) => {
            assert.equal(events.length, deliveries.length);
            batches.push({
              partition,
              ids: events.map((e) => e.eventId),
              attempts: deliveries.map((d) => d.attempt),
            });
            await Promise.resolve();
          },
          { max: 8 },
        ),
      );
      await until(() => batches.flatMap((b) => b.ids).length >= published.length, 'every event');
      await Promise.all(consumers.map((consumer) => consumer.stop()));
      assert.ok(
        batches.every((b) => b.ids.length >= 1 && b.ids.length <= 8),
        'no batch over max',
      );
      assert.ok(
        batches.some((b) => b.ids.length === 8),
        'a waiting backlog fills a batch',
      );
      assert.ok(batches.every((b) => b.attempts.every((a) => a === 1)));
      for (const partition of [0, 1]) {
        assert.deepEqual(
          batches.filter((b) => b.partition === partition).flatMap((b) => b.ids),
          published.filter((e) => partitionOf(e.accountId, 2) === partition).map((e) => e.eventId),
          `partition ${String(partition)} order`,
        );
      }
    });

    test('a failed batch comes again in order, one at a time: only the poison is dead-lettered', async () => {
      const { stream, deadLetters } = await open({ partitions: 1, deliveriesMax: 3 });
      for (let i = 0; i < 10; i += 1)
        await stream.publish({
          eventId: `evt_${String(i)}`,
          accountId: 'acct_a',
          body: i === 4 ? 'boom' : i,
        });
      const calls: string[] = [];
      const handled = new Set<string>();
      const consumer = stream.consumeBatch(
        0,
        async (events, deliveries) => {
          calls.push(events.map((e, i) => `${e.eventId}#${String(deliveries[i]?.attempt)}`).join(','));
          await Promise.resolve();
          if (events.some((e) => e.body === 'boom')) throw new Error('poison in the batch');
          for (const event of events) handled.add(event.eventId);
        },
        { max: 8 },
      );
      await until(() => handled.has('evt_9'), 'the last event');
      await consumer.stop();
      assert.deepEqual(calls, [
        'evt_0#1,evt_1#1,evt_2#1,evt_3#1,evt_4#1,evt_5#1,evt_6#1,evt_7#1',
        'evt_0#2',
        'evt_1#2',
        'evt_2#2',
        'evt_3#2',
        'evt_4#2',
        'evt_4#3',
        'evt_5#2',
        'evt_6#2',
        'evt_7#2',
        'evt_8#1,evt_9#1',
      ]);
      assert.deepEqual(await deadLetters(), [
        { eventId: 'evt_4', deliveries: 3, reason: 'poison in the batch' },
      ]);
    });

    test('stop finishes and acknowledges the batch in hand; the next consumer resumes after it', async () => {
      const { stream } = await open({ partitions: 1 });
      for (let i = 0; i < 12; i += 1)
        await stream.publish({ eventId: `evt_${String(i)}`, accountId: 'acct_a', body: i });
      let release: (() => void) | undefined;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const first: string[][] = [];
      const consumer = stream.consumeBatch(
        0,
        async (events) => {
          first.push(events.map((e) => e.eventId));
          await held;
        },
        { max: 5 },
      );
      await until(() => first.length === 1, 'the first batch');
      const stopping = consumer.stop();
      release?.();
      await stopping;
      assert.deepEqual(
        first,
        [['evt_0', 'evt_1', 'evt_2', 'evt_3', 'evt_4']],
        'nothing after the batch in hand',
      );
      const rest: Seen[] = [];
      const next = stream.consume(0, async (event, delivery) => {
        rest.push({ event, delivery });
        await Promise.resolve();
      });
      await until(() => rest.length >= 7, 'the rest');
      await next.stop();
      assert.deepEqual(
        rest.map((s) => s.event.eventId),
        ['evt_5', 'evt_6', 'evt_7', 'evt_8', 'evt_9', 'evt_10', 'evt_11'],
      );
      assert.ok(
        rest.every((s) => s.delivery.attempt === 1),
        'the stopped batch was acknowledged',
      );
    });
  });
}
