import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { DeliveredMessage, NotifyFault } from './notify-suite.ts';

/**
 * Real servers on 127.0.0.1 that the notify adapters talk to in the tests: an SMTP server
 * (smtp-server, the same protocol engine real relays use) and an SMS gateway speaking the HTTP
 * contract documented in adapters/notify/sms-gateway.ts. Both can be told to fail the next send.
 */

const smtpError = (message: string, responseCode: number): Error =>
  Object.assign(new Error(message), { responseCode });

export interface TestSmtpServer {
  readonly port: number;
  readonly messages: DeliveredMessage[];
  /** Raw messages as received, for header checks. */
  readonly raw: string[];
  fault(kind: NotifyFault): void;
  close(): Promise<void>;
}

/** The service settings that send its e-mail to `smtp`, from the Example Store's security address. */
export function smtpServiceEnv(smtp: TestSmtpServer): Record<string, string> {
  return {
    BULWARK_SMTP_HOST: '127.0.0.1',
    BULWARK_SMTP_PORT: String(smtp.port),
    BULWARK_SMTP_FROM: 'Example Store Security <security@example.com>',
  };
}

export async function startSmtpServer(options: { refusedRecipient: string }): Promise<TestSmtpServer> {
  const messages: DeliveredMessage[] = [];
  const raw: string[] = [];
  let next: NotifyFault | undefined;
  const take = (kind: NotifyFault): boolean => {
    if (next !== kind) return false;
    next = undefined;
    return true;
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    closeTimeout: 50,
    onConnect(_session, callback) {
      // Never greet: the client times out before anything was sent.
      if (take('timeout_before_effect')) return;
      callback();
    },
    onRcptTo(address, _session, callback) {
      if (address.address === options.refusedRecipient) {
        callback(smtpError('5.1.1 no such mailbox', 550));
        return;
      }
      if (take('rate_limited')) {
        callback(smtpError('4.7.0 too many messages, slow down', 450));
        return;
      }
      callback();
    },
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (take('unavailable')) {
          callback(smtpError('4.3.0 mail system temporarily unavailable', 451));
          return;
        }
        const text = Buffer.concat(chunks).toString('utf8');
        raw.push(text);
        messages.push(parseEmail(text));
        // Accepted and queued, but the "250 OK" never reaches the client.
        if (take('timeout_after_effect')) return;
        callback();
      });
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    messages,
    raw,
    fault: (kind) => {
      next = kind;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** Just enough RFC 5322/2047/2045 to read what nodemailer writes: headers, encoded words, QP or base64. */
export function parseEmail(raw: string): DeliveredMessage & { headers: Map<string, string> } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const body = raw.slice(split + 4);
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const text =
    encoding === 'base64'
      ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
      : encoding === 'quoted-printable'
        ? decodeQuotedPrintable(body)
        : body;
  return {
    headers,
    to: (headers.get('to') ?? '').replace(/^.*<(.+)>$/, '$1'),
    messageId: headers.get('message-id') ?? '',
    subject: decodeWords(headers.get('subject') ?? ''),
    text: text.replace(/\r\n/g, '\n'),
  };
}

function decodeQuotedPrintable(text: string): string {
  const joined = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i += 1) {
    const c = joined.charAt(i);
    if (c === '=' && /^[0-9A-F]{2}$/i.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_m, kind: string, data: string) =>
      kind.toLowerCase() === 'b'
        ? Buffer.from(data, 'base64').toString('utf8')
        : decodeQuotedPrintable(data.replace(/_/g, ' ')),
    );
}

export interface TestSmsGateway {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly messages: DeliveredMessage[];
  /** Every request, with its headers, in arrival order. */
  readonly requests: { headers: IncomingMessage['headers']; body: string }[];
  fault(kind: NotifyFault): void;
  close(): Promise<void>;
}

/** An SMS gateway that keeps the documented promises, one SMS per Idempotency-Key among them. */
export async function startSmsGateway(options: { refusedRecipient: string }): Promise<TestSmsGateway> {
  const apiKey = 'sms-test-key';
  const messages: DeliveredMessage[] = [];
  const requests: { headers: IncomingMessage['headers']; body: string }[] = [];
  const byKey = new Map<string, { body: string; status: number; answer: string }>();
  const held: ServerResponse[] = [];
  let next: NotifyFault | undefined;
  const answer = (
    response: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ headers: request.headers, body });
      if (request.method !== 'POST' || request.url !== '/v1/messages') {
        answer(response, 404, { error: { code: 'no_route', message: 'no such route' } });
        return;
      }
      if (request.headers.authorization !== `Bearer ${apiKey}`) {
        answer(response, 401, { error: { code: 'unauthorized', message: 'bad API key' } });
        return;
      }
      const fault = next;
      next = undefined;
      if (fault === 'timeout_before_effect') {
        held.push(response);
        return;
      }
      if (fault === 'unavailable') {
        answer(response, 503, { error: { code: 'maintenance', message: 'try again later' } });
        return;
      }
      if (fault === 'rate_limited') {
        answer(
          response,
          429,
          { error: { code: 'rate_limited', message: 'slow down' } },
          { 'retry-after': '2' },
        );
        return;
      }
      const key = request.headers['idempotency-key'];
      if (typeof key !== 'string' || key.length === 0) {
        answer(response, 400, {
          error: { code: 'idempotency_key_required', message: 'send an Idempotency-Key' },
        });
        return;
      }
      const kept = byKey.get(key);
      if (kept !== undefined) {
        if (kept.body !== body)
          answer(response, 409, { error: { code: 'idempotency_key_reused', message: 'different message' } });
        else {
          response.writeHead(kept.status, { 'content-type': 'application/json' });
          response.end(kept.answer);
        }
        return;
      }
      const parsed = JSON.parse(body) as { to: string; text: string; from: string };
      if (!/^\+[1-9]\d{6,14}$/.test(parsed.to) || parsed.to === options.refusedRecipient) {
        answer(response, 400, {
          error: { code: 'invalid_number', message: `cannot deliver to ${parsed.to}` },
        });
        return;
      }
      const id = `msg_${String(messages.length + 1)}`;
      messages.push({ to: parsed.to, messageId: id, text: parsed.text });
      const stored = JSON.stringify({ id, status: 'queued' });
      byKey.set(key, { body, status: 202, answer: stored });
      if (fault === 'timeout_after_effect') {
        held.push(response);
        return;
      }
      response.writeHead(202, { 'content-type': 'application/json' });
      response.end(stored);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${String(port)}`,
    apiKey,
    messages,
    requests,
    fault: (kind) => {
      next = kind;
    },
    close: async () => {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
