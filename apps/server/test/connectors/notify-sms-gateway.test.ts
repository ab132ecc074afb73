import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpSmsGateway } from '../../src/adapters/notify/sms-gateway.ts';
import { runSmsConformance } from './notify-suite.ts';
import { startSmsGateway } from './notify-test-servers.ts';
import { valueOf } from './until-final.ts';

const refusedRecipient = '+819000000000';

runSmsConformance('HTTP SMS gateway against a local gateway', async () => {
  const gateway = await startSmsGateway({ refusedRecipient });
  const sender = new HttpSmsGateway({
    baseUrl: gateway.baseUrl,
    apiKey: gateway.apiKey,
    senderId: 'ExampleStore',
    // Short, so the timeout cases end soon, yet ample for a loopback answer on a busy machine.
    timeoutMs: 2000,
  });
  return {
    sender,
    delivered: () => Promise.resolve([...gateway.messages]),
    fault: (kind) => {
      gateway.fault(kind);
    },
    refusedRecipient,
    recipient: '+819012345678',
    close: () => gateway.close(),
  };
});

test('SMS gateway: the request has the documented shape', async () => {
  const gateway = await startSmsGateway({ refusedRecipient });
  try {
    const sender = new HttpSmsGateway({
      baseUrl: gateway.baseUrl,
      apiKey: gateway.apiKey,
      senderId: 'ExampleStore',
      timeoutMs: 2000,
    });
    valueOf(
      await sender.sendSms({
        message: { to: '+819012345678', text: 'コード 123456' },
        idempotencyKey: 'case-9/sms',
      }),
    );
    const [request] = gateway.requests;
    assert.ok(request);
    assert.equal(request.headers.authorization, `Bearer ${gateway.apiKey}`);
    assert.equal(request.headers['idempotency-key'], 'case-9/sms');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(request.body), {
      to: '+819012345678',
      from: 'ExampleStore',
      text: 'コード 123456',
    });
  } finally {
    await gateway.close();
  }
});

test('SMS gateway: a rate limit carries the wait the gateway asked for; a wrong key is declined', async () => {
  const gateway = await startSmsGateway({ refusedRecipient });
  try {
    const sender = new HttpSmsGateway({
      baseUrl: gateway.baseUrl,
      apiKey: gateway.apiKey,
      senderId: 'S',
      timeoutMs: 2000,
    });
    gateway.fault('rate_limited');
    const limited = await sender.sendSms({
      message: { to: '+819012345678', text: 'x' },
      idempotencyKey: 'k-rl',
    });
    assert.equal(!limited.ok && limited.error.retryAfterMs, 2000);
    const wrong = new HttpSmsGateway({
      baseUrl: gateway.baseUrl,
      apiKey: 'not-the-key',
      senderId: 'S',
      timeoutMs: 2000,
    });
    const refused = await wrong.sendSms({
      message: { to: '+819012345678', text: 'x' },
      idempotencyKey: 'k-auth',
    });
    assert.equal(!refused.ok && refused.error.kind, 'declined');
    assert.equal(!refused.ok && refused.error.providerCode, 'unauthorized');
  } finally {
    await gateway.close();
  }
});

test('SMS gateway: nothing listening is unavailable (retryable)', async () => {
  const gateway = await startSmsGateway({ refusedRecipient });
  const { baseUrl } = gateway;
  await gateway.close();
  const sender = new HttpSmsGateway({ baseUrl, apiKey: 'k', senderId: 'S', timeoutMs: 2000 });
  const answer = await sender.sendSms({
    message: { to: '+819012345678', text: 'x' },
    idempotencyKey: 'k-down',
  });
  assert.equal(!answer.ok && answer.error.kind, 'unavailable');
  assert.equal(!answer.ok && answer.error.retryable, true);
});
