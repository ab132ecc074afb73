import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { BulwarkEvent, Decision } from '@bulwark/contracts';
import pino from 'pino';
import { SandboxWorld } from '../../src/adapters/sandbox/world.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { derivedIds } from '../../src/core/ids.ts';
import { backends, freshDatabase, type StorageWithDatabase } from '../helpers/backends.ts';

/**
 * The store follower hands a page of logged events to `SandboxWorld.onDecidedAll`, which sends
 * runs of sign-ins to the store together. The store must end up exactly as if every event had
 * gone through `onDecided` one at a time: accounts created, sessions opened except for denied
 * sign-ins and locked accounts, the first of two sign-ins with one session id kept.
 */

const startMs = Date.parse('2026-11-20T09:00:00Z');

function signIn(id: string, accountId: string, sessionId: string | undefined): BulwarkEvent {
  return {
    id,
    type: 'login.succeeded',
    at: '2026-11-20T09:00:00Z',
    accountId,
    context: {
      ip: '203.0.113.7',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
      ...(sessionId === undefined ? {} : { sessionId }),
    },
    method: 'password',
  };
}

function failed(id: string, accountId: string): BulwarkEvent {
  return {
    id,
    type: 'login.failed',
    at: '2026-11-20T09:00:00Z',
    accountId,
    context: { ip: '198.51.100.4', userAgent: 'curl/8.5.0' },
    reason: 'bad_password',
  };
}

function decided(
  event: BulwarkEvent,
  outcome: Decision['decision'],
): { event: BulwarkEvent; decision: Decision } {
  return { event, decision: { eventId: event.id, decision: outcome, score: 0, reasons: [] } };
}

const page: { event: BulwarkEvent; decision: Decision }[] = [
  decided(
    {
      id: 'e-created',
      type: 'account.created',
      at: '2026-11-20T09:00:00Z',
      accountId: 'acct-created',
      email: 'created@example.com',
    },
    'allow',
  ),
  decided(signIn('e-1', 'acct-new', 's-1'), 'allow'),
  decided(failed('e-2', 'acct-new'), 'allow'),
  decided(signIn('e-3', 'acct-locked', 's-3'), 'allow'),
  decided(signIn('e-4', 'acct-denied', 's-4'), 'deny'),
  decided(signIn('e-5', 'acct-created', 's-5'), 'challenge'),
  decided(failed('e-6', 'acct-other'), 'deny'),
  // The same session id again, for another account: the first sign-in keeps it.
  decided(signIn('e-7', 'acct-second', 's-1'), 'allow'),
  // No session id: the event id stands in for it.
  decided(signIn('e-8', 'acct-new', undefined), 'allow'),
  decided(signIn('e-9', 'acct-reset', 's-9'), 'allow'),
];

interface StoreRows {
  accounts: unknown[];
  sessions: unknown[];
}

async function storeRows(under: StorageWithDatabase): Promise<StoreRows> {
  const db = under.db as unknown as import('kysely').Kysely<{
    sandbox_store_accounts: { account_id: string; email: string | null; locked: boolean };
    sandbox_store_sessions: { session_id: string; account_id: string; revoked_at: Date | null };
  }>;
  const accounts = await db
    .selectFrom('sandbox_store_accounts')
    .select(['account_id', 'email', 'locked'])
    .orderBy('account_id')
    .execute();
  const sessions = await db
    .selectFrom('sandbox_store_sessions')
    .select(['session_id', 'account_id', 'revoked_at'])
    .orderBy('session_id')
    .execute();
  return { accounts, sessions };
}

for (const backend of backends()) {
  describe(`store follower batches sign-ins on ${backend}`, () => {
    const worlds: { under: StorageWithDatabase; world: SandboxWorld }[] = [];
    before(async () => {
      for (let i = 0; i < 2; i += 1) {
        const under = await freshDatabase(backend);
        const clock = new ManualClock(startMs);
        const world = new SandboxWorld({
          db: under.db,
          clock,
          logger: pino({ level: 'silent' }),
          webhookSecret: 'whsec_follower_test',
          ids: derivedIds(),
        });
        // An account the store has locked, and one that must reset its password, before the page.
        await world.store.createAccount({ accountId: 'acct-locked' });
        await world.store.createAccount({ accountId: 'acct-reset' });
        const locked = await world.store.port.lockAccount({
          accountId: 'acct-locked',
          idempotencyKey: 'lock-1',
        });
        assert.ok(locked.ok);
        const reset = await world.store.port.forcePasswordReset({
          accountId: 'acct-reset',
          idempotencyKey: 'reset-1',
        });
        assert.ok(reset.ok);
        worlds.push({ under, world });
      }
    });
    after(async () => {
      for (const { under } of worlds) await under.close();
    });

    test('a page through onDecidedAll leaves the store as onDecided one event at a time', async () => {
      const [one, all] = worlds;
      assert.ok(one !== undefined && all !== undefined);
      for (const { event, decision } of page) await one.world.onDecided(event, decision);
      await all.world.onDecidedAll(page);
      const expected = await storeRows(one.under);
      assert.deepEqual(await storeRows(all.under), expected);
      // What the one-at-a-time path gives, spelled out, so the comparison cannot pass vacuously.
      assert.deepEqual(
        (expected.sessions as { session_id: string; account_id: string }[]).map((s) => [
          s.session_id,
          s.account_id,
        ]),
        [
          ['e-8', 'acct-new'],
          ['s-1', 'acct-new'],
          ['s-5', 'acct-created'],
        ],
      );
      assert.deepEqual(
        (expected.accounts as { account_id: string }[]).map((a) => a.account_id),
        ['acct-created', 'acct-locked', 'acct-new', 'acct-reset', 'acct-second'],
      );
      // Again: nothing changes (every action is idempotent).
      await all.world.onDecidedAll(page);
      assert.deepEqual(await storeRows(all.under), expected);
    });
  });
}
