import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decisionSchema, type Decision } from '@bulwark/contracts';
import { derivedIds } from '../src/core/ids.ts';
import { CaseService } from '../src/cases/service.ts';
import { IngestService } from '../src/ingest/service.ts';
import { createLogger } from '../src/logger.ts';
import type { VerificationStore } from '../src/verify/ports.ts';
import { VerificationService } from '../src/verify/service.ts';
import { backends } from './helpers/backends.ts';
import { startTestService, type TestService } from './helpers/service.ts';
import { startSmtpServer, type TestSmtpServer } from './connectors/notify-test-servers.ts';

/**
 * The alert outbox handles a page of the event log in a few statements, not a few per event:
 * challenges in one insert, the channels of every alerted account in one read, learnt channels in
 * one upsert, the cursor once. What it does must not change: the same rows, the same messages in
 * log order, an alert seeing exactly the channels earlier events gave, and nothing done twice
 * when a page is handled again.
 */

const chrome =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
const firefox = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0';
const newSignInSubject = 'Example Store: new sign-in to your account';

const signIn = (
  id: string,
  accountId: string,
  device: string,
  ip: string,
  userAgent: string,
  at: string,
) => ({
  id,
  type: 'login.succeeded',
  at,
  accountId,
  context: { ip, userAgent, deviceId: device, sessionId: `s-${id}` },
  method: 'password',
  secondFactor: 'none',
});

/**
 * The real store, with each call of the outbox counted by method: every call is one or two
 * statements, so the counts are the round trips the outbox asked for.
 */
function counting(store: VerificationStore): { store: VerificationStore; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const counted = new Proxy(store, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function' || typeof name !== 'string') return value;
      return (...args: unknown[]): unknown => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: counted, calls };
}

for (const backend of backends()) {
  describe(`the alert outbox, a page at a time, on ${backend}`, () => {
    let t: TestService;
    let smtp: TestSmtpServer;
    let outbox: VerificationService;
    let calls: Map<string, number>;

    before(async () => {
      smtp = await startSmtpServer({ refusedRecipient: 'refused@example.com' });
      t = await startTestService(backend, {
        BULWARK_PUBLIC_URL: 'http://localhost:8080',
        BULWARK_STORE_NAME: 'Example Store',
        BULWARK_SMTP_HOST: '127.0.0.1',
        BULWARK_SMTP_PORT: String(smtp.port),
        BULWARK_SMTP_FROM: 'Example Store Security <security@example.com>',
        // The test drives the outbox itself, through its own service over a counting store.
        BULWARK_ALERT_POLL_INTERVAL_MS: '3600000',
        BULWARK_CONNECTORS: 'none',
      });
      const processor = t.service.processor;
      assert.ok(processor !== undefined);
      const watched = counting(t.service.storage.verification);
      calls = watched.calls;
      outbox = new VerificationService({
        store: watched.store,
        events: t.service.storage.events,
        ingest: new IngestService({ processor, clock: t.clock, clockSkewMaxMs: t.config.clockSkewMaxMs }),
        cases: new CaseService({ storage: t.service.storage }),
        ids: derivedIds(),
        notify: t.service.notify,
        clock: t.clock,
        logger: createLogger('silent'),
        secret: t.config.secret,
        options: {
          publicUrl: 'http://localhost:8080',
          storeName: 'Example Store',
          rpId: 'localhost',
          origins: [],
          alertsEnabled: true,
        },
      });
    });
    after(async () => {
      await t.close();
      await smtp.close();
    });

    test('one page: challenges in one insert, channels read once, each alert sent once in log order', async () => {
      await outbox.drainOutbox();
      const startSeq = await t.service.storage.verification.readCursor();
      const accounts = ['acct-b1', 'acct-b2', 'acct-b3'];
      // Each account is created with an e-mail in the same page as its challenged new-device
      // sign-in; acct-b4's new-device sign-in comes before its account.created, so its alert
      // finds no channel (as it would have, one event at a time).
      const events = [
        ...accounts.flatMap((accountId) => [
          {
            id: `${accountId}-created`,
            type: 'account.created',
            at: '2026-11-20T09:00:00Z',
            accountId,
            email: `${accountId}@example.com`,
          },
          signIn(`${accountId}-home`, accountId, 'home', '203.0.113.7', chrome, '2026-11-20T09:01:00Z'),
          signIn(`${accountId}-new`, accountId, 'laptop', '198.51.100.9', firefox, '2026-11-25T08:59:00Z'),
        ]),
        signIn('acct-b4-home', 'acct-b4', 'home', '203.0.113.7', chrome, '2026-11-20T09:01:00Z'),
        signIn('acct-b4-new', 'acct-b4', 'laptop', '198.51.100.9', firefox, '2026-11-25T08:59:00Z'),
        {
          id: 'acct-b4-created',
          type: 'account.created',
          at: '2026-11-25T08:59:30Z',
          accountId: 'acct-b4',
          email: 'acct-b4@example.com',
        },
      ];
      const answer = await t.request('POST', '/v1/events', { events });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const decisions = (answer.body as { decisions: unknown[] }).decisions.map((d) =>
        decisionSchema.parse(d),
      );
      const decisionOf = (id: string): Decision => {
        const found = decisions[events.findIndex((e) => e.id === id)];
        assert.ok(found !== undefined, id);
        return found;
      };
      const challengeIds = accounts.map((accountId) => {
        const decision = decisionOf(`${accountId}-new`);
        assert.equal(decision.decision, 'challenge', JSON.stringify(decision));
        assert.ok(decision.challenge !== undefined);
        return decision.challenge.id;
      });
      assert.ok(
        decisionOf('acct-b4-new').reasons.some((r) => r.code === 'new_device'),
        JSON.stringify(decisionOf('acct-b4-new')),
      );

      calls.clear();
      const mailsBefore = smtp.messages.length;
      assert.equal(await outbox.drainOutbox(), events.length);
      const lastSeq = await t.service.storage.verification.readCursor();
      assert.ok(lastSeq > startSeq);

      // Batched: one insert of challenges, one read and one write of channels, one cursor.
      assert.equal(calls.get('insertChallenges'), 1);
      assert.equal(calls.get('getChannelsOf'), 1);
      assert.equal(calls.get('fillChannels'), 1);
      assert.equal(calls.get('writeCursor'), 1);
      assert.equal(calls.get('getChannels'), undefined, 'no channel read per alert');
      assert.equal(calls.get('putChannels'), undefined, 'no channel write per account.created');

      // The same rows as one event at a time.
      const store = t.service.storage.verification;
      for (const [i, challengeId] of challengeIds.entries()) {
        const record = await store.getChallenge(challengeId);
        assert.ok(record !== undefined, challengeId);
        assert.equal(record.accountId, accounts[i]);
        assert.equal(record.eventId, `${accounts[i] ?? ''}-new`);
        assert.equal(record.status, 'pending');
        assert.equal(record.device, 'Firefox on Windows');
        assert.equal(record.ip, '198.51.100.9');
      }
      for (const accountId of [...accounts, 'acct-b4'])
        assert.equal((await store.getChannels(accountId))?.email, `${accountId}@example.com`, accountId);

      // Alerts: the three accounts created earlier in the page are told by e-mail, in log order;
      // acct-b4's alert came before its e-mail was known, so it is stored as sent to no channel.
      const mails = smtp.messages.slice(mailsBefore).filter((m) => m.subject === newSignInSubject);
      assert.deepEqual(
        mails.map((m) => m.to),
        accounts.map((accountId) => `${accountId}@example.com`),
      );
      for (const accountId of accounts) {
        const alert = await store.getAlert(`event:${accountId}-new`);
        assert.ok(alert?.sentAtMs !== undefined, accountId);
        assert.deepEqual(alert.channels, ['email']);
      }
      const early = await store.getAlert('event:acct-b4-new');
      assert.ok(early?.sentAtMs !== undefined);
      assert.deepEqual(early.channels, []);

      // An answered challenge stays answered when its event is handled again.
      const [answeredId] = challengeIds;
      assert.ok(answeredId !== undefined);
      assert.ok(
        await store.updatePendingChallenge(answeredId, { status: 'passed', completedAtMs: t.clock.now() }),
      );
      const alertsBefore = await Promise.all(
        [...accounts, 'acct-b4'].map((accountId) => store.getAlert(`event:${accountId}-new`)),
      );

      // After a crash the cursor may be anywhere behind: the page again does nothing twice.
      const sentBefore = smtp.messages.length;
      await store.writeCursor(startSeq);
      assert.equal(await outbox.drainOutbox(), events.length, 'the whole page handled again');
      assert.equal(await store.readCursor(), lastSeq);
      assert.equal(smtp.messages.length, sentBefore, 'no message sent twice');
      assert.equal((await store.getChallenge(answeredId))?.status, 'passed');
      assert.deepEqual(
        await Promise.all(
          [...accounts, 'acct-b4'].map((accountId) => store.getAlert(`event:${accountId}-new`)),
        ),
        alertsBefore,
        'alert rows unchanged',
      );
      assert.equal(await outbox.drainOutbox(), 0);
    });

    test('a send that fails mid-page leaves the cursor at the last event fully handled', async () => {
      const store = t.service.storage.verification;
      const startSeq = await store.readCursor();
      const events = [
        {
          id: 'acct-f1-created',
          type: 'account.created',
          at: '2026-11-20T09:00:00Z',
          accountId: 'acct-f1',
          email: 'acct-f1@example.com',
        },
        {
          id: 'acct-f2-created',
          type: 'account.created',
          at: '2026-11-20T09:00:00Z',
          accountId: 'acct-f2',
          email: 'acct-f2@example.com',
        },
        ...['acct-f1', 'acct-f2'].map((accountId) => ({
          id: `${accountId}-update`,
          type: 'account.updated',
          at: new Date(t.clock.now() - 1_000).toISOString(),
          accountId,
          context: { ip: '203.0.113.7', userAgent: chrome, deviceId: 'home', sessionId: `s-${accountId}` },
          field: 'password',
          change: 'changed',
        })),
      ];
      const answer = await t.request('POST', '/v1/events', { events });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const logged = await t.service.storage.events.readAfter(startSeq, 10);
      assert.deepEqual(
        logged.map((s) => s.event.id),
        events.map((e) => e.id),
      );
      const seqOf = (id: string): number => logged.find((s) => s.event.id === id)?.seq ?? -1;

      // The first alert of the page (acct-f1's) meets a temporary refusal.
      smtp.fault('unavailable');
      await assert.rejects(outbox.drainOutbox(), /retried on the next step/);
      assert.equal(
        await store.readCursor(),
        seqOf('acct-f2-created'),
        'both account.created events were handled',
      );
      assert.equal(await outbox.drainOutbox(), 2, 'the two updates are handled again');
      assert.equal(await store.readCursor(), seqOf('acct-f2-update'));
      const told = (to: string) => smtp.messages.filter((m) => m.to === to).map((m) => m.subject);
      assert.deepEqual(told('acct-f1@example.com'), ['Example Store: your password was changed']);
      assert.deepEqual(told('acct-f2@example.com'), ['Example Store: your password was changed']);
    });
  });
}
