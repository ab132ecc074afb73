import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { featureIndex, featureSpecs, type FeatureValue } from '../src/risk/domain/orders/features.ts';
import { compileRuleSet, evaluateRuleSet, type RuleDefinition } from '../src/risk/domain/orders/rules.ts';
import { defaultRulePack } from '../src/risk/domain/orders/defaults.ts';

const rule = (overrides: Partial<RuleDefinition> & { expression: string }): RuleDefinition => ({
  id: overrides.id ?? 'r1',
  description: 'test rule',
  outcome: 'review',
  priority: 100,
  reasonCode: 'rule_match',
  ...overrides,
});

/** A feature vector with defaults, some features set by name. */
function features(values: Record<string, FeatureValue> = {}): FeatureValue[] {
  const vector: FeatureValue[] = featureSpecs.map((spec) =>
    spec.type === 'bool' ? false : spec.type === 'string' ? '' : 0,
  );
  for (const [name, value] of Object.entries(values)) {
    const index = featureIndex.get(name);
    if (index === undefined) assert.fail(`no feature ${name}`);
    vector[index] = value;
  }
  return vector;
}

function problemsOf(expression: string) {
  const result = compileRuleSet({ rules: [rule({ expression })] }, 'test');
  if (result.ok) assert.fail(`expected "${expression}" to be refused`);
  return result.error;
}

describe('CEL rule validation', () => {
  const refused: { expression: string; message: RegExp; column: number }[] = [
    { expression: 'order.amount >', message: /Unexpected token/, column: 15 },
    { expression: 'order.amount > 1 && order.nope', message: /No such key: nope/, column: 27 },
    { expression: 'orders.amount > 1', message: /Unknown variable: orders/, column: 1 },
    { expression: 'order.amount + 1', message: /must be a condition \(bool\), this is int/, column: 1 },
    {
      expression: 'order.currency > 1',
      message: /no such overload|not defined|found no matching overload/i,
      column: 1,
    },
    { expression: 'order.amount / 0 > 1', message: /division by zero/, column: 16 },
    { expression: 'order.amount % 0 == 1', message: /division by zero/, column: 16 },
    {
      expression: '[1, 2, 3].exists(x, x > order.amount)',
      message: /loops \(macros\) are not allowed/,
      column: 1,
    },
    {
      expression: 'order.emailDomain.matches("(a+)+$")',
      message: /regular expressions are not allowed/,
      column: 1,
    },
    { expression: 'order.amount > 1 &&\n  account.nope < 3', message: /No such key: nope/, column: 11 },
    { expression: `${'1 + '.repeat(300)}1 > 0`, message: /AST|nodes|limit|depth/i, column: 1 },
    { expression: ' ', message: /empty/, column: 1 },
  ];
  for (const row of refused) {
    test(`refuses ${JSON.stringify(row.expression.slice(0, 50))} with its position`, () => {
      const [problem] = problemsOf(row.expression);
      assert.ok(problem !== undefined);
      assert.equal(problem.field, 'rules[0].expression');
      assert.equal(problem.ruleId, 'r1');
      assert.match(problem.message, row.message);
      if (!row.expression.includes('1 + 1 + '))
        assert.equal(problem.column, row.column, JSON.stringify(problem));
      assert.equal(typeof problem.line, 'number');
    });
  }

  test('the line of a problem on a later line is reported', () => {
    const [problem] = problemsOf('order.amount > 1 &&\n  account.nope < 3');
    assert.equal(problem?.line, 2);
  });

  test('every shape problem is reported at once, each with its field', () => {
    const result = compileRuleSet(
      {
        rules: [
          {
            id: 'Bad Id',
            description: 1,
            expression: 'true',
            outcome: 'block',
            priority: -1,
            reasonCode: 'nope',
          },
          rule({ id: 'dup', expression: 'true' }),
          rule({ id: 'dup', expression: 'true' }),
        ],
      },
      'test',
    );
    if (result.ok) assert.fail('expected problems');
    const fields = result.error.map((p) => p.field);
    assert.deepEqual(fields, [
      'rules[0].id',
      'rules[0].description',
      'rules[0].outcome',
      'rules[0].priority',
      'rules[0].reasonCode',
      'rules[2].id',
    ]);
  });

  test('a rule set that is not an object with rules is refused', () => {
    for (const raw of [null, [], { rules: 'x' }, 'rules']) {
      const result = compileRuleSet(raw, 'test');
      assert.equal(result.ok, false);
    }
  });

  test('the default pack compiles', () => {
    const result = compileRuleSet(defaultRulePack, 'default');
    assert.ok(result.ok, JSON.stringify(result.ok ? '' : result.error));
  });
});

describe('rule evaluation', () => {
  const table: {
    name: string;
    rules: RuleDefinition[];
    values: Record<string, FeatureValue>;
    outcome: string;
    hits: string[];
  }[] = [
    {
      name: 'no rule fires: allow',
      rules: [rule({ expression: 'order.amount > 10000' })],
      values: { 'order.amount': 5000 },
      outcome: 'allow',
      hits: [],
    },
    {
      name: 'the most severe outcome wins, hits ordered by severity then priority',
      rules: [
        rule({ id: 'c', expression: 'order.amount > 1', outcome: 'challenge', priority: 999 }),
        rule({ id: 'd', expression: 'order.amount > 2', outcome: 'deny', priority: 1 }),
        rule({ id: 'r-low', expression: 'true', outcome: 'review', priority: 5 }),
        rule({ id: 'r-high', expression: 'true', outcome: 'review', priority: 50 }),
      ],
      values: { 'order.amount': 5000 },
      outcome: 'deny',
      hits: ['d', 'r-high', 'r-low', 'c'],
    },
    {
      name: 'review outranks challenge',
      rules: [
        rule({ id: 'c', expression: 'true', outcome: 'challenge' }),
        rule({ id: 'r', expression: 'true', outcome: 'review' }),
      ],
      values: {},
      outcome: 'review',
      hits: ['r', 'c'],
    },
    {
      name: 'the issue example',
      rules: [rule({ expression: 'order.giftCardValue24h > 20000 && account.minutesSinceNewDevice < 1440' })],
      values: { 'order.giftCardValue24h': 25000, 'account.minutesSinceNewDevice': 12 },
      outcome: 'review',
      hits: ['r1'],
    },
    {
      name: 'strings, in-lists, ternaries, functions',
      rules: [
        rule({ id: 'a', expression: 'order.emailDomain.endsWith(".ru") && size(order.emailDomain) > 4' }),
        rule({ id: 'b', expression: 'order.shippingCountry in ["NG", "GH"]' }),
        rule({ id: 'c', expression: '(order.amount > 100 ? order.giftCardShare : 0.0) >= 0.5' }),
        rule({
          id: 'd',
          expression: 'int(order.giftCardShare * 10.0) == 7 && double(order.amount) / 2.0 > 1.0',
        }),
        rule({ id: 'e', expression: '!order.knownDevice && -order.amount < 0' }),
      ],
      values: {
        'order.emailDomain': 'mail.ru',
        'order.shippingCountry': 'GH',
        'order.amount': 5000,
        'order.giftCardShare': 0.75,
      },
      outcome: 'review',
      hits: ['a', 'b', 'c', 'd', 'e'],
    },
    {
      name: 'disabled rules do not run',
      rules: [rule({ expression: 'true', enabled: false })],
      values: {},
      outcome: 'allow',
      hits: [],
    },
  ];
  for (const row of table) {
    test(row.name, () => {
      const compiled = compileRuleSet({ rules: row.rules }, 'test');
      assert.ok(compiled.ok, JSON.stringify(compiled.ok ? '' : compiled.error));
      const result = evaluateRuleSet(compiled.value, features(row.values));
      assert.equal(result.outcome, row.outcome);
      assert.deepEqual(
        result.hits.map((h) => h.id),
        row.hits,
      );
      assert.deepEqual(result.errors, []);
    });
  }

  test('a division by zero at run time is reported for its rule; the other rules still decide', () => {
    const compiled = compileRuleSet(
      {
        rules: [
          rule({ id: 'ratio', expression: 'order.amount / account.priorOrderCount > 2', outcome: 'deny' }),
          rule({ id: 'plain', expression: 'order.amount > 1' }),
          // CEL: `false && error` is false, `true || error` is true, whichever side errs.
          rule({
            id: 'absorbed',
            expression: 'order.amount / account.priorOrderCount > 2 || true',
            outcome: 'challenge',
          }),
        ],
      },
      'test',
    );
    assert.ok(compiled.ok);
    const result = evaluateRuleSet(
      compiled.value,
      features({ 'order.amount': 5000, 'account.priorOrderCount': 0 }),
    );
    assert.equal(result.outcome, 'review');
    assert.deepEqual(
      result.hits.map((h) => h.id),
      ['plain', 'absorbed'],
    );
    assert.deepEqual(result.errors, [{ ruleId: 'ratio', message: 'division by zero' }]);
    const fine = evaluateRuleSet(
      compiled.value,
      features({ 'order.amount': 5000, 'account.priorOrderCount': 2 }),
    );
    assert.equal(fine.outcome, 'deny');
  });

  test('integer division truncates like CEL', () => {
    const compiled = compileRuleSet({ rules: [rule({ expression: 'order.amount / 2 == 2' })] }, 'test');
    assert.ok(compiled.ok);
    assert.equal(evaluateRuleSet(compiled.value, features({ 'order.amount': 5 })).outcome, 'review');
  });
});
