import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  accountChanges,
  accountFields,
  cancelledBy,
  decisionSchema,
  itemCategories,
  loginFailedReasons,
  loginMethods,
  paymentMethods,
  reporters,
  secondFactors,
  sensitiveActions,
  type BulwarkEvent,
  type ChallengeMethod,
  type Decision,
  type DecisionOutcome,
  type Reason,
} from '@bulwark/contracts';
import { derivedIds } from '../src/core/ids.ts';
import { HotStateCache } from '../src/ingest/hot-state.ts';
import { validateEvent } from '../src/ingest/validate.ts';
import { apply, decide } from '../src/risk/domain/decider.ts';
import { seriesKeysOf } from '../src/risk/domain/engine.ts';
import { defaultRiskPolicy } from '../src/risk/domain/policy.ts';
import { deviceKeyOf, type AccountState } from '../src/risk/domain/state.ts';
import { propertyParams } from './helpers/fast-check.ts';

const policy = defaultRiskPolicy();

const baseMs = Date.parse('2026-11-25T09:00:00Z');
const minuteMs = 60_000;
const hotLimits = { accountsMax: 10_000, seriesMax: 10_000 };

type RawEvent = Record<string, unknown>;

/** Parses an event as the server would, so every test event is a valid contract event. */
function valid(raw: RawEvent): { event: BulwarkEvent; atMs: number } {
  const result = validateEvent(raw);
  if (!result.ok) assert.fail(`test event ${JSON.stringify(raw)} is invalid: ${result.error.message}`);
  return { event: result.value.event, atMs: result.value.atMs };
}

const at = (offsetMs: number) => new Date(baseMs + offsetMs).toISOString();

const home = { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (Macintosh)', deviceId: 'dev-home' };
const travel = { ip: '198.51.100.23', userAgent: 'Mozilla/5.0 (Linux; Android 14)', deviceId: 'dev-new' };
const account = 'acct-1';

const created = (
  id: string,
  offsetMs: number,
  fields: { email?: string; phone?: string } = {},
): RawEvent => ({
  id,
  type: 'account.created',
  at: at(offsetMs),
  accountId: account,
  ...fields,
});
const login = (id: string, offsetMs: number, context: typeof home): RawEvent => ({
  id,
  type: 'login.succeeded',
  at: at(offsetMs),
  accountId: account,
  context: { ...context, sessionId: `s-${id}` },
  method: 'password',
  secondFactor: 'totp',
});
const completed = (id: string, offsetMs: number, result: 'passed' | 'failed'): RawEvent => ({
  id,
  type: 'challenge.completed',
  at: at(offsetMs),
  accountId: account,
  method: 'passkey',
  result,
});
const compromised = (id: string, offsetMs: number, reportedBy = 'owner'): RawEvent => ({
  id,
  type: 'account.compromised',
  at: at(offsetMs),
  accountId: account,
  reportedBy,
});
/**
 * A failed sign-in for a username the store does not know: only the source IP counts it. One
 * username throughout, so these burst scenarios are not credential stuffing (many accounts from
 * one source), which login-detectors.test.ts covers.
 */
const failure = (id: string, offsetMs: number, ip: string): RawEvent => ({
  id,
  type: 'login.failed',
  at: at(offsetMs),
  context: { ip, userAgent: 'python-requests/2.31' },
  reason: 'unknown_account',
  username: 'nobody@example.com',
});
const order = (id: string, offsetMs: number): RawEvent => ({
  id,
  type: 'order.placed',
  at: at(offsetMs),
  accountId: account,
  context: { ...home, sessionId: 's-shop' },
  orderId: `o-${id}`,
  amount: { value: 5000, currency: 'JPY' },
  items: [{ category: 'gift_card', quantity: 1, unitPrice: { value: 5000, currency: 'JPY' } }],
  payment: { method: 'card' },
});

/** An order of one physical item (no gift cards, so only velocity rules apply). */
const bookOrder = (id: string, offsetMs: number): RawEvent => ({
  ...order(id, offsetMs),
  items: [{ category: 'physical', quantity: 1, unitPrice: { value: 5000, currency: 'JPY' } }],
});

/** Stands for the id of the case the scenario opened, in expected reasons. */
const openCaseId = '<open case>';

interface Expectation {
  decision: DecisionOutcome;
  /** Exactly these reasons, in order; `openCaseId` as a detail stands for the opened case. */
  reasons?: Reason[];
  /** The first reason only (order decisions add the model's contributions after the rules'). */
  firstReason?: Reason;
  methods?: ChallengeMethod[];
  /** The event `opens` a case, `joins` the open one, or has no case (undefined). */
  case?: 'opens' | 'joins';
}

interface Step {
  event: RawEvent;
  expect?: Expectation;
  /** Checks the account's state after the event is applied. */
  then?: (state: AccountState | undefined) => void;
}

interface Scenario {
  name: string;
  steps: Step[];
}

const allow: Expectation = { decision: 'allow', reasons: [] };
const times = (count: number, make: (i: number) => Step): Step[] =>
  Array.from({ length: count }, (_, i) => make(i));
const devicesOf = (state: AccountState | undefined) => state?.devices.map((d) => [d.key, d.trusted]);
const newDeviceChallenge: Expectation = {
  decision: 'challenge',
  reasons: [{ code: 'new_device' }, { code: 'new_network', detail: travel.ip }],
  methods: ['passkey', 'email_otp'],
};

const scenarios: Scenario[] = [
  {
    name: 'a first sign-in is allowed as a first-seen account',
    steps: [
      {
        event: login('l-1', 0, home),
        expect: { decision: 'allow', reasons: [{ code: 'first_seen_account' }] },
      },
    ],
  },
  {
    name: 'a sign-in from a known device and network is allowed without reasons',
    steps: [
      { event: created('c-1', -60 * minuteMs, { email: 'owner@example.com' }), expect: allow },
      {
        event: login('l-1', 0, home),
        expect: { decision: 'allow', reasons: [{ code: 'first_seen_account' }] },
      },
      { event: login('l-2', 5 * minuteMs, home), expect: allow },
    ],
  },
  {
    name: 'a new device on a new network is challenged; an e-mail on file adds email_otp',
    steps: [
      { event: created('c-1', -60 * minuteMs, { email: 'owner@example.com' }) },
      { event: login('l-1', 0, home) },
      { event: login('l-2', 45 * minuteMs, travel), expect: newDeviceChallenge },
    ],
  },
  {
    name: 'without an e-mail or phone the challenge offers passkey or device confirmation',
    steps: [
      { event: created('c-1', -60 * minuteMs) },
      { event: login('l-1', 0, home) },
      {
        event: login('l-2', 45 * minuteMs, travel),
        expect: { ...newDeviceChallenge, methods: ['passkey', 'device_confirmation'] },
      },
    ],
  },
  {
    name: 'a failed challenge takes the device back: it is new again next time',
    steps: [
      { event: created('c-1', -60 * minuteMs, { email: 'owner@example.com' }) },
      { event: login('l-1', 0, home) },
      {
        event: login('l-2', 45 * minuteMs, travel),
        expect: newDeviceChallenge,
        // Learned provisionally, untrusted until the challenge ends.
        then: (state) =>
          assert.deepEqual(devicesOf(state), [
            [deviceKeyOf(home), true],
            [deviceKeyOf(travel), false],
          ]),
      },
      {
        event: completed('ch-1', 46 * minuteMs, 'failed'),
        expect: { decision: 'allow' },
        then: (state) => {
          assert.ok(state !== undefined);
          assert.deepEqual(devicesOf(state), [[deviceKeyOf(home), true]]);
          assert.deepEqual(
            state.networks.map((n) => n.ip),
            [home.ip],
          );
          assert.deepEqual(state.pendingChallenges, []);
        },
      },
      { event: login('l-3', 50 * minuteMs, travel), expect: newDeviceChallenge },
    ],
  },
  {
    name: 'a passed challenge makes the device trusted: its next sign-in is ordinary',
    steps: [
      { event: created('c-1', -60 * minuteMs, { email: 'owner@example.com' }) },
      { event: login('l-1', 0, home) },
      { event: login('l-2', 45 * minuteMs, travel), expect: newDeviceChallenge },
      {
        event: completed('ch-1', 46 * minuteMs, 'passed'),
        expect: { decision: 'allow' },
        then: (state) =>
          assert.deepEqual(devicesOf(state), [
            [deviceKeyOf(home), true],
            [deviceKeyOf(travel), true],
          ]),
      },
      { event: login('l-3', 50 * minuteMs, travel), expect: allow },
    ],
  },
  {
    name: 'account.compromised opens a case and a second report joins it',
    steps: [
      { event: login('l-1', 0, home) },
      {
        event: compromised('x-1', 5 * minuteMs),
        expect: {
          decision: 'allow',
          reasons: [{ code: 'containment_opened', detail: 'owner' }],
          case: 'opens',
        },
        then: (state) => assert.notEqual(state?.openCaseId, undefined),
      },
      {
        event: compromised('x-2', 6 * minuteMs, 'analyst'),
        expect: {
          decision: 'allow',
          reasons: [{ code: 'containment_opened', detail: 'analyst' }],
          case: 'joins',
        },
      },
    ],
  },
  {
    name: 'while a case is open, sign-ins and orders are denied as in containment',
    steps: [
      { event: login('l-1', 0, home) },
      { event: compromised('x-1', 5 * minuteMs), expect: { decision: 'allow', case: 'opens' } },
      {
        event: login('l-2', 6 * minuteMs, home),
        expect: { decision: 'deny', reasons: [{ code: 'account_in_containment', detail: openCaseId }] },
      },
      {
        event: order('o-1', 7 * minuteMs),
        expect: { decision: 'deny', reasons: [{ code: 'account_in_containment', detail: openCaseId }] },
      },
    ],
  },
  {
    name: '21 sign-in failures from one IP within 10 minutes: the 21st is denied as a burst',
    steps: [
      ...times(20, (i) => ({ event: failure(`f-${String(i)}`, i * 25_000, '192.0.2.66'), expect: allow })),
      {
        event: failure('f-20', 20 * 25_000, '192.0.2.66'),
        expect: { decision: 'deny', reasons: [{ code: 'source_failure_burst', detail: '21' }] },
      },
    ],
  },
  {
    name: '21 sign-in failures from one IP spread over more than 10 minutes are not a burst',
    steps: times(21, (i) => ({ event: failure(`f-${String(i)}`, i * 40_000, '192.0.2.66'), expect: allow })),
  },
  // Order decisions list the model's top contributing features as reasons, so these compare
  // outcomes and the rule's reason first; order-risk.test.ts covers the order rules in depth.
  {
    name: 'the 6th order within an hour is held for review',
    steps: [
      { event: created('c-1', -30 * 24 * 60 * minuteMs) },
      ...times(5, (i) => ({
        event: bookOrder(`o-${String(i)}`, i * 10 * minuteMs),
        expect: { decision: 'allow' as const },
      })),
      {
        event: bookOrder('o-5', 50 * minuteMs),
        expect: { decision: 'review', firstReason: { code: 'order_velocity', detail: 'order_velocity' } },
      },
    ],
  },
  {
    name: 'six orders spread over more than an hour are allowed',
    steps: [
      { event: created('c-1', -30 * 24 * 60 * minuteMs) },
      ...times(6, (i) => ({
        event: bookOrder(`o-${String(i)}`, i * 13 * minuteMs),
        expect: { decision: 'allow' as const },
      })),
    ],
  },
];

function play(scenario: Scenario): void {
  const hot = new HotStateCache(hotLimits);
  const ids = derivedIds();
  let opened: string | undefined;
  for (const step of scenario.steps) {
    const { event, atMs } = valid(step.event);
    const { decision, opensCase } = decide(event, atMs, hot, ids, policy);
    decisionSchema.parse(decision);
    apply(event, decision, atMs, hot, policy);
    if (opensCase) opened = decision.caseId;
    const expected = step.expect;
    if (expected !== undefined) {
      const label = `${scenario.name}: ${event.id}`;
      assert.equal(decision.decision, expected.decision, label);
      if (expected.reasons !== undefined) {
        const reasons = expected.reasons.map((r) => (r.detail === openCaseId ? { ...r, detail: opened } : r));
        assert.deepEqual(decision.reasons, reasons, label);
      }
      if (expected.firstReason !== undefined)
        assert.deepEqual(decision.reasons[0], expected.firstReason, label);
      assert.deepEqual(decision.challenge?.methods, expected.methods, label);
      if (expected.decision === 'challenge') assert.notEqual(decision.challenge?.id, undefined, label);
      switch (expected.case) {
        case 'opens':
          assert.equal(opensCase, true, label);
          assert.equal(typeof decision.caseId, 'string', label);
          break;
        case 'joins':
          assert.equal(opensCase, false, label);
          assert.equal(decision.caseId, opened, label);
          assert.notEqual(opened, undefined, label);
          break;
        case undefined:
          assert.equal(opensCase, false, label);
          assert.equal(decision.caseId, undefined, label);
          break;
      }
    }
    step.then?.(hot.account(account));
  }
}

describe('baseline decisions through decide and apply', () => {
  for (const scenario of scenarios) test(scenario.name, () => play(scenario));
});

// Random event sequences over a few accounts, devices and networks, shaped by the contract.

const accountIds = ['acct-1', 'acct-2', 'acct-3'] as const;
const hotIp = '192.0.2.66';
const ips = [hotIp, '203.0.113.1', '198.51.100.7', '2001:db8::1'] as const;

const requestContext = (withSession: boolean) =>
  fc.record(
    {
      ip: fc.oneof(
        { weight: 2, arbitrary: fc.constant(hotIp) },
        { weight: 1, arbitrary: fc.constantFrom(...ips) },
      ),
      userAgent: fc.constantFrom('Mozilla/5.0 (Macintosh)', 'Mozilla/5.0 (iPhone)'),
      deviceId: fc.constantFrom('dev-1', 'dev-2', 'dev-3'),
      sessionId: fc.constantFrom('s-1', 's-2', 's-3'),
    },
    { requiredKeys: withSession ? ['ip', 'userAgent', 'sessionId'] : ['ip', 'userAgent'] },
  );
const accountId = fc.constantFrom(...accountIds);
const money = fc.record({ value: fc.integer({ min: 0, max: 100_000 }), currency: fc.constant('JPY') });

/** One event without `id` and `at`, any type, with the contract's optional fields sometimes. */
const eventBody: fc.Arbitrary<RawEvent> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record(
      {
        type: fc.constant('account.created'),
        accountId,
        email: fc.constantFrom('a@example.com', 'b@example.com'),
        phone: fc.constant('+81-90-0000-0000'),
      },
      { requiredKeys: ['type', 'accountId'] },
    ),
  },
  {
    weight: 18,
    arbitrary: fc.record(
      {
        type: fc.constant('login.failed'),
        accountId,
        context: requestContext(false),
        reason: fc.constantFrom(...loginFailedReasons),
        username: fc.constantFrom('alice', 'bob', 'carol'),
      },
      { requiredKeys: ['type', 'context', 'reason'] },
    ),
  },
  {
    weight: 18,
    arbitrary: fc.record(
      {
        type: fc.constant('login.succeeded'),
        accountId,
        context: requestContext(false),
        method: fc.constantFrom(...loginMethods),
        secondFactor: fc.constantFrom(...secondFactors),
      },
      { requiredKeys: ['type', 'accountId', 'context', 'method'] },
    ),
  },
  {
    weight: 8,
    arbitrary: fc.record(
      {
        type: fc.constant('challenge.completed'),
        accountId,
        context: requestContext(false),
        challengeId: fc.constant('ch_unknown'),
        method: fc.constantFrom('passkey', 'email_otp'),
        result: fc.constantFrom('passed', 'failed'),
      },
      { requiredKeys: ['type', 'accountId', 'method', 'result'] },
    ),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      type: fc.constant('session.activity'),
      accountId,
      context: requestContext(true),
      action: fc.constantFrom(...sensitiveActions, 'cart.view'),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record(
      {
        type: fc.constant('account.updated'),
        accountId,
        context: requestContext(false),
        field: fc.constantFrom(...accountFields),
        change: fc.constantFrom(...accountChanges),
      },
      { requiredKeys: ['type', 'accountId', 'context', 'field'] },
    ),
  },
  {
    weight: 12,
    arbitrary: fc.record(
      {
        type: fc.constant('order.placed'),
        accountId,
        context: requestContext(false),
        orderId: fc.constantFrom('o-1', 'o-2', 'o-3'),
        amount: money,
        items: fc.array(
          fc.record({
            category: fc.constantFrom(...itemCategories),
            quantity: fc.integer({ min: 1, max: 3 }),
            unitPrice: money,
          }),
          { minLength: 1, maxLength: 2 },
        ),
        shipping: fc.record({ country: fc.constantFrom('JP', 'VN') }),
        payment: fc.record(
          { method: fc.constantFrom(...paymentMethods), cardFingerprint: fc.constantFrom('fp-1', 'fp-2') },
          { requiredKeys: ['method'] },
        ),
      },
      { requiredKeys: ['type', 'accountId', 'context', 'orderId', 'amount', 'items', 'payment'] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('order.archived'),
      accountId,
      context: requestContext(false),
      orderId: fc.constantFrom('o-1', 'o-2'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('order.cancelled'),
      accountId,
      orderId: fc.constantFrom('o-1', 'o-2'),
      by: fc.constantFrom(...cancelledBy),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        type: fc.constant('account.compromised'),
        accountId,
        reportedBy: fc.constantFrom(...reporters),
        since: fc.constant(at(-86_400_000)),
      },
      { requiredKeys: ['type', 'accountId', 'reportedBy'] },
    ),
  },
);

/**
 * Events with unique ids over ten minutes (bursts) or two hours of event time, in order or
 * shuffled: the store's clock is not ours, so event time may go backwards.
 */
const eventSequence = fc
  .tuple(
    fc.array(fc.tuple(eventBody, fc.double({ min: 0, max: 1, noNaN: true })), {
      minLength: 1,
      maxLength: 120,
      size: 'max',
    }),
    fc.constantFrom(10 * minuteMs, 120 * minuteMs),
    fc.boolean(),
  )
  .map(([bodies, spanMs, inOrder]) => {
    const timed = bodies.map(([body, share]) => ({ body, offsetMs: Math.floor(share * spanMs) }));
    if (inOrder) timed.sort((x, y) => x.offsetMs - y.offsetMs);
    return timed.map(({ body, offsetMs }, i) => valid({ ...body, id: `e-${String(i)}`, at: at(offsetMs) }));
  });

interface StateView {
  accounts: (AccountState | undefined)[];
  series: Record<string, unknown>;
}

/** Everything the hot state knows about the pool's accounts and the given series keys. */
function stateOf(hot: HotStateCache, keys: Iterable<string>): StateView {
  const series: Record<string, unknown> = {};
  for (const key of [...keys].sort()) series[key] = hot.series(key).snapshot();
  return { accounts: accountIds.map((id) => hot.account(id)), series };
}

describe('decider properties', () => {
  test('rebuilding from the stored (event, decision) pairs gives the live state', () => {
    fc.assert(
      fc.property(eventSequence, (events) => {
        const live = new HotStateCache(hotLimits);
        const ids = derivedIds();
        const log: { event: BulwarkEvent; decision: Decision; atMs: number }[] = [];
        for (const { event, atMs } of events) {
          const { decision } = decide(event, atMs, live, ids, policy);
          decisionSchema.parse(decision);
          apply(event, decision, atMs, live, policy);
          log.push({ event, decision, atMs });
        }
        // What the event log hands back: JSON, as stored in the database.
        const stored = JSON.parse(JSON.stringify(log)) as typeof log;
        const rebuilt = new HotStateCache(hotLimits);
        for (const { event, decision, atMs } of stored) apply(event, decision, atMs, rebuilt, policy);

        const keys = new Set(events.flatMap(({ event }) => seriesKeysOf(event, policy)));
        assert.deepEqual(stateOf(rebuilt, keys), stateOf(live, keys));
      }),
      propertyParams(150),
    );
  });

  test('decide changes nothing: state and event are the same before and after', () => {
    fc.assert(
      fc.property(eventSequence, (events) => {
        const hot = new HotStateCache(hotLimits);
        const ids = derivedIds();
        const keys = new Set<string>();
        for (const { event, atMs } of events) {
          for (const key of seriesKeysOf(event, policy)) keys.add(key);
          const before = structuredClone(stateOf(hot, keys));
          const eventBefore = structuredClone(event);
          const first = decide(event, atMs, hot, ids, policy);
          assert.deepEqual(stateOf(hot, keys), before, `decide changed state on ${event.id}`);
          assert.deepEqual(event, eventBefore);
          // Nothing changed, so deciding again answers the same.
          assert.deepEqual(decide(event, atMs, hot, ids, policy), first);
          apply(event, first.decision, atMs, hot, policy);
        }
      }),
      propertyParams(150),
    );
  });

  test('deciding a sign-in creates no series: series it only reads are not made and kept', () => {
    fc.assert(
      fc.property(eventSequence, (events) => {
        const hot = new HotStateCache(hotLimits);
        const ids = derivedIds();
        for (const { event, atMs } of events) {
          const held = hot.seriesCount;
          const { decision } = decide(event, atMs, hot, ids, policy);
          if (event.type === 'login.succeeded')
            assert.equal(hot.seriesCount, held, `decide made series on ${event.id}`);
          apply(event, decision, atMs, hot, policy);
        }
      }),
      propertyParams(100),
    );
  });
});
