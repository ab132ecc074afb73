import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decisionSchema, type Decision } from '@bulwark/contracts';
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';
import { kyselyVerificationStore } from '../src/adapters/db/verification-store.ts';
import type { NotifyPort } from '../src/connectors/domain/notify.ts';
import { derivedIds } from '../src/core/ids.ts';
import { CaseService } from '../src/cases/service.ts';
import { IngestService } from '../src/ingest/service.ts';
import { createLogger } from '../src/logger.ts';
import type { AlertRecord, VerificationStore } from '../src/verify/ports.ts';
import { VerificationService } from '../src/verify/service.ts';
import { backends, freshDatabase, type StorageWithDatabase } from './helpers/backends.ts';
import { startTestService, type TestService } from './helpers/service.ts';
import { smtpServiceEnv, startSmtpServer, type TestSmtpServer } from './connectors/notify-test-servers.ts';

/**
 * The alert outbox handles a page of the event log in a few statements, not a few per event:
 * challenges in one insert, the channels of every alerted account in one read, learnt channels in
 * one upsert, the page's alerts in one insert and their marks as sent in one update, the cursor
 * once; only the messages go out one by one. What it does must not change: the same rows, the same messages in
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

/**
 * The real notifier, with every send attempt recorded by idempotency key (in order), and an
 * optional action run once a given key's send has returned (to make the next one fail).
 */
function watching(notify: NotifyPort): {
  notify: NotifyPort;
  attempts: string[];
  afterSending: Map<string, () => void>;
} {
  const attempts: string[] = [];
  const afterSending = new Map<string, () => void>();
  const settled = (key: string): void => {
    afterSending.get(key)?.();
    afterSending.delete(key);
  };
  const recorded =
    <C extends { idempotencyKey: string }, R>(send: (command: C) => Promise<R>) =>
    async (command: C): Promise<R> => {
      attempts.push(command.idempotencyKey);
      try {
        return await send(command);
      } finally {
        settled(command.idempotencyKey);
      }
    };
  return {
    attempts,
    afterSending,
    notify: {
      sendEmail: recorded((command) => notify.sendEmail(command)),
      sendSms: recorded((command) => notify.sendSms(command)),
    },
  };
}

/** Counts the statements sent to the database through a Kysely instance it is plugged into. */
class StatementCounter implements KyselyPlugin {
  count = 0;

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count += 1;
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

for (const backend of backends()) {
  describe(`the alert outbox, a page at a time, on ${backend}`, () => {
    let t: TestService;
    let smtp: TestSmtpServer;
    let outbox: VerificationService;
    let calls: Map<string, number>;
    let attempts: string[];
    let afterSending: Map<string, () => void>;

    before(async () => {
      smtp = await startSmtpServer({ refusedRecipient: 'refused@example.com' });
      t = await startTestService(backend, {
        BULWARK_PUBLIC_URL: 'http://localhost:8080',
        BULWARK_STORE_NAME: 'Example Store',
        ...smtpServiceEnv(smtp),
        // The test drives the outbox itself, through its own service over a counting store.
        BULWARK_ALERT_POLL_INTERVAL_MS: '3600000',
        BULWARK_CONNECTORS: 'none',
      });
      const processor = t.service.processor;
      assert.ok(processor !== undefined);
      const watched = counting(t.service.storage.verification);
      calls = watched.calls;
      const notify = watching(t.service.notify);
      attempts = notify.attempts;
      afterSending = notify.afterSending;
      outbox = new VerificationService({
        store: watched.store,
        events: t.service.storage.events,
        ingest: new IngestService({ processor, clock: t.clock, clockSkewMaxMs: t.config.clockSkewMaxMs }),
        cases: new CaseService({ storage: t.service.storage }),
        ids: derivedIds(),
        notify: notify.notify,
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

    const created = (accountId: string) => ({
      id: `${accountId}-created`,
      type: 'account.created',
      at: '2026-11-20T09:00:00Z',
      accountId,
      email: `${accountId}@example.com`,
    });
    const passwordChanged = (accountId: string) => ({
      id: `${accountId}-update`,
      type: 'account.updated',
      at: new Date(t.clock.now() - 1_000).toISOString(),
      accountId,
      context: { ip: '203.0.113.7', userAgent: chrome, deviceId: 'home', sessionId: `s-${accountId}` },
      field: 'password',
      change: 'changed',
    });
    /** Posts `events` as one batch and answers the seq each was logged at. */
    const postLogged = async (events: readonly { id: string }[]): Promise<(id: string) => number> => {
      const startSeq = await t.service.storage.verification.readCursor();
      const answer = await t.request('POST', '/v1/events', { events });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const logged = await t.service.storage.events.readAfter(startSeq, 10);
      assert.deepEqual(
        logged.map((s) => s.event.id),
        events.map((e) => e.id),
      );
      return (id) => logged.find((s) => s.event.id === id)?.seq ?? -1;
    };

    test('one page: challenges and alerts in one insert each, channels read once, each alert sent once in log order', async () => {
      await outbox.drainOutbox();
      const startSeq = await t.service.storage.verification.readCursor();
      const accounts = ['acct-b1', 'acct-b2', 'acct-b3'];
      // Each account is created with an e-mail in the same page as its challenged new-device
      // sign-in; acct-b4's new-device sign-in comes before its account.created, so its alert
      // finds no channel (as it would have, one event at a time); acct-b5 gave only a phone, so its
      // alert goes by SMS (to the development sink: no gateway is configured).
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
        {
          id: 'acct-b5-created',
          type: 'account.created',
          at: '2026-11-20T09:00:00Z',
          accountId: 'acct-b5',
          phone: '+819012345678',
        },
        signIn('acct-b5-home', 'acct-b5', 'home', '203.0.113.7', chrome, '2026-11-20T09:01:00Z'),
        signIn('acct-b5-new', 'acct-b5', 'laptop', '198.51.100.9', firefox, '2026-11-25T08:59:00Z'),
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
      for (const id of ['acct-b4-new', 'acct-b5-new'])
        assert.ok(
          decisionOf(id).reasons.some((r) => r.code === 'new_device'),
          JSON.stringify(decisionOf(id)),
        );

      calls.clear();
      attempts.length = 0;
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
      // The page's five alerts: inserted together, marked sent together.
      assert.equal(calls.get('insertAlerts'), 1);
      assert.equal(calls.get('markAlertsSent'), 1);
      assert.equal(calls.get('insertAlert'), undefined, 'no insert per alert');
      assert.equal(calls.get('markAlertSent'), undefined, 'no mark per alert');
      // Each message tried once, in log order; acct-b4 has nowhere to be told.
      assert.deepEqual(attempts, [
        ...accounts.map((accountId) => `alert:event:${accountId}-new:email`),
        'alert:event:acct-b5-new:sms',
      ]);

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
      const bySms = await store.getAlert('event:acct-b5-new');
      assert.ok(bySms?.sentAtMs !== undefined);
      assert.deepEqual(bySms.channels, ['sms']);
      assert.ok(
        (await store.listDevMessages(50)).some(
          (m) => m.idempotencyKey === 'alert:event:acct-b5-new:sms' && m.to === '+819012345678',
        ),
      );

      // An answered challenge stays answered when its event is handled again.
      const [answeredId] = challengeIds;
      assert.ok(answeredId !== undefined);
      assert.ok(
        await store.updatePendingChallenge(answeredId, { status: 'passed', completedAtMs: t.clock.now() }),
      );
      const alerted = [...accounts, 'acct-b5', 'acct-b4'];
      const alertsBefore = await Promise.all(
        alerted.map((accountId) => store.getAlert(`event:${accountId}-new`)),
      );

      // After a crash the cursor may be anywhere behind: the page again does nothing twice.
      const sentBefore = smtp.messages.length;
      await store.writeCursor(startSeq);
      calls.clear();
      attempts.length = 0;
      assert.equal(await outbox.drainOutbox(), events.length, 'the whole page handled again');
      assert.equal(await store.readCursor(), lastSeq);
      assert.deepEqual(attempts, [], 'no message tried again');
      assert.equal(smtp.messages.length, sentBefore, 'no message sent twice');
      assert.equal(calls.get('insertAlerts'), 1, 'the stored alerts read back in the one insert');
      assert.equal(calls.get('markAlertsSent'), undefined, 'nothing sent, nothing marked');
      assert.equal((await store.getChallenge(answeredId))?.status, 'passed');
      assert.deepEqual(
        await Promise.all(alerted.map((accountId) => store.getAlert(`event:${accountId}-new`))),
        alertsBefore,
        'alert rows unchanged',
      );
      assert.equal(await outbox.drainOutbox(), 0);
    });

    test('a send that fails mid-page leaves the cursor at the last event fully handled', async () => {
      const store = t.service.storage.verification;
      const seqOf = await postLogged([
        created('acct-f1'),
        created('acct-f2'),
        passwordChanged('acct-f1'),
        passwordChanged('acct-f2'),
      ]);

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

    test('a send that fails mid-page: the alerts sent before it stay marked sent, the rest go later, once', async () => {
      const store = t.service.storage.verification;
      const accounts = ['acct-m1', 'acct-m2', 'acct-m3'];
      const seqOf = await postLogged([...accounts.map(created), ...accounts.map(passwordChanged)]);
      const keyOf = (accountId: string): string => `alert:event:${accountId}-update:email`;
      const alertOf = (accountId: string) => store.getAlert(`event:${accountId}-update`);

      // acct-m1's alert goes out; the server then refuses the next message (acct-m2's) for now.
      afterSending.set(keyOf('acct-m1'), () => {
        smtp.fault('unavailable');
      });
      calls.clear();
      attempts.length = 0;
      await assert.rejects(outbox.drainOutbox(), /alert e-mail not sent \(unavailable\)/);
      assert.deepEqual(attempts, [keyOf('acct-m1'), keyOf('acct-m2')]);
      assert.equal(calls.get('insertAlerts'), 1);
      assert.equal(calls.get('markAlertsSent'), 1, 'what was sent is marked, in one statement');
      assert.equal(calls.get('markAlertSent'), undefined);
      assert.equal(await store.readCursor(), seqOf('acct-m1-update'), 'the last event fully handled');
      const first = await alertOf('acct-m1');
      assert.ok(first?.sentAtMs !== undefined, 'the alert sent before the failure is marked sent');
      assert.deepEqual(first.channels, ['email']);
      for (const accountId of ['acct-m2', 'acct-m3']) {
        const unsent = await alertOf(accountId);
        assert.ok(unsent !== undefined, `${accountId}: stored with the page`);
        assert.equal(unsent.sentAtMs, undefined, `${accountId}: not marked sent`);
        assert.deepEqual(unsent.channels, []);
      }

      // The next step handles the two remaining updates: their alerts go out, acct-m1's does not.
      t.clock.advance(1_000);
      calls.clear();
      attempts.length = 0;
      assert.equal(await outbox.drainOutbox(), 2);
      assert.equal(await store.readCursor(), seqOf('acct-m3-update'));
      assert.deepEqual(attempts, [keyOf('acct-m2'), keyOf('acct-m3')]);
      assert.equal(calls.get('markAlertsSent'), 1);
      assert.deepEqual(await alertOf('acct-m1'), first, "acct-m1's alert untouched");
      for (const accountId of ['acct-m2', 'acct-m3']) {
        const sent = await alertOf(accountId);
        assert.equal(sent?.sentAtMs, t.clock.now(), accountId);
        assert.deepEqual(sent.channels, ['email']);
      }
      const subjects = (to: string) => smtp.messages.filter((m) => m.to === to).map((m) => m.subject);
      for (const accountId of accounts)
        assert.deepEqual(
          subjects(`${accountId}@example.com`),
          ['Example Store: your password was changed'],
          accountId,
        );
    });
  });

  describe(`alerts stored and marked in batches, on ${backend}`, () => {
    let database: StorageWithDatabase;
    let counter: StatementCounter;
    let store: VerificationStore;

    before(async () => {
      database = await freshDatabase(backend);
      counter = new StatementCounter();
      store = kyselyVerificationStore(database.db.withPlugin(counter));
    });
    after(async () => {
      await database.close();
    });

    const at = Date.parse('2026-11-25T09:00:00.123Z');
    const alert = (alertId: string, detail: Record<string, string> = { field: 'email' }): AlertRecord => ({
      alertId,
      accountId: `account-of-${alertId}`,
      kind: 'sensitive_change',
      detail,
      createdAtMs: at,
      sentAtMs: undefined,
      channels: [],
      answer: undefined,
    });
    /** The statements `run` sent. */
    const statementsOf = async (run: () => Promise<unknown>): Promise<number> => {
      const before = counter.count;
      await run();
      return counter.count - before;
    };

    test('insertAlerts: new ids inserted in one statement, stored ones answered as stored', async () => {
      assert.equal(await statementsOf(async () => assert.equal((await store.insertAlerts([])).size, 0)), 0);

      // All new: one statement, every id answered with its new row.
      let answered = new Map<string, AlertRecord>();
      assert.equal(
        await statementsOf(async () => {
          answered = await store.insertAlerts([alert('a1'), alert('a2', { field: 'phone' })]);
        }),
        1,
      );
      assert.deepEqual(
        answered,
        new Map([
          ['a1', alert('a1')],
          ['a2', alert('a2', { field: 'phone' })],
        ]),
      );
      assert.deepEqual(await store.getAlert('a2'), alert('a2', { field: 'phone' }));

      await store.markAlertsSent([{ alertId: 'a1', channels: ['email'], atMs: at + 5 }]);
      const sentA1: AlertRecord = { ...alert('a1'), sentAtMs: at + 5, channels: ['email'] };

      // Mixed: a1 stored (and sent) is answered as stored, not as given; a3 is new; an id given
      // twice keeps its first record. One insert, one read.
      assert.equal(
        await statementsOf(async () => {
          answered = await store.insertAlerts([
            alert('a1', { field: 'password' }),
            alert('a3'),
            alert('a3', { field: 'address' }),
          ]);
        }),
        2,
      );
      assert.deepEqual(
        answered,
        new Map([
          ['a3', alert('a3')],
          ['a1', sentA1],
        ]),
      );
      assert.deepEqual(await store.getAlert('a1'), sentA1, 'a stored alert is left as it was');
      assert.deepEqual(await store.getAlert('a3'), alert('a3'));

      // All stored: the insert finds nothing new, one read answers them.
      assert.equal(
        await statementsOf(async () => {
          answered = await store.insertAlerts([alert('a2'), alert('a1')]);
        }),
        2,
      );
      assert.deepEqual(
        answered,
        new Map([
          ['a1', sentA1],
          ['a2', alert('a2', { field: 'phone' })],
        ]),
      );

      // The single-alert form answers the same way.
      assert.deepEqual(await store.insertAlert(alert('a1', { field: 'mfa' })), sentA1);
      assert.deepEqual(await store.insertAlert(alert('a4')), alert('a4'));
    });

    test('markAlertsSent: one statement, each row gets its own channels and time, others untouched', async () => {
      await store.insertAlerts(['m1', 'm2', 'm3', 'm4'].map((id) => alert(id)));
      assert.equal(await statementsOf(() => store.markAlertsSent([])), 0);
      assert.equal(
        await statementsOf(() =>
          store.markAlertsSent([
            { alertId: 'm1', channels: ['email', 'sms'], atMs: at + 1_000 },
            { alertId: 'm2', channels: [], atMs: at + 2_000 },
            { alertId: 'm3', channels: ['email'], atMs: at + 3_000 },
            // An id marked twice takes its last mark.
            { alertId: 'm3', channels: ['sms'], atMs: at + 4_000 },
            // An id not stored changes nothing.
            { alertId: 'missing', channels: ['email'], atMs: at + 5_000 },
          ]),
        ),
        1,
      );
      assert.deepEqual(await store.getAlert('m1'), {
        ...alert('m1'),
        sentAtMs: at + 1_000,
        channels: ['email', 'sms'],
      });
      assert.deepEqual(await store.getAlert('m2'), { ...alert('m2'), sentAtMs: at + 2_000, channels: [] });
      assert.deepEqual(await store.getAlert('m3'), {
        ...alert('m3'),
        sentAtMs: at + 4_000,
        channels: ['sms'],
      });
      assert.deepEqual(await store.getAlert('m4'), alert('m4'), 'an alert not marked stays unsent');
      assert.equal(await store.getAlert('missing'), undefined);

      // Marking again (a page handled twice) writes the new mark; the answer is kept.
      await store.answerAlert('m1', 'not_me');
      await store.markAlertsSent([{ alertId: 'm1', channels: ['email'], atMs: at + 6_000 }]);
      assert.deepEqual(await store.getAlert('m1'), {
        ...alert('m1'),
        sentAtMs: at + 6_000,
        channels: ['email'],
        answer: 'not_me',
      });
    });
  });
}
