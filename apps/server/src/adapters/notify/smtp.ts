import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import type { Clock } from '../../core/clock.ts';
import { LruMap } from '../../core/lru.ts';
import { decideForKey, fingerprintOf, type KeptAnswer } from '../../connectors/domain/idempotent-command.ts';
import type { EmailMessage, EmailSender, NotifyReceipt } from '../../connectors/domain/notify.ts';
import { providerError, providerOk, type ProviderResult } from '../../connectors/domain/provider-result.ts';
import { messageIdFor } from './message-id.ts';

export interface SmtpOptions {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (port 465). Otherwise STARTTLS is used when the server offers it. */
  readonly secure: boolean;
  /** Refuse to send unless the connection is upgraded with STARTTLS. */
  readonly requireTls: boolean;
  readonly auth?: { readonly user: string; readonly pass: string } | undefined;
  /** The From address, e.g. `"Example Store Security" <security@example.com>`. */
  readonly from: string;
  /** The right-hand side of generated Message-IDs, e.g. `example.com`. */
  readonly messageIdDomain: string;
  /** Connect, greeting and per-reply timeout: a server silent this long is a timeout. */
  readonly timeoutMs: number;
  /** Keys whose send succeeded in this process, remembered to answer retries without resending. */
  readonly sentKeysMax?: number;
  readonly clock: Clock;
}

/**
 * E-mail over SMTP with nodemailer. SMTP has no idempotency keys, so the key becomes the
 * Message-ID: a retry after a lost answer (the server may have queued the first copy) sends the
 * same Message-ID, which mail clients show once. A retry after a known success in this process is
 * answered from memory and sends nothing.
 *
 * Errors: a 4xx reply is temporary (`unavailable`; 421/450 as `rate_limited` — servers use them
 * to throttle), a 5xx reply is final (`declined`), no reply in time is `timeout`, no connection
 * is `unavailable`, a refused login is `declined` (fix the configuration; retrying cannot help).
 */
export class SmtpEmailSender implements EmailSender {
  readonly #transport: Transporter<SMTPTransport.SentMessageInfo>;
  readonly #options: SmtpOptions;
  readonly #sent: LruMap<string, KeptAnswer>;

  constructor(options: SmtpOptions) {
    this.#options = options;
    this.#sent = new LruMap(options.sentKeysMax ?? 10_000);
    this.#transport = nodemailer.createTransport({
      host: options.host,
      port: options.port,
      secure: options.secure,
      requireTLS: options.requireTls,
      ...(options.auth === undefined ? {} : { auth: { user: options.auth.user, pass: options.auth.pass } }),
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
    });
  }

  async sendEmail(command: {
    readonly message: EmailMessage;
    readonly idempotencyKey: string;
  }): Promise<ProviderResult<NotifyReceipt>> {
    const fingerprint = fingerprintOf('sendEmail', { ...command.message });
    const decision = decideForKey(this.#sent.get(command.idempotencyKey), fingerprint);
    // A kept answer here is always the receipt this method returned.
    if (decision.action === 'replay') return decision.answer as ProviderResult<NotifyReceipt>;
    if (decision.action === 'refuse') return decision.answer;
    const messageId = messageIdFor(command.idempotencyKey, this.#options.messageIdDomain);
    try {
      await this.#transport.sendMail({
        from: this.#options.from,
        to: command.message.to,
        subject: command.message.subject,
        text: command.message.text,
        messageId,
        date: new Date(this.#options.clock.now()),
        // RFC 3834: an automatic message, so auto-responders do not answer it.
        headers: { 'Auto-Submitted': 'auto-generated' },
      });
    } catch (error) {
      return smtpError(error);
    }
    const answer = providerOk<NotifyReceipt>({ messageId, channel: 'email' });
    this.#sent.set(command.idempotencyKey, { fingerprint, answer });
    return answer;
  }

  close(): void {
    this.#transport.close();
  }
}

function smtpError(error: unknown): ProviderResult<never> {
  const { code, responseCode, message } = error as {
    code?: unknown;
    responseCode?: unknown;
    message?: unknown;
  };
  const text = typeof message === 'string' ? message : 'SMTP failure';
  if (typeof responseCode === 'number') {
    const providerCode = `smtp_${String(responseCode)}`;
    if (responseCode === 421 || responseCode === 450)
      return providerError('rate_limited', text, { providerCode });
    if (responseCode >= 400 && responseCode < 500)
      return providerError('unavailable', text, { providerCode });
    if (responseCode >= 500) return providerError('declined', text, { providerCode });
  }
  if (code === 'ETIMEDOUT') return providerError('timeout', text, { providerCode: 'smtp_timeout' });
  if (code === 'EAUTH') return providerError('declined', text, { providerCode: 'smtp_auth_failed' });
  if (code === 'EENVELOPE') return providerError('declined', text, { providerCode: 'smtp_bad_envelope' });
  return providerError('unavailable', text, {
    providerCode: typeof code === 'string' ? code : 'smtp_connection',
  });
}
