import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import type { CommandFault } from '../../src/adapters/sandbox/faults.ts';
import { signWebhook } from '../../src/adapters/sandbox/webhook-signature.ts';
import { providerErrorFrom, stripePayments } from '../../src/adapters/payments/stripe/stripe-payments.ts';
import type { PaymentsPort } from '../../src/connectors/domain/payments.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { dayMs } from '../../src/core/time.ts';
import { runPaymentsConformance, type PaymentsHarness, type PortCommand } from './payments-conformance.ts';
import {
  startStripeFixtureServer,
  type ServerFault,
  type StripeFixtureServer,
} from './stripe-fixture-server.ts';
import { checkRequest, enumOf, fixture, schemaOf, validate } from './stripe-spec.ts';

const startMs = Date.parse('2026-11-25T09:00:00Z');
const webhookSecret = 'whsec_fixture_secret';

/** Which request of the adapter a port command's fault lands on (the mutating one). */
const routes: Record<PortCommand, { method: string; path: RegExp }> = {
  getPayment: { method: 'GET', path: /^\/v1\/payment_intents\/[^/]+$/ },
  voidAuthorization: { method: 'POST', path: /^\/v1\/payment_intents\/[^/]+\/cancel$/ },
  capture: { method: 'POST', path: /^\/v1\/payment_intents\/[^/]+\/capture$/ },
  refund: { method: 'POST', path: /^\/v1\/refunds$/ },
  listRefunds: { method: 'GET', path: /^\/v1\/refunds$/ },
  listBalanceTransactions: { method: 'GET', path: /^\/v1\/balance_transactions$/ },
  listDisputes: { method: 'GET', path: /^\/v1\/disputes$/ },
  listEarlyFraudWarnings: { method: 'GET', path: /^\/v1\/radar\/early_fraud_warnings$/ },
};

/**
 * How each port-level fault shows up on the wire. The SDK retries a closed connection once by
 * itself (with the same Idempotency-Key), so a lost answer needs two dropped connections to
 * reach the adapter as a timeout.
 */
function wireFaults(fault: CommandFault): ServerFault[] {
  switch (fault.kind) {
    case 'timeout':
      return fault.when === 'after_effect' ? ['drop_after', 'drop_before'] : ['drop_before', 'drop_before'];
    case 'unavailable':
      return ['unavailable'];
    case 'rate_limited':
      return ['rate_limited'];
  }
}

function connect(server: StripeFixtureServer, maxNetworkRetries = 0): PaymentsPort {
  return stripePayments({
    apiKey: server.apiKey,
    webhookSecret,
    host: '127.0.0.1',
    port: server.port,
    protocol: 'http',
    maxNetworkRetries,
  });
}

function harness(server: StripeFixtureServer, clock: ManualClock): PaymentsHarness {
  return {
    port: connect(server),
    authorize(amount, options = {}) {
      return Promise.resolve(
        server.authorize(amount.value, amount.currency, { refunds: options.refunds ?? 'succeed_now' }),
      );
    },
    injectFault(fault, command) {
      const route = routes[command];
      server.injectFault(route.method, route.path, wireFaults(fault));
    },
    settlePendingRefunds() {
      clock.advance(dayMs);
      server.settlePendingRefunds();
      return Promise.resolve();
    },
    expireAuthorization(paymentId) {
      clock.advance(7 * dayMs);
      server.expire(paymentId);
      return Promise.resolve();
    },
    openDispute(paymentId, stage) {
      server.openDispute(paymentId, stage);
      return Promise.resolve();
    },
    raiseWarning(paymentId, fraudType) {
      server.raiseWarning(paymentId, fraudType);
      return Promise.resolve();
    },
    refundWebhook(refundId) {
      const rawBody = JSON.stringify(server.eventFor('refund.updated', refundId));
      const sentAtMs = clock.now();
      return Promise.resolve({
        rawBody,
        header: signWebhook(webhookSecret, rawBody, Math.floor(sentAtMs / 1000)),
        sentAtMs,
      });
    },
    nowMs: () => clock.now(),
  };
}

// Every server of the suite, so the last test can check none saw a request the spec forbids.
const servers: StripeFixtureServer[] = [];

runPaymentsConformance('stripe against recorded fixtures', () =>
  Promise.resolve({
    async make() {
      const clock = new ManualClock(startMs);
      const server = await startStripeFixtureServer(clock);
      servers.push(server);
      return harness(server, clock);
    },
    async close() {
      for (const server of servers) await server.close();
    },
  }),
);

describe('stripe adapter: wire shapes', () => {
  let server: StripeFixtureServer;
  let clock: ManualClock;
  before(async () => {
    clock = new ManualClock(startMs);
    server = await startStripeFixtureServer(clock);
  });
  after(async () => {
    await server.close();
  });

  test('every request of the conformance suite was one the OpenAPI description allows, and every answer fit its schema', () => {
    assert.ok(servers.length > 10, 'the conformance suite ran first');
    const requests = servers.flatMap((s) => s.requests);
    assert.ok(requests.length > 50);
    assert.deepEqual(
      servers.flatMap((s) => s.violations),
      [],
    );
    assert.deepEqual(
      servers.flatMap((s) => s.responseProblems),
      [],
    );
  });

  test('the spec checks bite: undeclared parameters, bad enums and bad objects are caught', () => {
    assert.deepEqual(
      checkRequest('POST', '/v1/refunds', new URLSearchParams('payment_intent=pi_1&amount=5')),
      [],
    );
    assert.equal(
      checkRequest('POST', '/v1/refunds', new URLSearchParams('payment_intent=pi_1&amount_minor=5')).length,
      1,
    );
    assert.equal(checkRequest('POST', '/v1/refunds', new URLSearchParams('reason=stolen')).length, 1);
    assert.equal(
      checkRequest(
        'POST',
        '/v1/payment_intents/pi_1/cancel',
        new URLSearchParams('cancellation_reason=fraud'),
      ).length,
      1,
    );
    assert.equal(checkRequest('POST', '/v1/payment_intents/pi_1/refund', new URLSearchParams()).length, 1);
    assert.deepEqual(validate(fixture('payment_intent'), schemaOf('payment_intent')), []);
    const broken = { ...fixture('payment_intent'), status: 'authorized', amount: '10' };
    assert.equal(validate(broken, schemaOf('payment_intent')).length, 2);
  });

  test('void is PaymentIntents cancel with cancellation_reason fraudulent and our idempotency key', async () => {
    const port = connect(server);
    const id = server.authorize(5000, 'JPY');
    const voided = await port.voidAuthorization({
      paymentId: id,
      reason: 'fraudulent',
      idempotencyKey: 'case-1:void:order-9',
    });
    assert.ok(voided.ok);
    const sent = server.requests.filter((r) => r.path.endsWith('/cancel'));
    assert.equal(sent.length, 1);
    const [cancel] = sent;
    assert.ok(cancel !== undefined);
    assert.equal(cancel.params.cancellation_reason, 'fraudulent');
    assert.ok(enumOf('payment_intent', 'cancellation_reason').includes('fraudulent'));
    assert.equal(cancel.idempotencyKey, 'case-1:void:order-9');
    assert.ok(cancel.stripeVersion !== undefined);
  });

  test('refund is POST /v1/refunds with payment_intent, amount in the smallest unit and reason fraudulent', async () => {
    const port = connect(server);
    const id = server.authorize(5000, 'JPY');
    assert.ok((await port.capture({ paymentId: id, idempotencyKey: 'cap' })).ok);
    const refund = await port.refund({
      paymentId: id,
      amount: { value: 5000, currency: 'JPY' },
      reason: 'fraudulent',
      idempotencyKey: 'case-1:refund:order-9',
    });
    assert.ok(refund.ok);
    const sent = server.requests.filter((r) => r.method === 'POST' && r.path === '/v1/refunds').at(-1);
    assert.ok(sent !== undefined);
    assert.deepEqual(sent.params, { payment_intent: id, amount: '5000', reason: 'fraudulent' });
    assert.equal(sent.idempotencyKey, 'case-1:refund:order-9');
  });

  test('the balance feed asks for reporting categories with the source expanded, and pages with ending_before', async () => {
    const port = connect(server);
    const first = await port.listBalanceTransactions({ limit: 5 });
    assert.ok(first.ok);
    const cursor = first.value.nextCursor;
    assert.ok(cursor !== undefined);
    const next = await port.listBalanceTransactions({ cursor, limit: 5 });
    assert.ok(next.ok);
    const last = server.requests.filter((r) => r.path === '/v1/balance_transactions').at(-1);
    assert.ok(last !== undefined);
    assert.equal(last.params.ending_before, cursor);
    assert.equal(last.params['expand[0]'], 'data.source');
    for (const t of first.value.items) assert.ok(t.reportingCategory.length > 0);
  });

  test("a time slice of the feed asks Stripe's created filter in whole seconds, rounding so no movement is read twice or missed", async () => {
    const port = connect(server);
    // From 12:00:00.250 to before 12:00:10.000: seconds ≥ 43201 (⌈…⌉, the first whole second in
    // the slice) and < 43210 — a transaction at 12:00:10 belongs to the next slice.
    const from = Date.UTC(2026, 0, 1, 12, 0, 0, 250);
    const before = Date.UTC(2026, 0, 1, 12, 0, 10, 0);
    const page = await port.listBalanceTransactions({
      limit: 5,
      createdFromMs: from,
      createdBeforeMs: before,
    });
    assert.ok(page.ok);
    const sent = server.requests.filter((r) => r.path === '/v1/balance_transactions').at(-1);
    assert.ok(sent !== undefined);
    assert.equal(sent.params['created[gte]'], String(Math.ceil(from / 1000)));
    assert.equal(sent.params['created[lt]'], String(before / 1000));
    // Only one bound given: only that one is sent.
    const open = await port.listBalanceTransactions({ limit: 5, createdFromMs: before });
    assert.ok(open.ok);
    const sentOpen = server.requests.filter((r) => r.path === '/v1/balance_transactions').at(-1);
    assert.equal(sentOpen?.params['created[gte]'], String(before / 1000));
    assert.equal(sentOpen.params['created[lt]'], undefined);
  });

  test('one lost answer is healed by the SDK itself: it resends with the same key and the server replays', async () => {
    const port = connect(server);
    const id = server.authorize(5000, 'JPY');
    server.injectFault('POST', routes.capture.path, ['drop_after']);
    const captured = await port.capture({ paymentId: id, idempotencyKey: 'heal-1' });
    assert.ok(captured.ok);
    assert.equal(captured.value.capturedMinor, 5000);
    const sent = server.requests.filter((r) => r.idempotencyKey === 'heal-1');
    // The dropped attempt is not recorded (no answer went out); the replay is.
    assert.deepEqual(
      sent.map((r) => r.replayed),
      [true],
    );
  });
});

describe('stripe adapter: error mapping', () => {
  type RawType = 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error';
  const raw = (statusCode: number, type: RawType, code?: string) => ({
    statusCode,
    type,
    code,
    message: 'm',
  });

  test('each Stripe error becomes the provider error that says retry or give up', () => {
    const cases: [Stripe.errors.StripeError, string, boolean][] = [
      [new Stripe.errors.StripeConnectionError({ message: 'socket hang up' }), 'timeout', true],
      [
        Stripe.errors.StripeError.generate(raw(429, 'invalid_request_error', 'rate_limit')),
        'rate_limited',
        true,
      ],
      [Stripe.errors.StripeError.generate(raw(500, 'api_error')), 'unavailable', true],
      [Stripe.errors.StripeError.generate(raw(402, 'card_error', 'card_declined')), 'declined', false],
      [
        Stripe.errors.StripeError.generate(raw(404, 'invalid_request_error', 'resource_missing')),
        'not_found',
        false,
      ],
      [
        Stripe.errors.StripeError.generate(raw(400, 'invalid_request_error', 'charge_already_refunded')),
        'conflict',
        false,
      ],
      [
        Stripe.errors.StripeError.generate(
          raw(400, 'invalid_request_error', 'payment_intent_unexpected_state'),
        ),
        'conflict',
        false,
      ],
      [Stripe.errors.StripeError.generate(raw(400, 'idempotency_error')), 'conflict', false],
      [
        Stripe.errors.StripeError.generate(raw(400, 'invalid_request_error', 'parameter_invalid_integer')),
        'declined',
        false,
      ],
      [Stripe.errors.StripeError.generate(raw(401, 'invalid_request_error')), 'unavailable', true],
    ];
    for (const [error, kind, retryable] of cases) {
      const mapped = providerErrorFrom(error);
      assert.equal(mapped.error.kind, kind, `${error.type} ${String(error.code)}`);
      assert.equal(mapped.error.retryable, retryable, `${error.type} retryable`);
    }
  });

  test('anything that is not a Stripe error is a bug and is thrown on', () => {
    assert.throws(() => providerErrorFrom(new TypeError('boom')), TypeError);
  });
});

describe('stripe adapter: webhooks', () => {
  test('verifies the worked test vector (signature and tolerance) and rejects a header without v1', () => {
    const port = stripePayments({ apiKey: 'sk_test_x', webhookSecret: 'whsec_test_secret' });
    const body = '{"id":"evt_test_webhook","object":"event"}';
    const header = 't=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990';
    const outcome = port.verifyWebhook(body, header, 1700000000 * 1000 + 10_000);
    // The signature matches; the body is no full event (no data.object), so only its shape fails.
    assert.equal(outcome.ok ? 'ok' : outcome.rejection, 'malformed_payload');
    const late = port.verifyWebhook(body, header, (1700000000 + 301) * 1000);
    assert.equal(late.ok ? 'ok' : late.rejection, 'timestamp_outside_tolerance');
    const broken = port.verifyWebhook(body, 't=1700000000', 1700000000 * 1000);
    assert.equal(broken.ok ? 'ok' : broken.rejection, 'malformed_signature');
  });

  test('payment_intent and charge events name the payment; the receiver re-reads it', async () => {
    const clock = new ManualClock(startMs);
    const server = await startStripeFixtureServer(clock);
    try {
      const port = connect(server);
      const id = server.authorize(5000, 'JPY');
      const payment = await port.getPayment(id);
      assert.ok(payment.ok && payment.value.chargeId !== undefined);
      const events: [string, string][] = [
        ['payment_intent.canceled', id],
        ['charge.refunded', payment.value.chargeId],
      ];
      for (const [type, objectId] of events) {
        const rawBody = JSON.stringify(server.eventFor(type, objectId));
        const header = signWebhook(webhookSecret, rawBody, Math.floor(clock.now() / 1000));
        const outcome = port.verifyWebhook(rawBody, header, clock.now());
        assert.ok(outcome.ok, outcome.ok ? '' : outcome.message);
        assert.equal(outcome.event.providerType, type);
        assert.equal(outcome.event.type, 'payment.updated');
        assert.equal(outcome.event.paymentId, id);
      }
    } finally {
      await server.close();
    }
  });
});
