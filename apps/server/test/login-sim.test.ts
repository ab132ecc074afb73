import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadIpLookup } from '../src/adapters/ip/load.ts';
import { seededRandom } from '../src/core/random.ts';
import { validateEvent } from '../src/ingest/validate.ts';
import { loadRiskPolicy } from '../src/main.ts';
import { evaluateLogins } from '../src/sim/eval/login-eval.ts';
import { attackKinds, simulateLogins, type LoginSimulationOptions } from '../src/sim/logins/generate.ts';
import { buildNetworkPools } from '../src/sim/logins/networks.ts';

const lookup = loadIpLookup();
const pools = buildNetworkPools(lookup, seededRandom(7), 150_000);
const options: LoginSimulationOptions = {
  seed: 42,
  users: 150,
  days: 45,
  startMs: Date.parse('2026-09-01T00:00:00Z'),
  attacksPerKind: 60,
};

describe('bulwark simulate logins: labelled traffic', () => {
  const first = simulateLogins(pools, options);

  test('the same seed gives the same events and labels; another seed does not', () => {
    const again = simulateLogins(buildNetworkPools(lookup, seededRandom(7), 150_000), options);
    assert.deepEqual(again, first);
    const other = simulateLogins(pools, { ...options, seed: 43 });
    assert.notDeepEqual(other.events, first.events);
  });

  test('every event is a valid contract event, in time order, with exactly one label', () => {
    assert.equal(first.labels.length, first.events.length);
    let previous = 0;
    first.events.forEach((event, i) => {
      const valid = validateEvent(event);
      assert.ok(valid.ok, `${event.id}: ${valid.ok ? '' : valid.error.message}`);
      assert.ok(valid.value.atMs >= previous, `${event.id} is out of order`);
      previous = valid.value.atMs;
      assert.equal(first.labels[i]?.eventId, event.id);
    });
  });

  test('every attacker kind is present, and the origin incident once', () => {
    for (const kind of attackKinds) {
      assert.ok(
        first.labels.some((l) => l.actor === kind),
        kind,
      );
    }
    assert.equal(first.labels.filter((l) => l.actor === 'origin_incident' && l.role === 'login').length, 1);
    // Attack labels live only in the labels file: events carry nothing that gives them away.
    assert.ok(first.events.every((e) => !JSON.stringify(e).includes('relay')));
  });

  test('evaluation: the targets hold on this traffic and Bulwark beats the plain RBA model', () => {
    const report = evaluateLogins(first, loadRiskPolicy());
    assert.ok(
      report.legitChallengedShare + report.legitDeniedShare <= 0.02,
      `legitimate re-authenticated ${String(report.legitChallengedShare)}`,
    );
    for (const kind of ['targeted', 'relay'] as const) {
      const k = report.kinds.find((r) => r.kind === kind);
      assert.ok(k !== undefined);
      assert.ok(k.caughtConfigured >= 0.995, `${kind} caught ${String(k.caughtConfigured)}`);
      assert.ok(
        (k.caughtAtRate[1] ?? 0) > (k.baselineAtRate[1] ?? 1),
        `${kind} better than plain RBA at 2 %`,
      );
    }
    assert.ok(
      report.stolenSession.detected >= 0.95,
      `stolen sessions caught ${String(report.stolenSession.detected)}`,
    );
    assert.ok(
      report.stolenSession.falsePositiveShare <= 0.01,
      `false positives ${String(report.stolenSession.falsePositiveShare)}`,
    );
    assert.ok(report.originIncident !== undefined && report.originIncident.decision !== 'allow');
  });
});
