import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { decisionSchema, type Decision } from '@bulwark/contracts';
import { connectNats, JetStreamEventStream } from '../src/adapters/nats/jetstream-event-stream.ts';
import { RedisDecisionState } from '../src/adapters/redis/redis-decision-state.ts';
import { connectRedis } from '../src/adapters/redis/redis-rate-limiter.ts';
import {
  applyDegraded,
  ClusterProcessor,
  type ClusterProcessorOptions,
} from '../src/cluster/api-processor.ts';
import { MemoryDecisionState } from '../src/cluster/memory-decision-state.ts';
import type { ClusterMessage, DecisionStateStore } from '../src/cluster/ports.ts';
import { ManualClock } from '../src/core/clock.ts';
import { derivedIds } from '../src/core/ids.ts';
import { validateEvent, type ValidEvent } from '../src/ingest/validate.ts';
import { loadRiskPolicy } from '../src/main.ts';
import type { ShadowRecord } from '../src/ingest/processor.ts';
import { withOrderPolicy } from '../src/risk/domain/policy.ts';
import { replay } from '../src/sim/replay.ts';
import { MemoryEventStream } from '../src/stream/memory-event-stream.ts';
import type { EventStream, StreamEvent } from '../src/stream/port.ts';
import { deleteKeys, freePort, OwnRedis, testRedisUrl, uniquePrefix } from './helpers/redis.ts';
import type { Redis } from 'ioredis';
import { OwnServerProcess } from './helpers/own-server.ts';
import { generateTraffic, toJsonLines } from './helpers/traffic.ts';

const policy = loadRiskPolicy();
const options: ClusterProcessorOptions = {
  cycleEventsMax: 64,
  conflictRetriesMax: 50,
  republishAfterMs: 1_000,
  republishIntervalMs: 60_000,
  degraded: { login: 'closed', order: 'open' },
};

function valid(raw: unknown): ValidEvent {
  const result = validateEvent(raw);
  if (!result.ok) throw new Error(JSON.stringify(result.error));
  return result.value;
}

/** Conflicts seen by the nodes of a test (another node committed one of a batch's accounts first). */
let conflicts = 0;

function node(
  state: DecisionStateStore,
  stream: EventStream,
  clock: ManualClock,
  cycleEventsMax = options.cycleEventsMax,
) {
  return new ClusterProcessor({
    state,
    stream,
    clock,
    ids: derivedIds(),
    policy,
    options: { ...options, cycleEventsMax },
    metrics: {
      onCycle: () => undefined,
      onConflict: () => (conflicts += 1),
      onDegraded: () => undefined,
      onPublishDeferred: () => undefined,
      onRoundTrips: () => undefined,
    },
  });
}

async function decide(processor: ClusterProcessor, raw: unknown, atMs: number): Promise<Decision> {
  const [outcome] = await processor.submit([valid(raw)], atMs);
  assert.ok(outcome?.ok, JSON.stringify(outcome));
  return outcome.decision;
}

/** Every message the stream holds, read with a consumer per partition until `count` arrived. */
async function drain(stream: EventStream, count: number): Promise<StreamEvent[]> {
  const seen: StreamEvent[] = [];
  const consumers = Array.from({ length: stream.partitions }, (_unused, partition) =>
    stream.consume(partition, (event) => {
      seen.push(event);
      return Promise.resolve();
    }),
  );
  for (let i = 0; i < 400 && seen.length < count; i += 1) await new Promise((r) => setTimeout(r, 25));
  await Promise.all(consumers.map((c) => c.stop()));
  return seen;
}

const traffic = generateTraffic({
  seed: 5,
  startMs: Date.parse('2026-11-25T05:00:00Z'),
  stepMs: 10_000,
  count: 500,
  accountCount: 10,
  prefix: 'ap-',
  forgetting: true,
});
const clockStart = Date.parse('2026-11-25T09:00:00Z');

async function replayed(): Promise<Decision[]> {
  const output = new PassThrough();
  let text = '';
  output.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await replay(Readable.from([toJsonLines(traffic)]), output, () => undefined, policy);
  return text
    .trim()
    .split('\n')
    .map((line) => decisionSchema.parse(JSON.parse(line)));
}

describe('API-node processor on a shared state (in process)', () => {
  test("orders' shadow verdicts are told once their batch is committed", async () => {
    const clock = new ManualClock(clockStart);
    const shadowed = withOrderPolicy(policy, { ...policy.orders, shadow: policy.orders.rules });
    const told: ShadowRecord[] = [];
    const processor = new ClusterProcessor({
      state: new MemoryDecisionState(clock),
      stream: new MemoryEventStream({ partitions: 1, deliveriesMax: 3, retryDelayMs: 10 }),
      clock,
      ids: derivedIds(),
      policy: shadowed,
      options,
      onShadow: (records) => told.push(...records),
    });
    const orders = traffic.filter((event) => event.type === 'order.placed').slice(0, 5);
    assert.ok(orders.length > 0);
    for (const order of orders) await decide(processor, order, clock.now());
    assert.deepEqual(
      told.map((record) => record.eventId),
      orders.map((order) => order.id),
    );
    await processor.stop();
  });

  test('two nodes taking turns decide exactly as one process does, and publish every decision once', async () => {
    const clock = new ManualClock(clockStart);
    const state = new MemoryDecisionState(clock);
    const stream = new MemoryEventStream({ partitions: 4, deliveriesMax: 3, retryDelayMs: 10 });
    const nodes = [node(state, stream, clock), node(state, stream, clock)];
    const served: Decision[] = [];
    for (const [index, event] of traffic.entries())
      served.push(await decide(nodes[index % 2] as ClusterProcessor, event, clock.now()));
    // With derived ids on both sides the whole decisions are equal, challenge and case ids too.
    assert.deepEqual(served, await replayed());
    const published = await drain(stream, traffic.length);
    assert.equal(published.length, traffic.length);
    assert.equal(new Set(published.map((p) => p.eventId)).size, traffic.length);
    // Nothing waits in the spool once the stream took it.
    clock.advance(10_000);
    assert.deepEqual(await state.pendingOlderThan(0, 10), []);
    await Promise.all(nodes.map((n) => n.stop()));
  });

  test('two nodes racing on one account (Redis): every event decided once, the account counts them all', async () => {
    const clock = new ManualClock(clockStart);
    const prefix = uniquePrefix('race');
    const clients = [
      await connectRedis(testRedisUrl, { commandTimeoutMs: 2000 }),
      await connectRedis(testRedisUrl, { commandTimeoutMs: 2000 }),
    ];
    const stores = clients.map((client) => new RedisDecisionState({ client, keyPrefix: prefix, clock }));
    const state = stores[0] as RedisDecisionState;
    const stream = new MemoryEventStream({ partitions: 2, deliveriesMax: 3, retryDelayMs: 10 });
    // Small batches on two connections, so loads and commits of the two nodes interleave.
    const nodes = stores.map((store) => node(store, stream, clock, 3));
    const events = Array.from({ length: 80 }, (_unused, i) => ({
      id: `race-${String(i)}`,
      type: 'login.failed',
      at: new Date(clockStart - 60_000 + i * 100).toISOString(),
      accountId: 'acct-race',
      context: { ip: '198.51.100.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' },
      reason: 'bad_password',
    }));
    // Both nodes at once, so their loads and commits interleave.
    conflicts = 0;
    await Promise.all(
      events.map((event, i) => (nodes[i % 2] as ClusterProcessor).submit([valid(event)], clock.now())),
    );
    const load = await state.load({
      accountIds: ['acct-race'],
      seriesKeys: ['fail:ip:198.51.100.7'],
      eventIds: events.map((e) => e.id),
    });
    assert.ok(conflicts > 0, 'the nodes did collide, and the losing batches were decided again');
    assert.equal(load.prior.size, events.length, 'every event has exactly one stored outcome');
    assert.equal(load.accounts.get('acct-race')?.state?.eventCount, events.length);
    assert.equal(
      load.series.get('fail:ip:198.51.100.7')?.t.length,
      events.length,
      'no failure lost from the IP series',
    );
    await Promise.all(nodes.map((n) => n.stop()));
    await deleteKeys(clients[0] as Redis, prefix);
    for (const client of clients) client.disconnect();
  });
});

/** A NATS server of the test's own (Debian's nats-server), so it can be stopped and started. */
class OwnNats extends OwnServerProcess {
  readonly #dir: string;
  constructor(
    readonly port: number,
    dir = mkdtempSync(join(tmpdir(), 'bulwark-nats-')),
  ) {
    super('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], async () => {
      const probe = await connectNats(`nats://127.0.0.1:${String(port)}`);
      await probe.close();
    });
    this.#dir = dir;
  }
  get url(): string {
    return `nats://127.0.0.1:${String(this.port)}`;
  }
  remove(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Starts a NATS server of the test's own; `servers` stops it and removes its folder at the end. */
async function startOwnNats(servers: { stop(): Promise<void> }[]): Promise<OwnNats> {
  const natsServer = new OwnNats(await freePort());
  await natsServer.start();
  servers.push({
    stop: async () => {
      await natsServer.stop();
      natsServer.remove();
    },
  });
  return natsServer;
}

describe('API-node processor when Redis or NATS stops (real servers stopped and started)', () => {
  const servers: { stop(): Promise<void> }[] = [];
  after(async () => {
    for (const server of servers) await server.stop();
  });

  test('Redis down: sign-ins are challenged (closed), orders allowed (open), all published; effects applied once Redis is back', async () => {
    const redisServer = new OwnRedis(await freePort());
    await redisServer.start();
    servers.push(redisServer);
    const natsServer = await startOwnNats(servers);
    const clock = new ManualClock(clockStart);
    const redis = await connectRedis(redisServer.url, { commandTimeoutMs: 250 });
    const nats = await connectNats(natsServer.url);
    const prefix = uniquePrefix('degraded');
    const state = new RedisDecisionState({ client: redis, keyPrefix: prefix, clock });
    const stream = await JetStreamEventStream.open(nats, {
      stream: 'T_DEGRADED',
      subjectPrefix: 'tdegraded',
      partitions: 2,
      ackWaitMs: 5_000,
      deliveriesMax: 5,
      retryDelayMs: 50,
    });
    const processor = node(state, stream, clock);
    const login = {
      id: 'dg-login-1',
      type: 'login.succeeded',
      at: new Date(clockStart - 1000).toISOString(),
      accountId: 'acct-dg',
      context: {
        ip: '203.0.113.9',
        userAgent: 'Mozilla/5.0 (Macintosh) Safari/605.1.15',
        deviceId: 'dev-dg',
      },
      method: 'password',
    };
    const order = {
      id: 'dg-order-1',
      type: 'order.placed',
      at: new Date(clockStart - 500).toISOString(),
      accountId: 'acct-dg',
      context: login.context,
      orderId: 'o-dg-1',
      amount: { value: 1200, currency: 'JPY' },
      items: [{ category: 'physical', quantity: 1, unitPrice: { value: 1200, currency: 'JPY' } }],
      payment: { method: 'card', cardFingerprint: 'card-dg', cardCountry: 'JP' },
    };
    await redisServer.stop();
    const loginDecision = await decide(processor, login, clock.now());
    assert.equal(loginDecision.decision, 'challenge');
    assert.equal(loginDecision.reasons[0]?.code, 'shared_state_unavailable');
    assert.ok(loginDecision.challenge !== undefined, 'a challenge names its methods');
    const orderDecision = await decide(processor, order, clock.now());
    assert.equal(orderDecision.decision, 'allow');
    assert.equal(orderDecision.reasons[0]?.code, 'shared_state_unavailable');
    const published = await drain(stream, 2);
    assert.deepEqual(published.map((p) => p.eventId).sort(), ['dg-login-1', 'dg-order-1']);
    const messages = published.map((p) => p.body as ClusterMessage);
    assert.ok(messages.every((m) => m.degraded === true));
    // Redis back (empty: it keeps nothing on disk here): the worker's step applies the effects.
    await redisServer.start();
    for (let i = 0; i < 100 && redis.status !== 'ready'; i += 1) await new Promise((r) => setTimeout(r, 50));
    await applyDegraded(state, messages, policy);
    const load = await state.load({
      accountIds: ['acct-dg'],
      seriesKeys: [],
      eventIds: ['dg-login-1', 'dg-order-1'],
    });
    assert.equal(load.accounts.get('acct-dg')?.state?.eventCount, 2);
    assert.equal(load.prior.size, 2);
    // Applying again (a redelivery) changes nothing.
    const version = load.accounts.get('acct-dg')?.version;
    await applyDegraded(state, messages, policy);
    const again = await state.load({ accountIds: ['acct-dg'], seriesKeys: [], eventIds: [] });
    assert.equal(again.accounts.get('acct-dg')?.version, version);
    await processor.stop();
    await stream.destroy();
    await nats.close();
    redis.disconnect();
  });

  test('NATS down: decisions are answered and kept in the spool; published once NATS is back', async () => {
    const natsServer = await startOwnNats(servers);
    const clock = new ManualClock(clockStart);
    const state = new MemoryDecisionState(clock);
    const nats = await connectNats(natsServer.url);
    const stream = await JetStreamEventStream.open(nats, {
      stream: 'T_SPOOL',
      subjectPrefix: 'tspool',
      partitions: 2,
      ackWaitMs: 5_000,
      deliveriesMax: 5,
      retryDelayMs: 50,
    });
    const processor = node(state, stream, clock);
    await natsServer.stop();
    const events = traffic.slice(0, 20);
    for (const event of events) await decide(processor, event, clock.now());
    clock.advance(2_000);
    assert.equal((await state.pendingOlderThan(1_000, 100)).length, events.length, 'all held in the spool');
    await natsServer.start();
    let republished = 0;
    for (let i = 0; i < 100 && republished < events.length; i += 1) {
      republished += await processor.republishPending();
      if (republished < events.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(republished, events.length);
    assert.deepEqual(await state.pendingOlderThan(0, 100), []);
    const published = await drain(stream, events.length);
    assert.deepEqual(published.map((p) => p.eventId).sort(), events.map((e) => e.id).sort());
    await processor.stop();
    await stream.destroy();
    await nats.close();
  });
});
