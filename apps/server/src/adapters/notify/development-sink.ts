import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import { LruMap } from '../../core/lru.ts';
import { decideForKey, fingerprintOf, type KeptAnswer } from '../../connectors/domain/idempotent-command.ts';
import type { EmailMessage, NotifyPort, NotifyReceipt, SmsMessage } from '../../connectors/domain/notify.ts';
import { providerError, providerOk, type ProviderResult } from '../../connectors/domain/provider-result.ts';
import {
  faultInjector,
  noFaults,
  type Delay,
  type FaultConfigInput,
  type FaultInjector,
} from '../sandbox/faults.ts';
import { messageIdFor } from './message-id.ts';

const emailAddress = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const e164 = /^\+[1-9]\d{6,14}$/;

export type SinkMessage =
  | ({ readonly channel: 'email'; readonly messageId: string; readonly atMs: number } & EmailMessage)
  | ({ readonly channel: 'sms'; readonly messageId: string; readonly atMs: number } & SmsMessage);

export interface DevelopmentSinkOptions {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Messages kept for reading, newest last; older ones are forgotten. */
  readonly messagesMax?: number;
  /** Faults, as the sandboxes take them, to rehearse a flaky provider; none by default. */
  readonly faults?: FaultConfigInput;
  readonly delay?: Delay;
}

/**
 * Development notifications: nothing leaves the machine. Each message is written to the log in
 * full and kept in memory, readable through `messages()`, so a demo shows exactly what the
 * shopper would have received. One message per idempotency key, like the real adapters.
 */
export class DevelopmentNotifySink implements NotifyPort {
  readonly faults: FaultInjector;
  readonly #options: DevelopmentSinkOptions;
  readonly #messages: SinkMessage[] = [];
  readonly #messagesMax: number;
  readonly #kept: LruMap<string, KeptAnswer>;

  constructor(options: DevelopmentSinkOptions) {
    this.#options = options;
    this.#messagesMax = options.messagesMax ?? 1000;
    this.#kept = new LruMap(Math.max(this.#messagesMax, 1));
    this.faults = faultInjector(options.faults ?? noFaults, {
      ...(options.delay === undefined ? {} : { delay: options.delay }),
    });
  }

  sendEmail(command: {
    readonly message: EmailMessage;
    readonly idempotencyKey: string;
  }): Promise<ProviderResult<NotifyReceipt>> {
    return this.faults.run('sendEmail', () =>
      Promise.resolve(
        this.#deliver('sendEmail', command.idempotencyKey, command.message, (messageId, atMs) => ({
          channel: 'email',
          messageId,
          atMs,
          ...command.message,
        })),
      ),
    );
  }

  sendSms(command: {
    readonly message: SmsMessage;
    readonly idempotencyKey: string;
  }): Promise<ProviderResult<NotifyReceipt>> {
    return this.faults.run('sendSms', () =>
      Promise.resolve(
        this.#deliver('sendSms', command.idempotencyKey, command.message, (messageId, atMs) => ({
          channel: 'sms',
          messageId,
          atMs,
          ...command.message,
        })),
      ),
    );
  }

  /** What was "sent", oldest first. */
  messages(): readonly SinkMessage[] {
    return [...this.#messages];
  }

  #deliver(
    name: string,
    idempotencyKey: string,
    message: EmailMessage | SmsMessage,
    make: (messageId: string, atMs: number) => SinkMessage,
  ): ProviderResult<NotifyReceipt> {
    // Refuse what a real provider would, so a demo fails where production would.
    const valid = name === 'sendEmail' ? emailAddress.test(message.to) : e164.test(message.to);
    if (!valid)
      return providerError('declined', `cannot deliver to ${message.to}`, {
        providerCode: 'invalid_recipient',
      });
    const fingerprint = fingerprintOf(name, { ...message });
    const decision = decideForKey(this.#kept.get(idempotencyKey), fingerprint);
    // A kept answer here is always the receipt this method returned.
    if (decision.action === 'replay') return decision.answer as ProviderResult<NotifyReceipt>;
    if (decision.action === 'refuse') return decision.answer;
    const sent = make(messageIdFor(idempotencyKey, 'sink.bulwark.invalid'), this.#options.clock.now());
    this.#messages.push(sent);
    if (this.#messages.length > this.#messagesMax) this.#messages.shift();
    this.#options.logger.info({ notification: sent }, `notification (${sent.channel}) to ${sent.to}`);
    const answer = providerOk<NotifyReceipt>({ messageId: sent.messageId, channel: sent.channel });
    this.#kept.set(idempotencyKey, { fingerprint, answer });
    return answer;
  }
}
