import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { BulwarkEvent, Decision } from '@bulwark/contracts';
import { derivedIds } from '../src/core/ids.ts';
import { HotStateCache } from '../src/ingest/hot-state.ts';
import { apply, decide } from '../src/risk/domain/decider.ts';
import type { AccountState } from '../src/risk/domain/state.ts';
import { backends, freshDatabase } from './helpers/backends.ts';
import { propertyParams } from './helpers/fast-check.ts';
import { activityEvent, agents, at, failedEvent, loginEvent, testPolicy, valid } from './helpers/login.ts';

/**
 * The login state is changed in place by later events (`evolveLogin`); a checkpoint writes a copy
 * taken when it starts (`HotStateCache.takeDirty`, `copyLoginState`). Events decided while the
 * checkpoint is still being written must not reach what it writes, and the checkpoint plus the
 * events after it must rebuild exactly the live state.
 */
const accounts = ['acct-p0', 'acct-p1'];
const ips = ['20.1.1.1', '50.1.1.1', '60.1.1.1', '2400::5'];
const userAgents = [agents.macChrome, agents.iphone, agents.firefox];
const devices = [undefined, 'dev-a', 'dev-b', 'dev-c'];
const sessions = ['s-0', 's-1', 's-2'];
const actions = ['product.view', 'giftcard.redeem', 'payment_method.add'];

type Op =
  | { kind: 'login'; account: number; ip: number; ua: number; device: number; session: number; gapS: number }
  | { kind: 'failed'; account: number; ip: number; gapS: number }
  | {
      kind: 'activity';
      account: number;
      ip: number;
      device: number;
      session: number;
      action: number;
      gapS: number;
    }
  | { kind: 'completed'; account: number; passed: boolean; gapS: number }
  | { kind: 'checkpoint' };

const gap = fc.integer({ min: 1, max: 4 * 3_600 });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('login' as const),
      account: fc.nat(1),
      ip: fc.nat(3),
      ua: fc.nat(2),
      device: fc.nat(3),
      session: fc.nat(2),
      gapS: gap,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('failed' as const),
      account: fc.nat(1),
      ip: fc.nat(3),
      gapS: gap,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('activity' as const),
      account: fc.nat(1),
      ip: fc.nat(3),
      device: fc.nat(3),
      session: fc.nat(2),
      action: fc.nat(2),
      gapS: gap,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('completed' as const),
      account: fc.nat(1),
      passed: fc.boolean(),
      gapS: gap,
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'checkpoint' as const }) },
);

function rawEvent(
  op: Exclude<Op, { kind: 'checkpoint' }>,
  id: string,
  offsetMs: number,
): Record<string, unknown> {
  const accountId = accounts[op.account] as string;
  switch (op.kind) {
    case 'login': {
      const deviceId = devices[op.device];
      return loginEvent(id, offsetMs, accountId, {
        ip: ips[op.ip] as string,
        userAgent: userAgents[op.ua] as string,
        ...(deviceId === undefined ? {} : { deviceId }),
        sessionId: sessions[op.session],
      });
    }
    case 'failed':
      return failedEvent(
        id,
        offsetMs,
        { ip: ips[op.ip] as string, userAgent: agents.firefox },
        { accountId },
      );
    case 'activity': {
      const deviceId = devices[op.device];
      return activityEvent(
        id,
        offsetMs,
        accountId,
        {
          ip: ips[op.ip] as string,
          userAgent: agents.macChrome,
          ...(deviceId === undefined ? {} : { deviceId }),
          sessionId: sessions[op.session] as string,
        },
        actions[op.action] as string,
      );
    }
    case 'completed':
      return {
        id,
        type: 'challenge.completed',
        at: at(offsetMs),
        accountId,
        method: 'passkey',
        result: op.passed ? 'passed' : 'failed',
      };
  }
}

const json = (states: readonly AccountState[]): string =>
  JSON.stringify([...states].sort((a, b) => a.accountId.localeCompare(b.accountId)));

for (const backend of backends()) {
  describe(`login state changed in place, checkpointed by copy, on ${backend}`, () => {
    test('property: a checkpoint writes the state as it was when it started, and rebuilds the live state', async () => {
      const under = await freshDatabase(backend);
      const policy = testPolicy();
      let run = 0;
      try {
        await fc.assert(
          fc.asyncProperty(fc.array(opArbitrary, { minLength: 1, maxLength: 40 }), async (ops) => {
            run += 1;
            // Each run has accounts of its own, so what earlier runs stored does not matter.
            const prefix = `r${String(run)}-`;
            const hot = new HotStateCache(
              { accountsMax: 100, seriesMax: 10_000 },
              under.storage.state,
              policy,
            );
            const ids = derivedIds();
            const logged: { event: BulwarkEvent; atMs: number; decision: Decision }[] = [];
            // The store as the checkpoints left it (account id → JSON when taken), and the one in flight.
            const storedModel = new Map<string, string>();
            let loggedBefore = 0;
            let inFlight: { writing: Promise<void>; snapshot: AccountState[]; taken: string[] } | undefined;
            const land = async (): Promise<void> => {
              if (inFlight === undefined) return;
              await inFlight.writing;
              hot.flushed(true);
              // Events decided while it was written changed the live states in place, not it.
              assert.deepEqual(
                inFlight.snapshot.map((a) => JSON.stringify(a)),
                inFlight.taken,
                'a checkpoint snapshot changed after it was taken',
              );
              for (const [i, state] of inFlight.snapshot.entries())
                storedModel.set(state.accountId, inFlight.taken[i] as string);
              inFlight = undefined;
            };
            let offsetMs = 0;
            let n = 0;
            for (const op of ops) {
              if (op.kind === 'checkpoint') {
                await land();
                const dirty = hot.takeDirty();
                inFlight = {
                  writing: under.storage.state.writeCheckpoint({
                    seq: n,
                    accounts: dirty.accounts,
                    series: dirty.series,
                  }),
                  snapshot: dirty.accounts,
                  taken: dirty.accounts.map((a) => JSON.stringify(a)),
                };
                loggedBefore = logged.length;
                continue;
              }
              offsetMs += op.gapS * 1000;
              n += 1;
              const raw = rawEvent(op, `${prefix}e${String(n)}`, offsetMs);
              raw.accountId = `${prefix}${String(raw.accountId)}`;
              const { event, atMs } = valid(raw);
              await hot.ensureLoaded([event]);
              const { decision } = decide(event, atMs, hot, ids, policy);
              apply(event, decision, atMs, hot, policy);
              logged.push({ event, atMs, decision });
            }
            await land();
            const ownIds = accounts.map((a) => `${prefix}${a}`);
            const live = ownIds.flatMap((id) => hot.account(id) ?? []);
            // What the store holds is the state as the checkpoints took it…
            const stored = await under.storage.state.loadAccounts(ownIds);
            assert.equal(
              json(stored),
              json([...storedModel.values()].map((text) => JSON.parse(text) as AccountState)),
              'the store holds what the checkpoints took',
            );
            // …and it, with the decisions logged after the last one, rebuilds the live state (as a
            // restart does).
            const rebuilt = new HotStateCache({ accountsMax: 100, seriesMax: 10_000 }, undefined, policy);
            for (const state of stored) rebuilt.setAccount(state);
            for (const { event, atMs, decision } of logged.slice(loggedBefore))
              apply(event, decision, atMs, rebuilt, policy);
            const again = ownIds.flatMap((id) => rebuilt.account(id) ?? []);
            assert.equal(json(again), json(live));
          }),
          propertyParams(25),
        );
      } finally {
        await under.close();
      }
    });
  });
}
