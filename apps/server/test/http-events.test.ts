import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decisionSchema, errorBodySchema } from '@bulwark/contracts';
import { backends } from './helpers/backends.ts';
import { startTestService, type TestService } from './helpers/service.ts';

const login = (id: string, overrides: Record<string, unknown> = {}) => ({
  id,
  type: 'login.succeeded',
  at: '2026-11-25T08:00:00Z',
  accountId: 'acct-1',
  context: {
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0 (Macintosh)',
    deviceId: 'dev-home',
    sessionId: `s-${id}`,
  },
  method: 'password',
  secondFactor: 'totp',
  ...overrides,
});

for (const backend of backends()) {
  describe(`POST /v1/events on ${backend}`, () => {
    let t: TestService;
    before(async () => {
      t = await startTestService(backend);
    });
    after(async () => {
      await t.close();
    });

    test('refuses a request without a valid API key', async () => {
      const response = await t.service.app.inject({
        method: 'POST',
        url: '/v1/events',
        payload: login('no-key'),
      });
      assert.equal(response.statusCode, 401);
      assert.equal(errorBodySchema.parse(JSON.parse(response.body)).error.code, 'UNAUTHORIZED');
      const wrong = await t.request('POST', '/v1/events', login('bad-key'), {
        authorization: 'Bearer bwk_0000000000000000_' + 'A'.repeat(43),
      });
      assert.equal(wrong.status, 401);
    });

    test('answers a decision in the contract shape and learns the device', async () => {
      const first = await t.request('POST', '/v1/events', login('e-1'));
      assert.equal(first.status, 200);
      const decision = decisionSchema.parse(first.body);
      assert.equal(decision.eventId, 'e-1');
      assert.equal(decision.accountId, 'acct-1');
      assert.equal(decision.decision, 'allow');
      // The same device and network a moment later is ordinary.
      const second = decisionSchema.parse(
        (await t.request('POST', '/v1/events', login('e-2', { at: '2026-11-25T08:05:00Z' }))).body,
      );
      assert.equal(second.decision, 'allow');
      assert.deepEqual(second.reasons, []);
    });

    test('challenges a sign-in from a new device and network, and names why', async () => {
      const response = await t.request(
        'POST',
        '/v1/events',
        login('e-new', {
          at: '2026-11-25T08:10:00Z',
          context: {
            ip: '198.51.100.9',
            userAgent: 'Mozilla/5.0 (Windows NT 10.0)',
            deviceId: 'dev-attacker',
          },
        }),
      );
      const decision = decisionSchema.parse(response.body);
      assert.equal(decision.decision, 'challenge');
      // Ten minutes after the owner's sign-in from elsewhere: also a concurrent sign-in (login risk).
      assert.deepEqual(
        decision.reasons.map((r) => r.code),
        ['new_device', 'new_network', 'concurrent_login'],
      );
      assert.ok(decision.challenge !== undefined && decision.challenge.methods.includes('passkey'));
    });

    test('answers a re-sent id with the stored decision, and 409 for other content', async () => {
      const again = await t.request(
        'POST',
        '/v1/events',
        login('e-new', {
          at: '2026-11-25T08:10:00Z',
          context: {
            ip: '198.51.100.9',
            userAgent: 'Mozilla/5.0 (Windows NT 10.0)',
            deviceId: 'dev-attacker',
          },
        }),
      );
      const stored = decisionSchema.parse(again.body);
      assert.equal(stored.decision, 'challenge');
      const conflict = await t.request('POST', '/v1/events', login('e-new', { at: '2026-11-25T08:11:00Z' }));
      assert.equal(conflict.status, 409);
      assert.equal(errorBodySchema.parse(conflict.body).error.code, 'EVENT_ID_CONFLICT');
    });

    test('a failed challenge takes back what the sign-in taught', async () => {
      const attacker = { ip: '192.0.2.50', userAgent: 'curl/8.0', deviceId: 'dev-relay' };
      const challenged = decisionSchema.parse(
        (
          await t.request(
            'POST',
            '/v1/events',
            login('relay-1', { at: '2026-11-25T08:20:00Z', context: attacker }),
          )
        ).body,
      );
      assert.equal(challenged.decision, 'challenge');
      const failed = await t.request('POST', '/v1/events', {
        id: 'relay-1-result',
        type: 'challenge.completed',
        at: '2026-11-25T08:21:00Z',
        accountId: 'acct-1',
        challengeId: challenged.challenge?.id,
        method: 'passkey',
        result: 'failed',
      });
      assert.equal(failed.status, 200);
      const retry = decisionSchema.parse(
        (
          await t.request(
            'POST',
            '/v1/events',
            login('relay-2', { at: '2026-11-25T08:22:00Z', context: attacker }),
          )
        ).body,
      );
      assert.equal(retry.decision, 'challenge');
      assert.ok(
        retry.reasons.some((r) => r.code === 'new_device'),
        'the device is still unknown after a failed challenge',
      );
    });

    test('a batch answers every event in order, invalid ones in place, valid ones still processed', async () => {
      const response = await t.request('POST', '/v1/events', {
        events: [
          login('b-1', { at: '2026-11-25T08:30:00Z' }),
          { id: 'b-2', type: 'login.succeeded' },
          { id: 'b-3', type: 'no.such.type', at: '2026-11-25T08:30:00Z' },
          login('b-4', { at: '2026-11-25T08:31:00Z', context: { ip: '10.0.0.300', userAgent: 'x' } }),
          login('b-5', { at: '2026-11-25T08:32:00Z' }),
        ],
      });
      assert.equal(response.status, 200);
      const { decisions } = response.body as { decisions: Record<string, unknown>[] };
      assert.equal(decisions.length, 5);
      assert.equal(decisions[0]?.eventId, 'b-1');
      assert.equal(decisions[0].decision, 'allow');
      assert.deepEqual(decisions[1], {
        eventId: 'b-2',
        error: { code: 'INVALID_EVENT', message: 'at: is required', field: 'at' },
      });
      assert.equal((decisions[2]?.error as { code: string }).code, 'UNKNOWN_EVENT_TYPE');
      assert.equal((decisions[3]?.error as { field: string }).field, 'context.ip');
      assert.equal(decisions[4]?.eventId, 'b-5');
      const timeline = await t.request('GET', '/v1/accounts/acct-1?limit=200');
      const ids = (timeline.body as { timeline: { entries: { eventId: string }[] } }).timeline.entries.map(
        (e) => e.eventId,
      );
      assert.ok(ids.includes('b-1') && ids.includes('b-5') && !ids.includes('b-2'));
    });

    const badInputs: [string, unknown, string, string | undefined][] = [
      ['wrong type of a field', login('x-1', { method: 42 }), 'INVALID_EVENT', 'method'],
      ['unknown type', { ...login('x-2'), type: 'login.maybe' }, 'UNKNOWN_EVENT_TYPE', 'type'],
      ['missing accountId', { ...login('x-3'), accountId: undefined }, 'INVALID_EVENT', 'accountId'],
      ['an invalid timestamp', login('x-4', { at: '25/11/2026 09:00' }), 'INVALID_EVENT', 'at'],
      ['an impossible date', login('x-5', { at: '2026-02-30T09:00:00Z' }), 'INVALID_EVENT', 'at'],
      [
        'an IP that is not an IP',
        login('x-6', { context: { ip: 'localhost', userAgent: 'x' } }),
        'INVALID_EVENT',
        'context.ip',
      ],
      [
        'non-integer money',
        {
          id: 'x-7',
          type: 'order.placed',
          at: '2026-11-25T08:00:00Z',
          accountId: 'acct-1',
          context: { ip: '203.0.113.7', userAgent: 'x' },
          orderId: 'o-1',
          amount: { value: 5000.5, currency: 'JPY' },
          items: [{ category: 'gift_card', quantity: 1, unitPrice: { value: 5000, currency: 'JPY' } }],
          payment: { method: 'card' },
        },
        'INVALID_EVENT',
        'amount.value',
      ],
      ['an id that is too long', login('x'.repeat(129)), 'INVALID_EVENT', 'id'],
      ['an array instead of an object', [login('x-8')], 'INVALID_BATCH', undefined],
      ['an empty batch', { events: [] }, 'INVALID_BATCH', 'events'],
      [
        'a batch over 1,000',
        { events: Array.from({ length: 1001 }, (_, i) => login(`big-${i}`)) },
        'INVALID_BATCH',
        'events',
      ],
      ['an event in the future', login('x-9', { at: '2026-11-25T10:00:00Z' }), 'INVALID_EVENT', 'at'],
    ];
    for (const [name, body, code, field] of badInputs) {
      test(`answers ${name} with 400 ${code}`, async () => {
        const response = await t.request('POST', '/v1/events', body);
        assert.equal(response.status, 400);
        const error = errorBodySchema.parse(response.body).error;
        assert.equal(error.code, code);
        assert.equal(error.field, field);
        assert.ok(error.message.length > 0);
      });
    }

    test('answers malformed JSON, an empty body and other media types clearly', async () => {
      const malformed = await t.request('POST', '/v1/events', '{"id": "x",');
      assert.equal(malformed.status, 400);
      assert.equal(errorBodySchema.parse(malformed.body).error.code, 'INVALID_JSON');
      const empty = await t.request('POST', '/v1/events', '');
      assert.equal(errorBodySchema.parse(empty.body).error.code, 'INVALID_JSON');
      const text = await t.request('POST', '/v1/events', 'hello', { 'content-type': 'text/plain' });
      assert.equal(text.status, 415);
      assert.equal(errorBodySchema.parse(text.body).error.code, 'UNSUPPORTED_MEDIA_TYPE');
    });

    test('refuses a body over the limit with 413 and keeps serving', async () => {
      const huge = JSON.stringify({
        events: [
          login('huge', { context: { ip: '203.0.113.7', userAgent: 'x'.repeat(t.config.bodyLimitBytes) } }),
        ],
      });
      const response = await t.request('POST', '/v1/events', huge);
      assert.equal(response.status, 413);
      assert.equal(errorBodySchema.parse(response.body).error.code, 'PAYLOAD_TOO_LARGE');
      const after = await t.request('GET', '/healthz');
      assert.equal(after.status, 200);
    });

    test('ignores unknown fields, as the contract says', async () => {
      const response = await t.request('POST', '/v1/events', {
        ...login('u-1', { at: '2026-11-25T08:40:00Z' }),
        extra: { nested: true },
      });
      assert.equal(response.status, 200);
      const same = await t.request('POST', '/v1/events', {
        ...login('u-1', { at: '2026-11-25T08:40:00Z' }),
        other: 1,
      });
      assert.equal(same.status, 200, 'unknown fields are not part of the content compared for idempotency');
    });

    test('echoes a sane request id and makes one otherwise', async () => {
      const given = await t.request('GET', '/healthz', undefined, { 'x-request-id': 'req-123' });
      assert.equal(given.headers['x-request-id'], 'req-123');
      const made = await t.request('GET', '/healthz', undefined, { 'x-request-id': 'bad id with spaces' });
      assert.match(String(made.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    });

    test('never writes the API key into the logs', () => {
      const text = t.logs.join('');
      assert.ok(!text.includes(t.key.slice(-43)));
    });
  });
}
