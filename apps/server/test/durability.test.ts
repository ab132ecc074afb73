import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  accountViewSchema,
  batchResponseSchema,
  decisionSchema,
  errorBodySchema,
  type Decision,
} from '@bulwark/contracts';
import { backends, createPostgresDatabase } from './helpers/backends.ts';
import {
  firstStartKey,
  httpJson,
  killAllChildren,
  startBulwark,
  type RunningServer,
} from './helpers/processes.ts';
import { seededRandom as prng } from '../src/core/random.ts';
import { generateTraffic, type TrafficEvent } from './helpers/traffic.ts';

/**
 * The crash test: the real server as a child process, killed with SIGKILL in the middle of
 * concurrent traffic, then started again on the same database. Whatever it answered 200 before
 * the kill must still be there, with the same decision, and what it learned must still be known.
 * Checkpoints are pushed far out so the restart rebuilds state from the log.
 */

const workerCount = 20;
const requestTimeoutMs = 30_000;
/**
 * Checkpoints never come due during the test (only the processor's first cycle writes one), so
 * state after the crash must be rebuilt from the log.
 */
const serverEnv = { BULWARK_CHECKPOINT_INTERVAL_MS: '600000' };

interface Answered {
  event: TrafficEvent;
  decision: Decision;
}

interface Drive {
  answered: Map<string, Answered>;
  /** Requests that failed while the server was supposed to be up: each one is a bug. */
  failures: string[];
  stopped: boolean;
  /** 503 bodies during the drain that are not the contract's error shape. */
  offContract: string[];
}

/** Splits events into requests: about half single events, the rest batches of 2 to 15. */
function toRequests(events: readonly TrafficEvent[], seed: number): TrafficEvent[][] {
  const random = prng(seed);
  const requests: TrafficEvent[][] = [];
  for (let start = 0; start < events.length;) {
    const size = random() < 0.5 ? 1 : 2 + Math.floor(random() * 14);
    requests.push(events.slice(start, start + size));
    start += size;
  }
  return requests;
}

/**
 * Sends the events over `workerCount` concurrent connections. Once `stopAfterAnswered` events
 * were answered 200, calls `stop` (the kill) while the other workers' requests are in flight;
 * from then on network failures and 503s are expected and end a worker.
 */
async function drive(options: {
  server: RunningServer;
  key: string;
  events: readonly TrafficEvent[];
  seed: number;
  stopAfterAnswered: number;
  stop: () => Promise<void>;
}): Promise<Drive> {
  const requests = toRequests(options.events, options.seed);
  // Keep-alive connections, as a store's backend keeps them.
  const agent = new Agent({ keepAlive: true, maxSockets: workerCount });
  const result: Drive = { answered: new Map(), failures: [], stopped: false, offContract: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const batch = requests[next];
      next += 1;
      if (batch === undefined) return;
      const body = batch.length === 1 ? batch[0] : { events: batch };
      let answer;
      try {
        answer = await httpJson(`${options.server.url}/v1/events`, {
          key: options.key,
          body,
          timeoutMs: requestTimeoutMs,
          agent,
        });
      } catch (error) {
        if (!result.stopped) result.failures.push(`${batch[0]?.id ?? '?'}: ${String(error)}`);
        return;
      }
      if (answer.status === 200) {
        const decisions =
          batch.length === 1
            ? [decisionSchema.parse(answer.body)]
            : batchResponseSchema.parse(answer.body).decisions.map((d) => decisionSchema.parse(d));
        assert.equal(decisions.length, batch.length);
        batch.forEach((event, index) => {
          const decision = decisions[index];
          assert.ok(decision !== undefined);
          assert.equal(decision.eventId, event.id);
          result.answered.set(event.id, { event, decision });
        });
      } else if (result.stopped && answer.status === 503) {
        if (!errorBodySchema.safeParse(answer.body).success)
          result.offContract.push(JSON.stringify(answer.body));
        return;
      } else {
        result.failures.push(`${batch[0]?.id ?? '?'}: ${answer.status} ${JSON.stringify(answer.body)}`);
      }
      if (!result.stopped && result.answered.size >= options.stopAfterAnswered) {
        result.stopped = true;
        await options.stop();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: workerCount }, worker));
  } finally {
    // The client goes away: a draining server must not wait for its idle connections.
    agent.destroy();
  }
  return result;
}

/** Re-sends every answered event and checks each gets the decision it got before. */
async function assertAllAnsweredAgain(server: RunningServer, key: string, answered: Map<string, Answered>) {
  const all = [...answered.values()];
  for (let start = 0; start < all.length; start += 100) {
    const slice = all.slice(start, start + 100);
    const answer = await httpJson(`${server.url}/v1/events`, {
      key,
      body: { events: slice.map((a) => a.event) },
      timeoutMs: requestTimeoutMs,
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const decisions = batchResponseSchema.parse(answer.body).decisions;
    slice.forEach((sent, index) => {
      assert.deepEqual(decisions[index], sent.decision, `event ${sent.event.id} answers its stored decision`);
    });
  }
}

/** Every answered event of an account is in its timeline: the log has it, not just a cache. */
async function assertAllInTimelines(server: RunningServer, key: string, answered: Map<string, Answered>) {
  const byAccount = new Map<string, string[]>();
  for (const { event } of answered.values()) {
    if (event.accountId === undefined) continue;
    byAccount.set(event.accountId, [...(byAccount.get(event.accountId) ?? []), event.id]);
  }
  for (const [accountId, eventIds] of byAccount) {
    const seen = new Set<string>();
    let before: number | undefined;
    for (;;) {
      const page = await httpJson(
        `${server.url}/v1/accounts/${encodeURIComponent(accountId)}?limit=200${before === undefined ? '' : `&before=${before}`}`,
        { key },
      );
      assert.equal(page.status, 200, JSON.stringify(page.body));
      const timeline = accountViewSchema.parse(page.body).timeline;
      for (const entry of timeline.entries) seen.add(entry.eventId);
      if (timeline.nextBefore === undefined) break;
      before = timeline.nextBefore;
    }
    const missing = eventIds.filter((id) => !seen.has(id));
    assert.deepEqual(missing, [], `answered events missing from ${accountId}'s timeline`);
  }
}

for (const backend of backends()) {
  describe(`durability of the running server on ${backend}`, () => {
    const scratch = mkdtempSync(join(tmpdir(), `bulwark-durability-${backend}-`));
    let args: string[] = [];
    let env: Record<string, string> = serverEnv;
    let dropDatabase: (() => Promise<void>) | undefined;
    let key = '';
    let server: RunningServer | undefined;
    const drainAnswersOffContract: string[] = [];

    before(async () => {
      if (backend === 'pglite') {
        args = ['--data', join(scratch, 'data')];
      } else {
        const database = await createPostgresDatabase();
        dropDatabase = database.drop;
        env = { ...serverEnv, DATABASE_URL: database.url };
      }
    });

    after(async () => {
      await killAllChildren();
      await dropDatabase?.();
      rmSync(scratch, { recursive: true, force: true });
    });

    test('SIGKILL mid-traffic: every event answered 200 keeps its decision, and learned devices stay known', async () => {
      server = await startBulwark(args, env);
      key = await firstStartKey(server);
      const crashing = server;
      const prefix = `crash-${backend}-`;
      const events = generateTraffic({
        seed: 42,
        // Event times in the recent past: the server refuses events from the future.
        startMs: Date.now() - 3_600_000,
        stepMs: 10_000,
        count: 320,
        accountCount: 10,
        prefix,
        forgetting: false,
      });
      const run = await drive({
        server,
        key,
        events,
        seed: 1,
        stopAfterAnswered: 200,
        stop: () => crashing.process.kill('SIGKILL'),
      });
      assert.deepEqual(run.failures, [], 'no request failed before the kill');
      assert.ok(run.stopped, `the kill came (${run.answered.size} answered)`);
      assert.ok(run.answered.size < events.length, 'the kill came before all traffic was answered');
      const exit = await server.process.waitForExit('the killed server to be gone', 30_000);
      assert.equal(exit.signal, 'SIGKILL');

      server = await startBulwark(args, env);
      await assertAllAnsweredAgain(server, key, run.answered);
      await assertAllInTimelines(server, key, run.answered);

      // Sign-ins answered before the crash taught their device (no challenge failed here): the
      // restarted server knows each one.
      const learned = new Map<string, { accountId: string; context: Record<string, string> }>();
      for (const { event, decision } of run.answered.values()) {
        if (event.type !== 'login.succeeded' || decision.decision === 'deny') continue;
        const context = event.context as Record<string, string>;
        learned.set(`${event.accountId ?? ''}/${context.deviceId ?? ''}`, {
          accountId: event.accountId ?? '',
          context,
        });
      }
      assert.ok(learned.size >= 5, `enough devices were learned before the crash (${learned.size})`);
      let n = 0;
      for (const { accountId, context } of learned.values()) {
        const view = await httpJson(`${server.url}/v1/accounts/${encodeURIComponent(accountId)}?limit=1`, {
          key,
        });
        const devices = accountViewSchema.parse(view.body).devices.map((d) => d.deviceId);
        assert.ok(devices.includes(context.deviceId), `${accountId} still knows ${context.deviceId ?? ''}`);
        n += 1;
        const signIn = await httpJson(`${server.url}/v1/events`, {
          key,
          body: {
            id: `${prefix}after-${n}`,
            type: 'login.succeeded',
            at: new Date().toISOString(),
            accountId,
            context: { ...context, sessionId: `s-after-${n}` },
            method: 'password',
            secondFactor: 'totp',
          },
        });
        assert.equal(signIn.status, 200, JSON.stringify(signIn.body));
        const codes = decisionSchema.parse(signIn.body).reasons.map((r) => r.code);
        assert.ok(
          !codes.includes('new_device'),
          `${accountId}/${context.deviceId ?? ''}: ${codes.join(',')}`,
        );
        assert.ok(!codes.includes('first_seen_account'), `${accountId} is known: ${codes.join(',')}`);
      }
    });

    test('SIGTERM with requests in flight exits 0, and every answered event is there after restart', async () => {
      assert.ok(server !== undefined, 'the restarted server of the previous case runs');
      const draining = server;
      const run = await drive({
        server,
        key,
        events: generateTraffic({
          seed: 43,
          startMs: Date.now() - 1_800_000,
          stepMs: 5_000,
          count: 300,
          accountCount: 8,
          prefix: `drain-${backend}-`,
          forgetting: false,
        }),
        seed: 2,
        stopAfterAnswered: 100,
        stop: () => draining.process.kill('SIGTERM'),
      });
      assert.deepEqual(run.failures, [], 'no request failed before SIGTERM');
      assert.ok(run.stopped);
      const exit = await server.process.waitForExit('the server to drain and exit after SIGTERM', 60_000);
      assert.deepEqual(exit, { code: 0, signal: null }, server.process.describe());

      drainAnswersOffContract.push(...run.offContract);

      server = await startBulwark(args, env);
      await assertAllAnsweredAgain(server, key, run.answered);
      await assertAllInTimelines(server, key, run.answered);
      await server.process.kill('SIGTERM');
      const last = await server.process.waitForExit('the server to stop', 60_000);
      assert.equal(last.code, 0, server.process.describe());
    });

    test('a request refused while draining gets the contract error shape', () => {
      assert.deepEqual(drainAnswersOffContract, []);
    });
  });
}
