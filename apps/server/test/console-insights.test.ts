import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  accountActivitySchema,
  consoleSessionSchema,
  errorBodySchema,
  fraudLabelsSchema,
  modelMetricsSchema,
  ruleProblemSchema,
  ruleStatusSchema,
} from '@bulwark/contracts';
import { z } from 'zod';
import { AnalystService } from '../src/console/analysts.ts';
import { backends } from './helpers/backends.ts';
import { startTestService, type TestService } from './helpers/service.ts';

/**
 * The console's read-only views and the rules API through a console session: who may call what
 * (viewers read, analysts edit, admins activate), inline rule problems with their position, the
 * model metrics and an account's payments and shipments through the connectors.
 */
const context = { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (Macintosh)', deviceId: 'dev-1' };

interface Session {
  cookie: string;
  csrf: string;
}

async function call(
  t: TestService,
  method: 'GET' | 'POST',
  url: string,
  session: Session,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const response = await t.service.app.inject({
    method,
    url,
    headers: {
      cookie: session.cookie,
      ...(method === 'POST' ? { 'x-csrf-token': session.csrf } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  return { status: response.statusCode, body: JSON.parse(response.body) as unknown };
}

const codeOf = (body: unknown): string => errorBodySchema.parse(body).error.code;

for (const backend of backends()) {
  describe(`console insights API on ${backend}`, () => {
    let t: TestService;
    const sessions: Record<'viewer' | 'analyst', Session> = {
      viewer: { cookie: '', csrf: '' },
      analyst: { cookie: '', csrf: '' },
    };

    before(async () => {
      t = await startTestService(backend);
      const analysts = new AnalystService({ store: t.service.storage.console, clock: t.clock });
      for (const role of ['viewer', 'analyst'] as const) {
        const password = `${role}-password-1`;
        assert.ok((await analysts.create({ name: role, role, password })).ok);
        const answer = await t.service.app.inject({
          method: 'POST',
          url: '/console/api/sign-in',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({ name: role, password }),
        });
        const raw = answer.headers['set-cookie'];
        const first = Array.isArray(raw) ? raw[0] : raw;
        sessions[role] = {
          cookie: first?.split(';')[0] ?? '',
          csrf: consoleSessionSchema.parse(JSON.parse(answer.body)).csrfToken,
        };
      }
      const at = new Date(t.clock.now() - 60_000).toISOString();
      const sent = await t.request('POST', '/v1/events', {
        events: [
          { id: 'i-login', type: 'login.succeeded', at, accountId: 'acct-i', context, method: 'password' },
          {
            id: 'i-order',
            type: 'order.placed',
            at,
            accountId: 'acct-i',
            context,
            orderId: 'ord-i-1',
            amount: { value: 4200, currency: 'JPY' },
            items: [{ category: 'physical', quantity: 1, unitPrice: { value: 4200, currency: 'JPY' } }],
            payment: { method: 'card', cardFingerprint: 'fp-i' },
          },
        ],
      });
      assert.equal(sent.status, 200);
    });
    after(async () => {
      await t.close();
    });

    test('viewers read rules, labels and model metrics; they may not check or save rules', async () => {
      const status = await call(t, 'GET', '/v1/rules', sessions.viewer);
      assert.equal(status.status, 200);
      assert.match(ruleStatusSchema.parse(status.body).active.version, /default-pack/);
      const labels = await call(t, 'GET', '/v1/labels', sessions.viewer);
      assert.deepEqual(fraudLabelsSchema.parse(labels.body).labels, []);
      const metrics = modelMetricsSchema.parse(
        (await call(t, 'GET', '/v1/model/metrics', sessions.viewer)).body,
      );
      assert.equal(metrics.orders, 1);
      assert.equal(metrics.fraudOrders, 0);
      assert.equal(
        metrics.distribution.reduce((n, b) => n + b.fraud + b.legitimate, 0),
        1,
      );
      // No fraud labelled: recall is undefined, never a made-up number.
      assert.ok(metrics.thresholds.every((p) => p.recall === null));
      const validate = await call(t, 'POST', '/v1/rules/validate', sessions.viewer, { rules: [] });
      assert.equal(validate.status, 403);
      assert.equal(codeOf(validate.body), 'FORBIDDEN');
    });

    test('analysts get every rule problem with its position; activating is for admins', async () => {
      const rules = [
        {
          id: 'big_order',
          description: 'large order',
          expression: 'order.amount >\n  ',
          outcome: 'review',
          priority: 100,
          reasonCode: 'rule_match',
        },
        {
          id: 'typo',
          description: 'unknown feature',
          expression: 'order.amout > 5',
          outcome: 'review',
          priority: 100,
          reasonCode: 'rule_match',
        },
      ];
      const checked = await call(t, 'POST', '/v1/rules/validate', sessions.analyst, { rules });
      assert.equal(checked.status, 422);
      const problems = z.array(ruleProblemSchema).parse((checked.body as { problems: unknown }).problems);
      assert.ok(problems.some((p) => p.field === 'rules[0].expression' && p.line !== undefined));
      assert.ok(problems.some((p) => p.field === 'rules[1].expression'));
      const activate = await call(t, 'POST', '/v1/rules/active', sessions.analyst, { version: null });
      assert.equal(activate.status, 403);
      // Without the CSRF header a state-changing call is refused even for an analyst.
      const noCsrf = await call(
        t,
        'POST',
        '/v1/rules/validate',
        { ...sessions.analyst, csrf: 'x' },
        { rules },
      );
      assert.equal(noCsrf.status, 403);
    });

    test("an account's payments and shipments come from the connectors", async () => {
      let activity = accountActivitySchema.parse(
        (await call(t, 'GET', '/v1/accounts/acct-i/activity', sessions.viewer)).body,
      );
      // The sandbox store follows the event log on its own timer.
      const complete = () =>
        activity.entries.some((e) => e.kind === 'payment') &&
        activity.entries.some((e) => e.kind === 'shipment');
      for (let i = 0; i < 100 && !complete(); i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        activity = accountActivitySchema.parse(
          (await call(t, 'GET', '/v1/accounts/acct-i/activity', sessions.viewer)).body,
        );
      }
      assert.equal(activity.connected, true);
      const payment = activity.entries.find((e) => e.kind === 'payment');
      assert.equal(payment?.orderId, 'ord-i-1');
      assert.deepEqual(payment.amount, { value: 4200, currency: 'JPY' });
      assert.ok(activity.entries.some((e) => e.kind === 'shipment' && e.orderId === 'ord-i-1'));
      const unknown = accountActivitySchema.parse(
        (await call(t, 'GET', '/v1/accounts/nobody/activity', sessions.viewer)).body,
      );
      assert.deepEqual(unknown.entries, []);
      const tooLong = await call(t, 'GET', `/v1/accounts/${'x'.repeat(1025)}/activity`, sessions.viewer);
      assert.equal(tooLong.status, 400);
    });
  });
}
