import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SmtpEmailSender } from '../../src/adapters/notify/smtp.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { runEmailConformance } from './notify-suite.ts';
import { startSmtpServer } from './notify-test-servers.ts';
import { valueOf } from './until-final.ts';

const refusedRecipient = 'nobody@mailbox.test';

async function smtpHarness() {
  const server = await startSmtpServer({ refusedRecipient });
  const sender = new SmtpEmailSender({
    host: '127.0.0.1',
    port: server.port,
    secure: false,
    requireTls: false,
    from: '"Example Store Security" <security@store.test>',
    messageIdDomain: 'store.test',
    // Short, so the timeout cases end soon, yet ample for a loopback answer on a busy machine.
    timeoutMs: 2000,
    clock: new ManualClock(Date.parse('2026-11-25T09:00:00Z')),
  });
  return { server, sender };
}

runEmailConformance('SMTP (nodemailer) against a real SMTP server', async () => {
  const { server, sender } = await smtpHarness();
  return {
    sender,
    delivered: () => Promise.resolve([...server.messages]),
    fault: (kind) => {
      server.fault(kind);
    },
    refusedRecipient,
    recipient: 'owner@mailbox.test',
    close: async () => {
      sender.close();
      await server.close();
    },
  };
});

test('SMTP: the message says who sent it, when (injected clock), and that it is automatic', async () => {
  const { server, sender } = await smtpHarness();
  try {
    const receipt = valueOf(
      await sender.sendEmail({
        message: { to: 'owner@mailbox.test', subject: 'Hello', text: 'Body' },
        idempotencyKey: 'case-1/notify-owner/email',
      }),
    );
    const headers = new Map(
      (server.raw[0] ?? '')
        .split('\r\n\r\n')[0]
        ?.replace(/\r\n[ \t]+/g, ' ')
        .split('\r\n')
        .map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]),
    );
    assert.equal(headers.get('from'), 'Example Store Security <security@store.test>');
    assert.equal(headers.get('date'), 'Wed, 25 Nov 2026 09:00:00 +0000');
    assert.equal(headers.get('auto-submitted'), 'auto-generated');
    assert.match(receipt.messageId, /^<[0-9a-f]{32}@store\.test>$/);
    assert.ok(!(server.raw[0] ?? '').includes('case-1'), 'the idempotency key itself is not disclosed');
  } finally {
    sender.close();
    await server.close();
  }
});

test('SMTP: no server listening is unavailable (retryable)', async () => {
  const { server, sender } = await smtpHarness();
  await server.close();
  try {
    const answer = await sender.sendEmail({
      message: { to: 'owner@mailbox.test', subject: 'Hello', text: 'Body' },
      idempotencyKey: 'k-down',
    });
    assert.equal(!answer.ok && answer.error.kind, 'unavailable');
    assert.equal(!answer.ok && answer.error.retryable, true);
  } finally {
    sender.close();
  }
});
