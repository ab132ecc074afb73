import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { DevelopmentNotifySink } from '../../src/adapters/notify/development-sink.ts';
import type { CommandFault } from '../../src/adapters/sandbox/faults.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { createLogger } from '../../src/logger.ts';
import { runEmailConformance, runSmsConformance, type NotifyFault } from './notify-suite.ts';
import { valueOf } from './until-final.ts';

const faults: Record<NotifyFault, CommandFault> = {
  unavailable: { kind: 'unavailable' },
  rate_limited: { kind: 'rate_limited' },
  timeout_before_effect: { kind: 'timeout', when: 'before_effect' },
  timeout_after_effect: { kind: 'timeout', when: 'after_effect' },
};

function sink() {
  const lines: string[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  return {
    sink: new DevelopmentNotifySink({ logger, clock: new ManualClock(Date.parse('2026-11-25T09:00:00Z')) }),
    lines,
  };
}

for (const channel of ['email', 'sms'] as const) {
  const make = () => {
    const { sink: notifier } = sink();
    return Promise.resolve({
      sender: notifier,
      delivered: () =>
        Promise.resolve(
          notifier
            .messages()
            .filter((m) => m.channel === channel)
            .map((m) => ({
              to: m.to,
              messageId: m.messageId,
              subject: 'subject' in m ? m.subject : undefined,
              text: m.text,
            })),
        ),
      fault: (kind: NotifyFault) => {
        notifier.faults.script(faults[kind], channel === 'email' ? 'sendEmail' : 'sendSms');
      },
      refusedRecipient: channel === 'email' ? 'not-an-address' : '+0',
      recipient: channel === 'email' ? 'owner@mailbox.test' : '+819012345678',
      close: () => Promise.resolve(),
    });
  };
  if (channel === 'email') runEmailConformance('development sink', make);
  else runSmsConformance('development sink', make);
}

test('development sink: every message is written to the log, readable in full', async () => {
  const { sink: notifier, lines } = sink();
  valueOf(
    await notifier.sendEmail({
      message: { to: 'owner@mailbox.test', subject: 'アカウントを保護しました', text: '本文' },
      idempotencyKey: 'k-log',
    }),
  );
  const logged = lines.map((l) => JSON.parse(l) as { notification?: { subject?: string; text?: string } });
  assert.deepEqual(
    logged.map((entry) => [entry.notification?.subject, entry.notification?.text]),
    [['アカウントを保護しました', '本文']],
  );
});
