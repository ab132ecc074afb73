import type { Clock } from '../core/clock.ts';
import type { NotifyPort } from '../connectors/domain/notify.ts';
import type { VerificationStore } from './ports.ts';

/**
 * The development sink with a memory: each message it accepts (logged to the console by the
 * wrapped sink) is also written to `notify_dev_messages`, so what the owner would have received
 * can be read after a restart. Only used when no SMTP server or SMS gateway is configured.
 */
export function recordingSink(inner: NotifyPort, store: VerificationStore, clock: Clock): NotifyPort {
  return {
    async sendEmail(command) {
      const result = await inner.sendEmail(command);
      if (result.ok)
        await store.recordDevMessage({
          idempotencyKey: command.idempotencyKey,
          channel: 'email',
          to: command.message.to,
          subject: command.message.subject,
          text: command.message.text,
          sentAtMs: clock.now(),
        });
      return result;
    },
    async sendSms(command) {
      const result = await inner.sendSms(command);
      if (result.ok)
        await store.recordDevMessage({
          idempotencyKey: command.idempotencyKey,
          channel: 'sms',
          to: command.message.to,
          subject: undefined,
          text: command.message.text,
          sentAtMs: clock.now(),
        });
      return result;
    },
  };
}
