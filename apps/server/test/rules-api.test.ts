import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decisionSchema, errorBodySchema } from '@bulwark/contracts';
import { defaultModel } from '../src/risk/domain/orders/defaults.ts';
import { backends } from './helpers/backends.ts';
import { historyEvents, minuteMs, orderEvent, takeoverEvents } from './helpers/orders.ts';
import { startTestService, type TestService } from './helpers/service.ts';

const denyGiftCards = {
  rules: [
    {
      id: 'no_gift_cards',
      description: 'hold every gift card (a test rule)',
      expression: 'order.giftCardValue > 0',
      outcome: 'deny',
      priority: 1,
      reasonCode: 'rule_match',
    },
  ],
};

for (const backend of backends()) {
  describe(`rule sets through the API on ${backend}`, () => {
    let t: TestService;
    before(async () => {
      t = await startTestService(backend);
      const response = await t.request('POST', '/v1/events', {
        events: [...historyEvents('a1'), ...historyEvents('a2'), ...historyEvents('a3')],
      });
      assert.equal(response.status, 200);
    });
    after(() => t.close());

    async function decide(event: Record<string, unknown>) {
      const response = await t.request('POST', '/v1/events', event);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return decisionSchema.parse(response.body);
    }

    test('saving a rule that does not compile answers 422 with every problem and its position', async () => {
      const response = await t.request('POST', '/v1/rules', {
        rules: [
          { ...denyGiftCards.rules[0], expression: 'order.giftCardValue > 0 &&\n  account.nope' },
          { ...denyGiftCards.rules[0], id: 'second', expression: 'order.amount / 0 > 1' },
        ],
      });
      assert.equal(response.status, 422);
      const body = response.body as {
        error: { code: string; message: string; field: string };
        problems: { field: string; ruleId: string; message: string; line: number; column: number }[];
      };
      errorBodySchema.parse({ error: body.error });
      assert.equal(body.error.code, 'RULES_INVALID');
      assert.equal(body.error.field, 'rules[0].expression');
      assert.match(body.error.message, /No such key: nope \(line 2, column 11\)/);
      assert.deepEqual(
        body.problems.map((p) => [p.field, p.ruleId, p.line, p.column]),
        [
          ['rules[0].expression', 'no_gift_cards', 2, 11],
          ['rules[1].expression', 'second', 1, 16],
        ],
      );
      assert.match(body.problems[1]?.message ?? '', /division by zero/);
      const validate = await t.request('POST', '/v1/rules/validate', denyGiftCards);
      assert.deepEqual(validate.body, { valid: true, rules: 1 });
    });

    test('a saved set acts only once activated; the decision records its version', async () => {
      const saved = await t.request('POST', '/v1/rules', { ...denyGiftCards, note: 'test' });
      assert.equal(saved.status, 201, JSON.stringify(saved.body));
      const version = (saved.body as { version: number }).version;
      assert.equal((await decide(orderEvent('a1-gift', 'a1', 0))).decision, 'allow');

      const activated = await t.request('POST', '/v1/rules/active', { version });
      assert.equal(activated.status, 200);
      assert.match(
        (activated.body as { policyVersion: string }).policyVersion,
        new RegExp(`\\+rules:rules-${version}\\+`),
      );
      const denied = await decide(orderEvent('a2-gift', 'a2', minuteMs));
      assert.equal(denied.decision, 'deny');
      assert.deepEqual(denied.reasons[0], { code: 'rule_match', detail: 'no_gift_cards' });
      const [logged] = await t.service.storage.events.readAccount('a2', { limit: 1 });
      assert.match(logged?.policyVersion ?? '', new RegExp(`rules:rules-${version}`));

      const listed = await t.request('GET', '/v1/rules');
      assert.equal((listed.body as { active: { saved: number } }).active.saved, version);
      assert.equal((await t.request('POST', '/v1/rules/active', { version: 999 })).status, 404);
      await t.request('POST', '/v1/rules/active', { version: null });
      assert.equal((await decide(orderEvent('a3-gift', 'a3', 2 * minuteMs))).decision, 'allow');
    });

    test('a shadow set is evaluated and recorded without acting', async () => {
      const denyAll = {
        rules: [{ ...denyGiftCards.rules[0], id: 'deny_all', expression: 'order.amount >= 0' }],
      };
      const saved = await t.request('POST', '/v1/rules', denyAll);
      const version = (saved.body as { version: number }).version;
      assert.equal((await t.request('POST', '/v1/rules/shadow', { version })).status, 200);
      const decision = await decide(orderEvent('a1-gift-2', 'a1', -3 * 60 * minuteMs, { gift: false }));
      assert.equal(decision.decision, 'allow', 'the shadow set does not act');
      // Shadow verdicts are written after the decision is answered: wait for the write.
      type Summary = { orders: number; disagreements: number; byRule: Record<string, number> } | null;
      const read = async () =>
        ((await t.request('GET', '/v1/rules/shadow')).body as { shadow: Summary }).shadow;
      let summary = await read();
      for (let i = 0; i < 200 && (summary?.orders ?? 0) === 0; i += 1) {
        await new Promise((resolve) => setImmediate(resolve));
        summary = await read();
      }
      assert.equal(summary?.orders, 1);
      assert.equal(summary.disagreements, 1);
      assert.deepEqual(summary.byRule, { deny_all: 1 });
      await t.request('POST', '/v1/rules/shadow', { version: null });
    });

    test('a backtest over given events compares a candidate with the active set', async () => {
      const takeover = takeoverEvents('bt', 0, 3);
      const response = await t.request('POST', '/v1/rules/backtest', {
        rules: denyGiftCards,
        events: [...historyEvents('bt'), ...takeover.events],
        labels: takeover.fraudOrderIds.map((orderId) => ({ orderId, fraud: true })),
      });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      const report = response.body as {
        orders: number;
        candidate: { held: number; recall: number; precision: number };
        current: { version: string; fraudHeld: number };
      };
      assert.equal(report.orders, 4);
      assert.deepEqual(
        [report.candidate.held, report.candidate.recall, report.candidate.precision],
        [3, 1, 1],
      );
      assert.equal(report.current.version, 'default-pack-1');
      assert.equal(report.current.fraudHeld, 2);
      const bad = await t.request('POST', '/v1/rules/backtest', { rules: { rules: [{}] }, labels: [] });
      assert.equal(bad.status, 422);
    });

    test('a trained model is installed through the API; a bad one is refused', async () => {
      const bad = await t.request('POST', '/v1/models', {
        ...defaultModel,
        features: [{ name: 'order.nope' }],
      });
      assert.equal(bad.status, 422);
      assert.equal(errorBodySchema.parse(bad.body).error.code, 'MODEL_INVALID');
      const good = await t.request('POST', '/v1/models', { ...defaultModel, version: 'prior-test' });
      assert.equal(good.status, 200, JSON.stringify(good.body));
      assert.match((good.body as { policyVersion: string }).policyVersion, /\+model:prior-test/);
    });
  });
}
