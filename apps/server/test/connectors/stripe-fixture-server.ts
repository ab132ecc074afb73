import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../src/core/clock.ts';
import { checkRequest, fixture, schemaOf, validate, type Json, type JsonObject } from './stripe-spec.ts';

/**
 * A small local HTTP server that answers the Stripe API paths the adapter uses, with objects
 * made from Stripe's recorded example objects (a copy of each fixture with the fields that
 * change — status, amounts, ids — set as Stripe would). It keeps just enough state to answer a
 * sequence of commands consistently, honours Idempotency-Key like Stripe (replay the first
 * answer; other parameters are an idempotency_error), and checks every request against the
 * OpenAPI description: a parameter the spec does not declare, or an enum value it does not
 * list, is recorded as a violation. Every response is validated against the spec too.
 */

export type ServerFault = 'drop_before' | 'drop_after' | 'rate_limited' | 'unavailable';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly idempotencyKey: string | undefined;
  readonly stripeVersion: string | undefined;
  readonly replayed: boolean;
}

export interface AuthorizeOptions {
  /** How this card's refunds behave: succeed at once, or go pending and settle (or fail) later. */
  readonly refunds?: 'succeed_now' | 'settle_later' | 'fail_later';
}

export interface StripeFixtureServer {
  readonly port: number;
  readonly apiKey: string;
  readonly requests: readonly RecordedRequest[];
  /** Requests whose shape the spec does not allow. */
  readonly violations: readonly string[];
  /** Responses this server sent that the spec's schemas reject (a bug in the server). */
  readonly responseProblems: readonly string[];
  authorize(amountMinor: number, currency: string, options?: AuthorizeOptions): string;
  settlePendingRefunds(): void;
  /** Stripe cancels an uncaptured PaymentIntent itself when its authorization lapses. */
  expire(paymentIntentId: string): void;
  openDispute(paymentIntentId: string, stage: 'inquiry' | 'chargeback'): string;
  raiseWarning(paymentIntentId: string, fraudType: string): string;
  /** The next requests matching method and path get these faults, one each, in order. */
  injectFault(method: string, path: RegExp, faults: readonly ServerFault[]): void;
  /** A Stripe event envelope (the recorded `event` fixture) around the object's current state. */
  eventFor(type: string, objectId: string): JsonObject;
  close(): Promise<void>;
}

const dayS = 86_400;

interface StoredAnswer {
  readonly fingerprint: string;
  readonly status: number;
  readonly body: Json;
}

type Answer = { readonly status: number; readonly body: Json };

/** A fixture field read as text: ids, statuses and currencies are strings, counters numbers. */
function str(value: Json | undefined): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return value.toString();
  throw new Error(`fixture server: expected text, got ${JSON.stringify(value)}`);
}

const error = (status: number, type: string, message: string, code?: string, param?: string): Answer => ({
  status,
  body: {
    error: {
      type,
      message,
      ...(code === undefined ? {} : { code }),
      ...(param === undefined ? {} : { param }),
    },
  },
});

export async function startStripeFixtureServer(clock: Clock): Promise<StripeFixtureServer> {
  const apiKey = 'sk_test_fixture_server';
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];
  const responseProblems: string[] = [];
  const faults: { method: string; path: RegExp; fault: ServerFault }[] = [];
  const idempotency = new Map<string, StoredAnswer>();

  // Objects by id, and each collection in creation order (Stripe lists newest first).
  const objects = new Map<string, JsonObject>();
  const order: Record<string, string[]> = {
    refund: [],
    dispute: [],
    'radar.early_fraud_warning': [],
    balance_transaction: [],
  };
  const refundBehaviour = new Map<string, NonNullable<AuthorizeOptions['refunds']>>();
  let counter = 0;
  const nextId = (prefix: string) => {
    counter += 1;
    return `${prefix}_fx${str(counter).padStart(6, '0')}`;
  };
  const nowS = () => Math.floor(clock.now() / 1000);
  const get = (id: string): JsonObject => {
    const o = objects.get(id);
    if (o === undefined) throw new Error(`fixture server: no object ${id}`);
    return o;
  };
  const add = (o: JsonObject): JsonObject => {
    objects.set(str(o.id), o);
    const list = order[str(o.object)];
    if (list !== undefined) list.push(str(o.id));
    return o;
  };
  const num = (v: Json | undefined): number => (typeof v === 'number' ? v : 0);

  function ledger(
    amount: number,
    currency: string,
    category: string,
    type: string,
    source: string,
    availableOn: number,
  ) {
    const txn = fixture('balance_transaction');
    Object.assign(txn, {
      id: nextId('txn'),
      amount,
      fee: 0,
      fee_details: [],
      net: amount,
      currency,
      reporting_category: category,
      type,
      source,
      created: nowS(),
      available_on: availableOn,
      status: availableOn <= nowS() ? 'available' : 'pending',
      description: null,
    });
    return str(add(txn).id);
  }

  const refundsOf = (pi: string) => order.refund?.map(get).filter((r) => r.payment_intent === pi) ?? [];
  const unrefunded = (pi: JsonObject) =>
    num(pi.amount_received) -
    refundsOf(str(pi.id))
      .filter((r) => r.status === 'pending' || r.status === 'succeeded')
      .reduce((total, r) => total + num(r.amount), 0);

  function expanded(o: JsonObject, expand: readonly string[]): JsonObject {
    const copy = structuredClone(o);
    if (expand.includes('latest_charge') && typeof copy.latest_charge === 'string')
      copy.latest_charge = get(copy.latest_charge);
    return copy;
  }

  function list(kind: string, params: URLSearchParams, filter: (o: JsonObject) => boolean): Answer {
    const expand = [...params.entries()].filter(([k]) => k.startsWith('expand[')).map(([, v]) => v);
    const newestFirst = [...(order[kind] ?? [])].reverse().map(get).filter(filter);
    const limit = Number(params.get('limit') ?? '10');
    const startingAfter = params.get('starting_after');
    const endingBefore = params.get('ending_before');
    let data: JsonObject[];
    let hasMore: boolean;
    if (startingAfter !== null || endingBefore !== null) {
      const cursor = (startingAfter ?? endingBefore) as string;
      const at = newestFirst.findIndex((o) => o.id === cursor);
      if (at < 0)
        return error(
          400,
          'invalid_request_error',
          `No such object: '${cursor}'`,
          'resource_missing',
          startingAfter === null ? 'ending_before' : 'starting_after',
        );
      if (startingAfter !== null) {
        const rest = newestFirst.slice(at + 1);
        data = rest.slice(0, limit);
        hasMore = rest.length > limit;
      } else {
        // ending_before: the page of objects just newer than the cursor, still newest first.
        const newer = newestFirst.slice(0, at);
        data = newer.slice(Math.max(0, newer.length - limit));
        hasMore = newer.length > limit;
      }
    } else {
      data = newestFirst.slice(0, limit);
      hasMore = newestFirst.length > limit;
    }
    const expandSource = expand.includes('data.source');
    const items = data.map((o) => {
      const copy = structuredClone(o);
      if (expandSource && typeof copy.source === 'string') copy.source = structuredClone(get(copy.source));
      return copy;
    });
    return { status: 200, body: { object: 'list', data: items, has_more: hasMore, url: `/v1/${kind}s` } };
  }

  function route(method: string, path: string, params: URLSearchParams): Answer {
    const expand = [...params.entries()].filter(([k]) => k.startsWith('expand[')).map(([, v]) => v);
    let m: RegExpMatchArray | null;
    if (method === 'GET' && (m = /^\/v1\/payment_intents\/([^/]+)$/.exec(path)) !== null) {
      const pi = objects.get(m[1] ?? '');
      if (pi === undefined)
        return error(
          404,
          'invalid_request_error',
          `No such payment_intent: '${m[1] ?? ''}'`,
          'resource_missing',
          'intent',
        );
      return { status: 200, body: expanded(pi, expand) };
    }
    if (method === 'POST' && (m = /^\/v1\/payment_intents\/([^/]+)\/cancel$/.exec(path)) !== null) {
      const pi = objects.get(m[1] ?? '');
      if (pi === undefined)
        return error(
          404,
          'invalid_request_error',
          `No such payment_intent: '${m[1] ?? ''}'`,
          'resource_missing',
          'intent',
        );
      const cancellable = [
        'requires_payment_method',
        'requires_capture',
        'requires_confirmation',
        'requires_action',
        'processing',
      ];
      if (!cancellable.includes(str(pi.status)))
        return error(
          400,
          'invalid_request_error',
          `You cannot cancel this PaymentIntent because it has a status of ${str(pi.status)}.`,
          'payment_intent_unexpected_state',
        );
      Object.assign(pi, {
        status: 'canceled',
        cancellation_reason: params.get('cancellation_reason'),
        canceled_at: nowS(),
        amount_capturable: 0,
      });
      if (typeof pi.latest_charge === 'string') {
        // Cancelling releases the uncaptured charge: Stripe marks it refunded in full.
        const charge = get(pi.latest_charge);
        Object.assign(charge, { amount_refunded: num(charge.amount), refunded: true });
      }
      return { status: 200, body: expanded(pi, expand) };
    }
    if (method === 'POST' && (m = /^\/v1\/payment_intents\/([^/]+)\/capture$/.exec(path)) !== null) {
      const pi = objects.get(m[1] ?? '');
      if (pi === undefined)
        return error(
          404,
          'invalid_request_error',
          `No such payment_intent: '${m[1] ?? ''}'`,
          'resource_missing',
          'intent',
        );
      if (pi.status !== 'requires_capture')
        return error(
          400,
          'invalid_request_error',
          `This PaymentIntent could not be captured because it has a status of ${str(pi.status)}.`,
          'payment_intent_unexpected_state',
        );
      const requested = params.get('amount_to_capture');
      const amount = requested === null ? num(pi.amount_capturable) : Number(requested);
      if (amount > num(pi.amount_capturable))
        return error(
          400,
          'invalid_request_error',
          'The amount to capture exceeds the amount capturable.',
          'amount_too_large',
          'amount_to_capture',
        );
      Object.assign(pi, { status: 'succeeded', amount_received: amount, amount_capturable: 0 });
      const charge = get(str(pi.latest_charge));
      const txn = ledger(amount, str(pi.currency), 'charge', 'charge', str(charge.id), nowS() + 2 * dayS);
      // A partial capture releases the rest: Stripe shows it as refunded on the charge.
      Object.assign(charge, {
        captured: true,
        amount_captured: amount,
        amount_refunded: num(charge.amount) - amount,
        balance_transaction: txn,
      });
      return { status: 200, body: expanded(pi, expand) };
    }
    if (method === 'POST' && path === '/v1/refunds') {
      const piId = params.get('payment_intent') ?? '';
      const pi = objects.get(piId);
      if (pi === undefined)
        return error(
          400,
          'invalid_request_error',
          `No such payment_intent: '${piId}'`,
          'resource_missing',
          'payment_intent',
        );
      if (pi.status !== 'succeeded')
        return error(
          400,
          'invalid_request_error',
          `This PaymentIntent has a status of ${str(pi.status)}: cancel it instead of refunding.`,
          'payment_intent_unexpected_state',
        );
      const charge = get(str(pi.latest_charge));
      const chargeback = (order.dispute ?? [])
        .map(get)
        .some((d) => d.charge === charge.id && !str(d.status).startsWith('warning_'));
      if (chargeback)
        return error(
          400,
          'invalid_request_error',
          `Charge ${str(charge.id)} has been charged back; cannot issue a refund.`,
          'charge_disputed',
        );
      const remaining = unrefunded(pi);
      if (remaining <= 0)
        return error(
          400,
          'invalid_request_error',
          `Charge ${str(charge.id)} has already been refunded.`,
          'charge_already_refunded',
        );
      const amount = params.get('amount') === null ? remaining : Number(params.get('amount'));
      if (amount > remaining)
        return error(
          400,
          'invalid_request_error',
          `Refund amount (${str(amount)}) is greater than unrefunded amount on charge (${str(remaining)})`,
          'amount_too_large',
          'amount',
        );
      const behaviour = refundBehaviour.get(piId) ?? 'succeed_now';
      const refund = fixture('refund');
      const id = nextId('re');
      Object.assign(refund, {
        id,
        amount,
        charge: charge.id ?? null,
        payment_intent: piId,
        currency: pi.currency ?? null,
        created: nowS(),
        reason: params.get('reason'),
        status: behaviour === 'succeed_now' ? 'succeeded' : 'pending',
        balance_transaction: null,
        metadata: {},
      });
      refund.balance_transaction = ledger(-amount, str(pi.currency), 'refund', 'refund', id, nowS());
      add(refund);
      Object.assign(charge, { amount_refunded: num(charge.amount_refunded) + amount });
      return { status: 200, body: structuredClone(refund) };
    }
    if (method === 'GET' && path === '/v1/refunds') {
      const pi = params.get('payment_intent');
      return list('refund', params, (r) => pi === null || r.payment_intent === pi);
    }
    if (method === 'GET' && path === '/v1/balance_transactions')
      return list('balance_transaction', params, () => true);
    if (method === 'GET' && path === '/v1/disputes') {
      const pi = params.get('payment_intent');
      return list('dispute', params, (d) => pi === null || d.payment_intent === pi);
    }
    if (method === 'GET' && path === '/v1/radar/early_fraud_warnings') {
      const pi = params.get('payment_intent');
      return list('radar.early_fraud_warning', params, (w) => pi === null || w.payment_intent === pi);
    }
    return error(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}).`);
  }

  function checkResponse(body: Json, where: string): void {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
    const check = (o: JsonObject) => {
      const kind = typeof o.object === 'string' ? o.object : undefined;
      const schema = kind === undefined ? ('error' in o ? 'error' : undefined) : kind;
      if (schema === undefined) return;
      for (const problem of validate(o, schemaOf(schema))) responseProblems.push(`${where}: ${problem}`);
    };
    if (body.object === 'list' && Array.isArray(body.data)) {
      for (const item of body.data)
        if (item !== null && typeof item === 'object' && !Array.isArray(item)) check(item);
    } else check(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const body = Buffer.concat(chunks).toString('utf8');
    const params = method === 'GET' ? url.searchParams : new URLSearchParams(body);
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const idempotencyKey = header('idempotency-key');
    const send = (answer: Answer, replayed = false) => {
      checkResponse(answer.body, `${method} ${url.pathname}`);
      requests.push({
        method,
        path: url.pathname,
        params: Object.fromEntries(params),
        idempotencyKey,
        stripeVersion: header('stripe-version'),
        replayed,
      });
      res.writeHead(answer.status, {
        'content-type': 'application/json',
        'request-id': `req_fx${str(requests.length)}`,
        ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
      });
      res.end(JSON.stringify(answer.body));
    };

    const problems = checkRequest(method, url.pathname, params);
    if (header('authorization') !== `Bearer ${apiKey}`)
      problems.push('missing or wrong Authorization bearer key');
    if (header('stripe-version') === undefined) problems.push('no Stripe-Version header');
    if (method === 'POST' && idempotencyKey === undefined)
      problems.push(`POST ${url.pathname} without an Idempotency-Key`);
    if (problems.length > 0) {
      violations.push(...problems);
      send(error(400, 'invalid_request_error', problems.join('; '), 'fixture_shape_violation'));
      return;
    }

    const faultAt = faults.findIndex((f) => f.method === method && f.path.test(url.pathname));
    const fault = faultAt < 0 ? undefined : faults.splice(faultAt, 1)[0]?.fault;
    if (fault === 'drop_before') {
      req.socket.destroy();
      return;
    }
    if (fault === 'rate_limited') {
      send(error(429, 'invalid_request_error', 'Too many requests hit the API too quickly.', 'rate_limit'));
      return;
    }
    if (fault === 'unavailable') {
      send(error(500, 'api_error', 'Something went wrong on our end (fixture fault).'));
      return;
    }

    let answer: Answer;
    let replayed = false;
    if (method === 'POST' && idempotencyKey !== undefined) {
      const fingerprint = createHash('sha256')
        .update(`${method} ${url.pathname} ${[...params].sort().join('&')}`)
        .digest('hex');
      const stored = idempotency.get(idempotencyKey);
      if (stored !== undefined && stored.fingerprint !== fingerprint) {
        answer = error(
          400,
          'idempotency_error',
          `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
        );
      } else if (stored !== undefined) {
        answer = { status: stored.status, body: stored.body };
        replayed = true;
      } else {
        answer = route(method, url.pathname, params);
        // Stripe keeps the answer of a request that started executing; one refused in
        // validation (unknown object, bad parameter) keeps nothing under the key.
        const code = (answer.body as { error?: { code?: string } } | null)?.error?.code ?? '';
        if (code !== 'resource_missing' && !code.startsWith('parameter_'))
          idempotency.set(idempotencyKey, { fingerprint, ...answer });
      }
    } else {
      answer = route(method, url.pathname, params);
    }
    if (fault === 'drop_after') {
      // The work is done and recorded under the key; the answer never reaches the client.
      req.socket.destroy();
      return;
    }
    send(answer, replayed);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      responseProblems.push(`server error: ${e instanceof Error ? e.message : 'unknown'}`);
      res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    apiKey,
    requests,
    violations,
    responseProblems,
    authorize(amountMinor, currency, options = {}) {
      const piId = nextId('pi');
      const chargeId = nextId('ch');
      const charge = fixture('charge');
      Object.assign(charge, {
        id: chargeId,
        amount: amountMinor,
        amount_captured: 0,
        amount_refunded: 0,
        captured: false,
        currency: currency.toLowerCase(),
        created: nowS(),
        disputed: false,
        payment_intent: piId,
        refunded: false,
        status: 'succeeded',
        paid: true,
        balance_transaction: null,
        refunds: { object: 'list', data: [], has_more: false, url: `/v1/charges/${chargeId}/refunds` },
      });
      add(charge);
      const pi = fixture('payment_intent');
      Object.assign(pi, {
        id: piId,
        amount: amountMinor,
        amount_capturable: amountMinor,
        amount_received: 0,
        capture_method: 'manual',
        currency: currency.toLowerCase(),
        created: nowS(),
        status: 'requires_capture',
        latest_charge: chargeId,
        canceled_at: null,
        cancellation_reason: null,
        last_payment_error: null,
        next_action: null,
        processing: null,
        transfer_data: null,
        client_secret: `${piId}_secret_fixture`,
        payment_method: 'pm_card_visa',
      });
      add(pi);
      refundBehaviour.set(piId, options.refunds ?? 'succeed_now');
      return piId;
    },
    settlePendingRefunds() {
      for (const refund of (order.refund ?? []).map(get)) {
        if (refund.status !== 'pending') continue;
        const fails = refundBehaviour.get(str(refund.payment_intent)) === 'fail_later';
        refund.status = fails ? 'failed' : 'succeeded';
        if (fails) {
          refund.failure_reason = 'expired_or_canceled_card';
          refund.failure_balance_transaction = ledger(
            num(refund.amount),
            str(refund.currency),
            'refund_failure',
            'refund_failure',
            str(refund.id),
            nowS(),
          );
        }
      }
    },
    expire(paymentIntentId) {
      const pi = get(paymentIntentId);
      if (pi.status !== 'requires_capture') return;
      Object.assign(pi, {
        status: 'canceled',
        cancellation_reason: 'automatic',
        canceled_at: nowS(),
        amount_capturable: 0,
      });
      const charge = get(str(pi.latest_charge));
      Object.assign(charge, { amount_refunded: num(charge.amount), refunded: true });
    },
    openDispute(paymentIntentId, stage) {
      const pi = get(paymentIntentId);
      const charge = get(str(pi.latest_charge));
      const dispute = fixture('dispute');
      const id = nextId('dp');
      const amount = unrefunded(pi);
      const card = (dispute.payment_method_details as JsonObject).card as JsonObject;
      Object.assign(card, { case_type: stage, network_reason_code: '10.4' });
      Object.assign(dispute, {
        id,
        amount,
        charge: charge.id ?? null,
        payment_intent: paymentIntentId,
        currency: pi.currency ?? null,
        created: nowS(),
        reason: 'fraudulent',
        status: stage === 'inquiry' ? 'warning_needs_response' : 'needs_response',
        is_charge_refundable: stage === 'inquiry',
        balance_transactions: [],
      });
      (dispute.evidence_details as JsonObject).due_by = nowS() + 7 * dayS;
      if (stage === 'chargeback') {
        const txnId = ledger(-amount, str(pi.currency), 'dispute', 'adjustment', id, nowS());
        dispute.balance_transactions = [structuredClone(get(txnId))];
      }
      add(dispute);
      charge.disputed = true;
      return id;
    },
    raiseWarning(paymentIntentId, fraudType) {
      const pi = get(paymentIntentId);
      const warning = fixture('radar.early_fraud_warning');
      Object.assign(warning, {
        id: nextId('issfr'),
        charge: pi.latest_charge ?? null,
        payment_intent: paymentIntentId,
        created: nowS(),
        fraud_type: fraudType,
        actionable: true,
      });
      return str(add(warning).id);
    },
    injectFault(method, path, list) {
      for (const fault of list) faults.push({ method, path, fault });
    },
    eventFor(type, objectId) {
      const event = fixture('event');
      Object.assign(event, {
        id: nextId('evt'),
        type,
        created: nowS(),
        data: { object: structuredClone(get(objectId)) },
      });
      return event;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
