import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  renderNotification,
  type EmailSender,
  type Locale,
  type SmsSender,
} from '../../src/connectors/domain/notify.ts';
import type { ProviderResult } from '../../src/connectors/domain/provider-result.ts';
import { untilFinal, valueOf } from './until-final.ts';

/** What reached the recipient's side (the mailbox, the handset), as the test server saw it. */
export interface DeliveredMessage {
  readonly to: string;
  /** E-mail: the Message-ID header; SMS: the gateway's id. */
  readonly messageId: string;
  readonly subject?: string | undefined;
  readonly text: string;
}

export type NotifyFault = 'unavailable' | 'rate_limited' | 'timeout_before_effect' | 'timeout_after_effect';

export interface NotifyHarness<S> {
  readonly sender: S;
  /** Everything delivered so far, in order. */
  delivered(): Promise<DeliveredMessage[]>;
  /** The provider side meets this fault on the next send. */
  fault(kind: NotifyFault): void;
  /** A recipient the provider refuses for good (unknown mailbox, invalid number). */
  readonly refusedRecipient: string;
  /** A recipient it accepts. */
  readonly recipient: string;
  close(): Promise<void>;
}

type Channel = 'email' | 'sms';
type Send = (
  sender: EmailSender & SmsSender,
  to: string,
  subject: string,
  text: string,
  key: string,
) => Promise<ProviderResult<{ messageId: string }>>;

const senders: Record<Channel, Send> = {
  email: (s, to, subject, text, key) => s.sendEmail({ message: { to, subject, text }, idempotencyKey: key }),
  sms: (s, to, _subject, text, key) => s.sendSms({ message: { to, text }, idempotencyKey: key }),
};

function runNotifyConformance<S extends EmailSender | SmsSender>(
  channel: Channel,
  name: string,
  make: () => Promise<NotifyHarness<S>>,
): void {
  describe(`notify port (${channel}): ${name}`, () => {
    let h: NotifyHarness<S>;
    let seen = 0;
    const send = (to: string, subject: string, text: string, key: string) =>
      senders[channel](h.sender as unknown as EmailSender & SmsSender, to, subject, text, key);
    /** Messages delivered since the last call. */
    const fresh = async (): Promise<DeliveredMessage[]> => {
      const all = await h.delivered();
      const news = all.slice(seen);
      seen = all.length;
      return news;
    };
    before(async () => {
      h = await make();
    });
    after(async () => {
      await h.close();
    });

    for (const locale of ['en', 'ja'] as const satisfies readonly Locale[]) {
      test(`delivers the ${locale === 'en' ? 'English' : 'Japanese'} text intact`, async () => {
        const rendered = renderNotification({ kind: 'account_secured', storeName: 'Example Store' }, locale);
        const body = channel === 'email' ? rendered.text : rendered.sms;
        const receipt = valueOf(await send(h.recipient, rendered.subject, body, `k-text-${locale}`));
        const [message, ...rest] = await fresh();
        assert.equal(rest.length, 0);
        assert.ok(message);
        assert.equal(message.to, h.recipient);
        assert.equal(message.text.trim(), body);
        assert.equal(message.messageId, receipt.messageId);
        if (channel === 'email') assert.equal(message.subject, rendered.subject);
      });
    }

    test('the same key and message again: one delivery, the same receipt', async () => {
      const first = valueOf(await send(h.recipient, 'Hello', 'once only', 'k-once'));
      const second = valueOf(await send(h.recipient, 'Hello', 'once only', 'k-once'));
      assert.deepEqual(second, first);
      assert.equal((await fresh()).length, 1);
    });

    test('the same key for a different message is refused and sends nothing', async () => {
      valueOf(await send(h.recipient, 'Hello', 'first text', 'k-clash'));
      await fresh();
      const clash = await send(h.recipient, 'Hello', 'another text', 'k-clash');
      assert.equal(!clash.ok && clash.error.kind, 'conflict');
      assert.equal((await fresh()).length, 0);
    });

    test('a refused recipient is a final answer', async () => {
      const refused = await send(h.refusedRecipient, 'Hello', 'nobody home', 'k-refused');
      assert.equal(!refused.ok && refused.error.kind, 'declined');
      assert.equal(!refused.ok && refused.error.retryable, false);
      assert.equal((await fresh()).length, 0);
    });

    for (const kind of ['unavailable', 'rate_limited', 'timeout_before_effect'] as const) {
      test(`${kind}: retryable, nothing delivered, the retry under the same key delivers once`, async () => {
        h.fault(kind);
        const failed = await send(h.recipient, 'Hello', `after ${kind}`, `k-${kind}`);
        assert.equal(!failed.ok && failed.error.kind, kind === 'timeout_before_effect' ? 'timeout' : kind);
        assert.equal(!failed.ok && failed.error.retryable, true);
        assert.equal((await fresh()).length, 0);
        valueOf(await untilFinal(() => send(h.recipient, 'Hello', `after ${kind}`, `k-${kind}`)));
        assert.equal((await fresh()).length, 1);
      });
    }

    test('a timeout after the effect: the retry under the same key leaves the recipient one message', async () => {
      h.fault('timeout_after_effect');
      const lost = await send(h.recipient, 'Hello', 'answer lost', 'k-lost');
      assert.equal(!lost.ok && lost.error.kind, 'timeout');
      assert.equal(!lost.ok && lost.error.retryable, true);
      const receipt = valueOf(await untilFinal(() => send(h.recipient, 'Hello', 'answer lost', 'k-lost')));
      const delivered = await fresh();
      assert.ok(delivered.length >= 1, 'the first attempt was delivered');
      // SMTP cannot refuse a duplicate; it carries the same Message-ID, which the mailbox shows once.
      assert.deepEqual([...new Set(delivered.map((m) => m.messageId))], [receipt.messageId]);
    });
  });
}

export const runEmailConformance = (name: string, make: () => Promise<NotifyHarness<EmailSender>>): void => {
  runNotifyConformance('email', name, make);
};

export const runSmsConformance = (name: string, make: () => Promise<NotifyHarness<SmsSender>>): void => {
  runNotifyConformance('sms', name, make);
};
