import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decisionSchema, type Decision } from '@bulwark/contracts';
import { backends } from './helpers/backends.ts';
import { startTestService, type TestService } from './helpers/service.ts';

// Real addresses, looked up in the shipped IP tables: a Japanese ISP (AS2518), a Vietnamese ISP,
// and a Japanese datacenter.
const homeIp = '133.205.1.1';
const vietnamIp = '14.160.0.1';
const datacenterJpIp = '153.120.0.1';
const ua =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';
const at = (minutesBefore: number): string =>
  new Date(Date.parse('2026-11-25T09:00:00Z') - minutesBefore * 60_000).toISOString();

const login = (id: string, minutesBefore: number, accountId: string, context: Record<string, unknown>) => ({
  id,
  type: 'login.succeeded',
  at: at(minutesBefore),
  accountId,
  context: { userAgent: ua, sessionId: `s-${id}`, ...context },
  method: 'password',
  secondFactor: 'totp',
});

for (const backend of backends()) {
  describe(`login risk through POST /v1/events on ${backend}`, () => {
    let t: TestService;
    before(async () => {
      t = await startTestService(backend);
    });
    after(async () => {
      await t.close();
    });

    const post = async (body: unknown): Promise<Decision> => {
      const response = await t.request('POST', '/v1/events', body);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return decisionSchema.parse(response.body);
    };

    test('the origin incident: a relay from another country right after the owner is stopped at sign-in; the stolen session is refused', async () => {
      const history = [3000, 2000, 1000].map((m, i) =>
        login(`inc-h${String(i)}`, m, 'acct-incident', { ip: homeIp, deviceId: 'dev-home' }),
      );
      const decided = (await t.request('POST', '/v1/events', { events: history })).body as {
        decisions: Decision[];
      };
      assert.equal(decided.decisions.length, 3);
      const owner = await post(
        login('inc-owner', 2, 'acct-incident', { ip: homeIp, deviceId: 'dev-home', sessionId: 's-owner' }),
      );
      assert.equal(owner.decision, 'allow');
      const relay = await post(
        login('inc-relay', 1, 'acct-incident', { ip: vietnamIp, deviceId: 'dev-attacker' }),
      );
      assert.ok(relay.decision === 'challenge' || relay.decision === 'deny', relay.decision);
      const relayCodes = relay.reasons.map((r) => r.code);
      for (const code of [
        'new_device',
        'new_network',
        'new_asn',
        'new_country',
        'impossible_travel',
        'concurrent_login',
      ]) {
        assert.ok(relayCodes.includes(code), `${code} in ${relayCodes.join(',')}`);
      }
      assert.deepEqual(
        relay.reasons.find((r) => r.code === 'new_country'),
        { code: 'new_country', detail: 'JP→VN' },
      );
      // The owner's session cookie used from the attacker's device.
      const stolen = await post({
        id: 'inc-stolen',
        type: 'session.activity',
        at: at(0),
        accountId: 'acct-incident',
        context: { ip: vietnamIp, userAgent: ua, deviceId: 'dev-attacker', sessionId: 's-owner' },
        action: 'giftcard.redeem',
      });
      assert.equal(stolen.decision, 'deny');
      assert.deepEqual(stolen.reasons, [{ code: 'session_context_changed', detail: 'device' }]);
      const again = await post({
        id: 'inc-again',
        type: 'session.activity',
        at: at(0),
        accountId: 'acct-incident',
        context: { ip: homeIp, userAgent: ua, deviceId: 'dev-home', sessionId: 's-owner' },
        action: 'product.view',
      });
      assert.equal(again.reasons[0]?.code, 'session_revoked');
    });

    test('a datacenter sign-in in the same country on a new device is challenged with reasons', async () => {
      await post(login('vpn-h', 3000, 'acct-vpn', { ip: homeIp, deviceId: 'dev-home' }));
      const vpn = await post(login('vpn-a', 0, 'acct-vpn', { ip: datacenterJpIp, deviceId: 'dev-x' }));
      assert.ok(vpn.decision === 'challenge' || vpn.decision === 'deny');
      assert.deepEqual(vpn.reasons.map((r) => r.code).slice(0, 4), [
        'new_device',
        'new_network',
        'new_asn',
        'hosting_network',
      ]);
      if (vpn.decision === 'challenge') assert.ok((vpn.challenge?.methods.length ?? 0) > 0);
    });

    test('100 parallel failures on one account are all counted, exactly', async () => {
      const failure = (i: number) => ({
        id: `bf-${String(i)}`,
        type: 'login.failed',
        at: at(5),
        accountId: 'acct-bf',
        context: { ip: homeIp, userAgent: ua },
        reason: 'bad_password',
      });
      const decisions = await Promise.all(
        Array.from({ length: 100 }, (_, i) => t.request('POST', '/v1/events', failure(i))),
      );
      const outcomes = decisions.map((r) => decisionSchema.parse(r.body).decision);
      // Brute-force throttling challenges the 10th; the baseline's burst rule refuses the 11th and
      // later within 10 minutes. Exactly one of each position, whatever the arrival order.
      assert.equal(outcomes.filter((o) => o === 'allow').length, 9);
      assert.equal(outcomes.filter((o) => o === 'challenge').length, 1);
      assert.equal(outcomes.filter((o) => o === 'deny').length, 90);
      assert.equal(t.service.processor?.hot.account('acct-bf')?.login?.consecutiveFailures, 100);
    });
  });
}
