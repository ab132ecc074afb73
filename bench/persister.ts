/**
 * How fast a cluster worker persists the event stream: N decided-event messages (default 20,000,
 * over 2,000 accounts, each with the account's state; one in 500 opens a case with a run) are
 * published to a JetStream stream of P partitions (default 8) first, then one `StreamPersister`
 * writes them to PostgreSQL, once per batch size (default 1 and 64), each in a fresh database and
 * stream. The same with the in-process stream shows what the NATS round trips cost.
 *
 *   node --import tsx bench/persister.ts [--messages 20000] [--partitions 8] [--batches 1,64]
 *     [--transports jetstream,memory] [--rate 0] [--write-interval ms (the persister's default)]
 *     [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--nats-url nats://127.0.0.1:4222]
 *
 * With `--rate N` (JetStream only) the messages are not published first: a child process publishes
 * them at N events/s while the persister runs, as API nodes do under a steady load. Batches are
 * then as small as the rate makes them, and the per-batch costs (pulls, acks, round trips to
 * PostgreSQL) show, as they do on a worker that keeps up.
 *
 * Besides events/s it prints the CPU spent per persisted event by this process (the persister,
 * with the stream client and the database driver) and by every `postgres` process on the machine:
 * on a shared machine wall time varies with other work, CPU per event much less.
 *
 * Prints the figures; writes nothing.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BulwarkEvent } from '@bulwark/contracts';
import { migrateToLatest, openDatabase } from '../apps/server/src/adapters/db/database.ts';
import { kyselyStorage } from '../apps/server/src/adapters/db/kysely-storage.ts';
import {
  connectNats,
  JetStreamEventStream,
} from '../apps/server/src/adapters/nats/jetstream-event-stream.ts';
import { StreamPersister, type PersistedBatch } from '../apps/server/src/cluster/persister.ts';
import type { ClusterMessage } from '../apps/server/src/cluster/ports.ts';
import type { AccountState } from '../apps/server/src/risk/domain/state.ts';
import { MemoryEventStream } from '../apps/server/src/stream/memory-event-stream.ts';
import type { EventStream } from '../apps/server/src/stream/port.ts';
import { commandGroup } from './cluster-probes.ts';
import { processCpuS } from './cpu.ts';
import { createBenchDatabase } from './postgres.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    partitions: { type: 'string', default: '8' },
    batches: { type: 'string', default: '1,64' },
    transports: { type: 'string', default: 'jetstream,memory' },
    rate: { type: 'string', default: '0' },
    'write-interval': { type: 'string' },
    // Internal: the paced publisher child of a `--rate` run (stream name, subject prefix).
    'publish-to': { type: 'string' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    'nats-url': { type: 'string', default: 'nats://127.0.0.1:4222' },
  },
});
const total = Number(values.messages);
const rate = Number(values.rate);
const partitions = Number(values.partitions);
const batchSizes = values.batches.split(',').map(Number);
const accounts = Math.max(1, Math.round(total / 10));
const baseMs = Date.parse('2026-11-26T09:00:00Z');

function messageAt(i: number): ClusterMessage {
  const accountId = `bench-acct-${String(i % accounts)}`;
  const eventId = `bench-evt-${String(i)}`;
  const n = Math.floor(i / accounts) + 1;
  const atMs = baseMs + i * 10;
  const event: BulwarkEvent = {
    id: eventId,
    type: 'login.succeeded',
    at: new Date(atMs).toISOString(),
    accountId,
    context: {
      ip: `203.0.113.${String(i % 250)}`,
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
      deviceId: `dev-${String(i % 3)}`,
      sessionId: `s-${eventId}`,
    },
    method: 'password',
  };
  const state: AccountState = {
    accountId,
    firstSeenAt: baseMs,
    lastSeenAt: atMs,
    eventCount: n,
    risk: 10,
    devices: [
      {
        key: 'id:dev-0',
        deviceId: 'dev-0',
        userAgent: 'Mozilla/5.0',
        firstSeenAt: baseMs,
        lastSeenAt: atMs,
        seenCount: n,
        trusted: true,
      },
    ],
    networks: [{ ip: '203.0.113.7', firstSeenAt: baseMs, lastSeenAt: atMs, seenCount: n }],
    sessions: [],
    pendingChallenges: [],
  };
  const message: ClusterMessage = {
    v: 1,
    record: {
      eventId,
      accountId,
      type: event.type,
      atMs,
      receivedAtMs: atMs + 2,
      decidedAtMs: atMs + 4,
      contentHash: `hash-${eventId}`,
      event,
      decision: { eventId, accountId, decision: 'allow', score: 10, reasons: [] },
      policyVersion: 'baseline-1',
    },
    account: { state, version: n },
  };
  if (i % 500 === 499)
    message.openedCase = {
      caseId: `bench-case-${String(i)}`,
      accountId,
      status: 'open',
      reportedBy: 'owner',
      openedAtMs: atMs,
      sinceMs: atMs - 3_600_000,
      openedByEventId: eventId,
      run: { playbook: 'ato-lockdown' },
    };
  return message;
}

async function publishAll(stream: EventStream): Promise<number> {
  const started = performance.now();
  const inFlight = 256;
  for (let start = 0; start < total; start += inFlight) {
    const part = [];
    for (let i = start; i < Math.min(total, start + inFlight); i += 1) {
      const message = messageAt(i);
      part.push(
        stream.publish({
          eventId: message.record.eventId,
          accountId: message.record.accountId ?? '',
          body: message,
        }),
      );
    }
    await Promise.all(part);
  }
  return performance.now() - started;
}

/**
 * The child of a `--rate` run: publishes every message at `rate` events/s to the stream the parent
 * opened, so its CPU is not counted as the persister's.
 */
async function publishPaced(streamName: string, subjectPrefix: string): Promise<void> {
  const connection = await connectNats(values['nats-url'], 'bulwark-bench-publisher');
  const stream = await JetStreamEventStream.open(connection, {
    partitions,
    deliveriesMax: 5,
    retryDelayMs: 100,
    stream: streamName,
    subjectPrefix,
    ackWaitMs: 30_000,
  });
  const started = performance.now();
  let sent = 0;
  const inFlight = new Set<Promise<unknown>>();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
    for (; sent < due; sent += 1) {
      const message = messageAt(sent);
      const published = stream.publish({
        eventId: message.record.eventId,
        accountId: message.record.accountId ?? '',
        body: message,
      });
      inFlight.add(published);
      void published.finally(() => inFlight.delete(published));
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(inFlight);
  await connection.close();
}

/** Starts the paced publisher child; resolves when it has published everything. */
function startPublisher(streamName: string, subjectPrefix: string): Promise<void> {
  const args = [
    ...process.execArgv,
    fileURLToPath(import.meta.url),
    ...['--messages', String(total), '--partitions', String(partitions), '--rate', String(rate)],
    ...['--nats-url', values['nats-url'], '--publish-to', `${streamName},${subjectPrefix}`],
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`the publisher exited with ${String(code)}`));
    });
  });
}

interface Figures {
  transport: string;
  batchMax: number;
  eventsPerSecond: number;
  seconds: number;
  batches: number;
  meanBatch: number;
  batchMsP50: number;
  batchMsP99: number;
  publishSeconds: number;
  /** CPU µs per event of this process (persister, stream client, driver) while persisting. */
  persisterUs: number;
  /** CPU µs per event of every `postgres` process while persisting. */
  postgresUs: number;
}

const postgres = commandGroup('postgres', 'postgres');

/** CPU seconds of every `postgres` process now (a backend that ended since is not counted). */
function postgresCpuS(): number {
  return postgres.pids().reduce((sum, pid) => sum + processCpuS(pid), 0);
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

async function runOnce(transport: 'jetstream' | 'memory', batchMax: number): Promise<Figures> {
  const database = await createBenchDatabase(
    values['database-url'],
    `bulwark_bench_persist_${randomBytes(4).toString('hex')}`,
  );
  const handle = await openDatabase({
    databaseUrl: database.url,
    dataDir: 'unused',
    poolSize: partitions + 2,
  });
  await migrateToLatest(handle.db);
  const storage = kyselyStorage(handle);
  const id = randomBytes(4).toString('hex');
  const connection =
    transport === 'jetstream' ? await connectNats(values['nats-url'], 'bulwark-bench') : undefined;
  const streamOptions = { partitions, deliveriesMax: 5, retryDelayMs: 100 };
  const stream =
    connection === undefined
      ? new MemoryEventStream(streamOptions)
      : await JetStreamEventStream.open(connection, {
          ...streamOptions,
          stream: `BULWARK_BENCH_${id}`,
          subjectPrefix: `bulwark-bench.${id}`,
          ackWaitMs: 30_000,
        });
  const paced = rate > 0 && stream instanceof JetStreamEventStream;
  try {
    const publishMs = paced ? 0 : await publishAll(stream);
    const batches: PersistedBatch[] = [];
    let done: (() => void) | undefined;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    let appended = 0;
    const persister = new StreamPersister({
      stream,
      events: storage.events,
      batchMax,
      writeIntervalMs: values['write-interval'] === undefined ? undefined : Number(values['write-interval']),
      applyDegraded: () => Promise.reject(new Error('no degraded messages in this bench')),
      onError: (error) => {
        console.error('batch failed', error);
      },
      onBatch: (batch) => {
        batches.push(batch);
        appended += batch.appended;
        if (appended >= total) done?.();
      },
    });
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const postgresBefore = postgresCpuS();
    persister.start();
    const publisher = paced ? startPublisher(`BULWARK_BENCH_${id}`, `bulwark-bench.${id}`) : undefined;
    await Promise.all([finished, publisher]);
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const postgresS = postgresCpuS() - postgresBefore;
    await persister.stop();
    const stored = await database.countEvents();
    if (stored !== total) throw new Error(`expected ${String(total)} events stored, found ${String(stored)}`);
    const durations = batches.map((b) => b.durationMs).sort((a, b) => a - b);
    return {
      transport,
      batchMax,
      eventsPerSecond: Math.round(total / (elapsedMs / 1000)),
      seconds: elapsedMs / 1000,
      batches: batches.length,
      meanBatch: total / batches.length,
      batchMsP50: quantile(durations, 0.5),
      batchMsP99: quantile(durations, 0.99),
      publishSeconds: publishMs / 1000,
      persisterUs: (cpu.user + cpu.system) / total,
      postgresUs: (postgresS * 1e6) / total,
    };
  } finally {
    if (stream instanceof JetStreamEventStream) await stream.destroy();
    else await stream.close();
    await connection?.close();
    await storage.close();
    await database.drop();
  }
}

const publishTo = values['publish-to']?.split(',');
if (publishTo !== undefined) {
  await publishPaced(publishTo[0] ?? '', publishTo[1] ?? '');
  process.exit(0);
}

console.log(
  `persister bench: ${String(total)} messages, ${String(accounts)} accounts, ${String(partitions)} partitions, ` +
    `${rate > 0 ? `published at ${String(rate)}/s while persisting, ` : ''}${String(cpus().length)} CPUs, PostgreSQL ${values['database-url'].replace(/\/\/[^@]*@/, '//')}`,
);
const rows: Figures[] = [];
const transports = values.transports
  .split(',')
  .filter((t): t is 'jetstream' | 'memory' => t === 'jetstream' || t === 'memory');
for (const transport of transports) {
  for (const batchMax of batchSizes) {
    const figures = await runOnce(transport, batchMax);
    rows.push(figures);
    console.log(
      `${transport.padEnd(9)} batch ≤${String(batchMax).padStart(3)}: ${String(figures.eventsPerSecond).padStart(6)} events/s ` +
        `(${figures.seconds.toFixed(2)} s; ${String(figures.batches)} batches, mean ${figures.meanBatch.toFixed(1)} events; ` +
        `batch write p50 ${figures.batchMsP50.toFixed(1)} ms, p99 ${figures.batchMsP99.toFixed(1)} ms; published in ${figures.publishSeconds.toFixed(1)} s); ` +
        `CPU per event: persister ${figures.persisterUs.toFixed(0)} µs, postgres ${figures.postgresUs.toFixed(0)} µs`,
    );
  }
}
