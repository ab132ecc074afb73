import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli } from '../src/cli/main.ts';
import { validateEvent } from '../src/ingest/validate.ts';
import { loadRiskPolicy } from '../src/main.ts';
import { trainingSet, trainOrderModel } from '../src/model/train.ts';
import { prAuc, rocAuc } from '../src/model/metrics.ts';
import { compileModel, scoreModel } from '../src/risk/domain/orders/model.ts';
import { defaultRulePack } from '../src/risk/domain/orders/defaults.ts';
import { compileRuleSet, type RuleSetDefinition } from '../src/risk/domain/orders/rules.ts';
import { backtest, forEachOrder, parseLabels } from '../src/rules/backtest.ts';
import { dayMs, historyEvents, minuteMs, orderEvent, takeoverEvents } from './helpers/orders.ts';

const policy = loadRiskPolicy();

/**
 * A small labelled history: a takeover with three gift cards (fraud), a legitimate shopper who
 * buys two gift cards in a day (the candidate rule's false positive) and one with a book.
 */
function smallHistory() {
  const takeover = takeoverEvents('victim', 0, 3);
  const raw = [
    ...historyEvents('victim'),
    ...historyEvents('giver'),
    ...historyEvents('reader'),
    ...takeover.events,
    orderEvent('giver-1', 'giver', 10 * minuteMs),
    orderEvent('giver-2', 'giver', 60 * minuteMs),
    orderEvent('reader-1', 'reader', 20 * minuteMs, { gift: false, value: 2400 }),
  ];
  const events = raw.map((r) => {
    const valid = validateEvent(r);
    if (!valid.ok) assert.fail(valid.error.message);
    return { event: valid.value.event, atMs: valid.value.atMs };
  });
  const labelLines = [
    ...takeover.fraudOrderIds.map((orderId) => JSON.stringify({ orderId, fraud: true })),
    JSON.stringify({ orderId: 'o-giver-1', label: 'legit' }),
    JSON.stringify({ orderId: 'o-giver-2', fraud: false }),
  ];
  return { raw, events, labelText: `${labelLines.join('\n')}\n` };
}

const candidate: RuleSetDefinition = {
  rules: [
    {
      id: 'second_gift_card',
      description: 'a second gift-card order within a day',
      expression: 'order.giftCardValue > 0 && order.giftCardCount24h >= 2',
      outcome: 'review',
      priority: 10,
      reasonCode: 'gift_card_cash_out',
    },
    {
      id: 'huge',
      description: 'never fires here',
      expression: 'order.amount > 1000000',
      outcome: 'deny',
      priority: 5,
      reasonCode: 'rule_match',
    },
  ],
};

describe('backtest', () => {
  test('counts hits, precision, recall and money per rule and for the set, against the current set', () => {
    const { events, labelText } = smallHistory();
    const compiled = compileRuleSet(candidate, 'candidate');
    const current = compileRuleSet(defaultRulePack, 'default-pack-1');
    assert.ok(compiled.ok && current.ok);
    const { labels, problems } = parseLabels(labelText);
    assert.deepEqual(problems, []);
    const report = backtest({ candidate: compiled.value, current: current.value, policy, events, labels });
    // 3 history orders + 3 takeover gift cards + 2 gift cards + 1 book.
    assert.equal(report.orders, 9);
    assert.equal(report.fraudOrders, 3);
    assert.equal(report.fraudAmount, 15000);
    assert.equal(report.labelsMatched, 5);
    const c = report.candidate;
    // Fires on the victim's 2nd and 3rd gift card (fraud) and the giver's 2nd (legitimate).
    assert.equal(c.held, 3);
    assert.equal(c.fraudHeld, 2);
    assert.equal(c.precision, 2 / 3);
    assert.equal(c.recall, 2 / 3);
    assert.equal(c.moneySaved, 10000);
    assert.equal(c.moneyBlocked, 15000);
    assert.equal(c.legitimateMoneyBlocked, 5000);
    assert.deepEqual(c.byOutcome, { allow: 6, challenge: 0, review: 3, deny: 0 });
    const [second, huge] = c.rules;
    assert.deepEqual(
      { id: second?.ruleId, hits: second?.hits, fraudHits: second?.fraudHits, amount: second?.amountHit },
      { id: 'second_gift_card', hits: 3, fraudHits: 2, amount: 15000 },
    );
    assert.equal(huge?.hits, 0);
    assert.equal(huge.precision, null);
    // The default pack holds the 2nd and 3rd takeover gift card too, and not the giver's.
    assert.equal(report.current.version, 'default-pack-1');
    assert.equal(report.current.fraudHeld, 2);
    assert.equal(report.current.legitimateMoneyBlocked, 0);
    assert.equal(report.current.byOutcome.challenge, 1, 'the first takeover gift card is stepped up');
  });

  test('bulwark rules backtest prints the same figures from files', async () => {
    const { raw, labelText } = smallHistory();
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-backtest-'));
    const files = {
      rules: join(dir, 'rules.json'),
      events: join(dir, 'events.jsonl'),
      labels: join(dir, 'labels.jsonl'),
    };
    writeFileSync(files.rules, JSON.stringify(candidate));
    writeFileSync(files.events, `${raw.map((r) => JSON.stringify(r)).join('\n')}\nnot json\n`);
    writeFileSync(files.labels, labelText);
    let out = '';
    let err = '';
    const io = { out: (t: string) => (out += t), err: (t: string) => (err += t) };
    const status = await runCli(
      [
        'rules',
        'backtest',
        '--rules',
        files.rules,
        '--events',
        files.events,
        '--labels',
        files.labels,
        '--json',
      ],
      {},
      io,
    );
    assert.equal(status, 0, err);
    assert.match(err, new RegExp(`line ${raw.length + 1}: not valid JSON, skipped`));
    const report = JSON.parse(out) as {
      candidate: { precision: number; moneySaved: number };
      current: { version: string };
    };
    assert.equal(report.candidate.precision, 2 / 3);
    assert.equal(report.candidate.moneySaved, 10000);
    assert.equal(report.current.version, 'default-pack-1');

    out = '';
    assert.equal(
      await runCli(
        ['rules', 'backtest', '--rules', files.rules, '--events', files.events, '--labels', files.labels],
        {},
        io,
      ),
      0,
    );
    assert.match(out, /candidate file:.*held 3 \(precision 66\.7%, recall 66\.7%\), money saved 10,000/);
    assert.match(out, /second_gift_card\s+review\s+3\s+2/);

    writeFileSync(
      files.rules,
      JSON.stringify({ rules: [{ ...candidate.rules[0], expression: 'order.nope > 1' }] }),
    );
    err = '';
    assert.equal(await runCli(['rules', 'validate', files.rules], {}, io), 1);
    assert.match(err, /rules\[0\]\.expression \[second_gift_card\]: No such key: nope \(line 1, column 7\)/);
  });
});

/** A labelled stream: takeovers (fraud) among shoppers with history who sometimes buy a gift card. */
function labelledStream(accounts: number) {
  const raw: Record<string, unknown>[] = [];
  const fraud = new Set<string>();
  for (let a = 0; a < accounts; a += 1) {
    const id = `acct${a}`;
    raw.push(...historyEvents(id, -20 * dayMs - a * minuteMs));
    if (a % 5 === 0) {
      const takeover = takeoverEvents(id, a * 7 * minuteMs, 2 + (a % 3));
      raw.push(...takeover.events);
      for (const orderId of takeover.fraudOrderIds) fraud.add(orderId);
    } else {
      raw.push(orderEvent(`${id}-buy`, id, a * 7 * minuteMs, { gift: a % 2 === 0, value: 2000 + a * 100 }));
    }
  }
  raw.sort((x, y) => String(x.at).localeCompare(String(y.at)));
  const events = raw.map((r) => {
    const valid = validateEvent(r);
    if (!valid.ok) assert.fail(valid.error.message);
    return { event: valid.value.event, atMs: valid.value.atMs };
  });
  return { raw, events, labels: new Map([...fraud].map((orderId) => [orderId, true])) };
}

describe('model training', () => {
  test('is deterministic by seed, calibrated 0–100, and ranks the takeovers above the shoppers', () => {
    const { events, labels } = labelledStream(60);
    const set = trainingSet(events, labels, policy, true);
    assert.equal(set.rows.length, 60 + 48 + 36, 'every order: history, shoppers, takeover gift cards');
    const first = trainOrderModel(set, { seed: 7 });
    const again = trainOrderModel(trainingSet(events, labels, policy, true), { seed: 7 });
    assert.deepEqual(again.model, first.model, 'same rows and seed → the same model');
    const other = trainOrderModel(set, { seed: 8 });
    assert.notDeepEqual(other.model.features, first.model.features, 'the seed fixes the mini-batch order');
    const compiled = compileModel(first.model);
    assert.ok(compiled.ok, compiled.ok ? '' : compiled.error);
    assert.ok(first.trainingRocAuc > 0.9, `training ROC-AUC ${first.trainingRocAuc}`);
    // Scores are probabilities in percent: the fraud rows' mean score is near their share.
    const scores: number[] = [];
    const truth: number[] = [];
    forEachOrder(events, policy, (event, features) => {
      scores.push(scoreModel(compiled.value, features).score);
      truth.push(labels.has(event.orderId) ? 1 : 0);
    });
    assert.ok(scores.every((s) => Number.isInteger(s) && s >= 0 && s <= 100));
    assert.ok(rocAuc(scores, truth) > 0.9);
    assert.ok(prAuc(scores, truth) > 0.5);
    const meanScore = scores.reduce((a, b) => a + b, 0) / scores.length / 100;
    const share = truth.reduce((a, b) => a + b, 0) / truth.length;
    assert.ok(Math.abs(meanScore - share) < 0.1, `mean score ${meanScore} vs fraud share ${share}`);
  });

  test('bulwark model train writes the model, the same for the same seed', async () => {
    const { raw, labels } = labelledStream(30);
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-train-'));
    const eventsPath = join(dir, 'events.jsonl');
    const labelsPath = join(dir, 'labels.jsonl');
    writeFileSync(eventsPath, raw.map((r) => JSON.stringify(r)).join('\n'));
    writeFileSync(
      labelsPath,
      [...labels.keys()].map((orderId) => JSON.stringify({ orderId, fraud: true })).join('\n'),
    );
    const outputs: string[] = [];
    for (const name of ['a.json', 'b.json']) {
      let out = '';
      const io = { out: (t: string) => (out += t), err: () => undefined };
      const status = await runCli(
        [
          'model',
          'train',
          '--events',
          eventsPath,
          '--labels',
          labelsPath,
          '--seed',
          '3',
          '--out',
          join(dir, name),
        ],
        {},
        io,
      );
      assert.equal(status, 0);
      assert.match(out, /^model lr-[0-9a-f]{10}: 72 orders, 18 fraud/);
      outputs.push(readFileSync(join(dir, name), 'utf8'));
    }
    assert.equal(outputs[0], outputs[1]);
  });
});
