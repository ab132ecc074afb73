import type { NotifyReceipt, SmsMessage, SmsSender } from '../../connectors/domain/notify.ts';
import { providerError, providerOk, type ProviderResult } from '../../connectors/domain/provider-result.ts';
import { secondMs } from '../../core/time.ts';

export interface SmsGatewayOptions {
  /** e.g. `https://sms.example.net`; the client POSTs to `<baseUrl>/v1/messages`. */
  readonly baseUrl: string;
  readonly apiKey: string;
  /** The sender name or number shown to the recipient, where the network allows it. */
  readonly senderId: string;
  /** The whole request, connect to last byte: longer is a `timeout`. */
  readonly timeoutMs: number;
}

/**
 * SMS through an HTTP gateway. The request shape (docs/connectors/fulfilment-store-notify.md):
 *
 * ```
 * POST <baseUrl>/v1/messages
 * Authorization: Bearer <apiKey>
 * Idempotency-Key: <key>          the gateway sends one SMS per key and answers repeats alike
 * Content-Type: application/json
 * {"to":"+819012345678","from":"<senderId>","text":"…"}
 *
 * 200/201/202 {"id":"<gateway message id>","status":"queued"|"sent"}
 * 400/422     {"error":{"code":"invalid_number","message":"…"}}     → declined
 * 401/403                                                           → declined (fix the key)
 * 409         the key was used for a different message              → conflict
 * 429         Retry-After: <seconds>                                → rate_limited
 * 5xx, no connection                                                → unavailable
 * no answer within timeoutMs                                        → timeout
 * ```
 */
export class HttpSmsGateway implements SmsSender {
  readonly #options: SmsGatewayOptions;

  constructor(options: SmsGatewayOptions) {
    this.#options = options;
  }

  async sendSms(command: {
    readonly message: SmsMessage;
    readonly idempotencyKey: string;
  }): Promise<ProviderResult<NotifyReceipt>> {
    const url = new URL('/v1/messages', this.#options.baseUrl);
    let response: Response;
    let body: unknown;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.#options.apiKey}`,
          'idempotency-key': command.idempotencyKey,
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          to: command.message.to,
          from: this.#options.senderId,
          text: command.message.text,
        }),
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      const raw = await response.text();
      body = parseJson(raw);
    } catch (error) {
      const name = (error as { name?: unknown }).name;
      if (name === 'TimeoutError' || name === 'AbortError')
        return providerError(
          'timeout',
          `the SMS gateway did not answer within ${String(this.#options.timeoutMs)} ms`,
          {
            providerCode: 'gateway_timeout',
          },
        );
      return providerError('unavailable', 'the SMS gateway could not be reached', {
        providerCode: 'gateway_unreachable',
      });
    }
    const status = response.status;
    const gatewayError = readError(body);
    if (status >= 200 && status < 300) {
      const id = (body as { id?: unknown } | undefined)?.id;
      if (typeof id !== 'string' || id.length === 0)
        return providerError('unavailable', 'the SMS gateway answered without a message id', {
          providerCode: 'gateway_bad_answer',
        });
      return providerOk({ messageId: id, channel: 'sms' });
    }
    const providerCode = gatewayError.code ?? `http_${String(status)}`;
    const message = gatewayError.message ?? `the SMS gateway answered ${String(status)}`;
    if (status === 429)
      return providerError('rate_limited', message, { providerCode, retryAfterMs: retryAfterMs(response) });
    if (status === 409) return providerError('conflict', message, { providerCode });
    if (status === 404) return providerError('not_found', message, { providerCode });
    if (status === 408) return providerError('timeout', message, { providerCode });
    if (status >= 500) return providerError('unavailable', message, { providerCode });
    return providerError('declined', message, { providerCode });
  }
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

function readError(body: unknown): { code?: string; message?: string } {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return {
    ...(typeof error?.code === 'string' ? { code: error.code } : {}),
    ...(typeof error?.message === 'string' ? { message: error.message } : {}),
  };
}

/** Retry-After in seconds (the form gateways use); an HTTP date is read too. */
function retryAfterMs(response: Response): number | undefined {
  const header = response.headers.get('retry-after');
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * secondMs;
  const at = Date.parse(header);
  // The provider's own clock against ours; only used as a hint for the wait.
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
