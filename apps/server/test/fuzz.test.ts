import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { batchResponseSchema, decisionSchema, errorBodySchema } from '@bulwark/contracts';
import { statusOf } from '../src/http/errors.ts';
import { backends } from './helpers/backends.ts';
import { startTestService, type TestService } from './helpers/service.ts';

/**
 * Whatever arrives at POST /v1/events, the answer is one of the contract's: a decision, a batch
 * of answers as long as the batch, or the error shape with a code from the closed list and the
 * status the one code→status map gives it. Set FC_SEED to replay a failing run.
 */

const seed = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED);
const allowedStatuses = new Set([200, 400, 409, 413, 415]);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = (string | number)[];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Event times before the test service's clock (2026-11-25T09:00Z): none is refused as future. */
const at = '2026-11-25T08:30:00Z';
const context = { ip: '203.0.113.7', userAgent: 'Mozilla/5.0', deviceId: 'dev-1', sessionId: 'sess-1' };

/** One valid event of each shape the contract has, to mutate or to mix in. */
function validEvents(id: string, accountId: string): Json[] {
  const base = { id, at, accountId };
  return [
    { ...base, type: 'account.created', email: 'a@example.com', phone: '+81900000000' },
    { ...base, type: 'login.succeeded', context, method: 'password', secondFactor: 'totp' },
    { ...base, type: 'login.failed', context, reason: 'bad_password' },
    { id, at, type: 'login.failed', context, reason: 'unknown_account', username: 'nobody@example.com' },
    { ...base, type: 'challenge.completed', challengeId: 'ch_1', method: 'passkey', result: 'passed' },
    { ...base, type: 'session.activity', context, action: 'payment_method.add' },
    { ...base, type: 'account.updated', context, field: 'email', change: 'changed' },
    {
      ...base,
      type: 'order.placed',
      context,
      orderId: `o-${id}`,
      amount: { value: 5000, currency: 'JPY' },
      items: [
        { sku: 'gc-5000', category: 'gift_card', quantity: 1, unitPrice: { value: 5000, currency: 'JPY' } },
      ],
      shipping: { addressId: 'addr-1', country: 'JP', postalCode: '150-0001' },
      payment: { method: 'card', cardFingerprint: 'fp-1', bin: '411111', cardCountry: 'JP' },
      delivery: { email: 'a@example.com' },
    },
    { ...base, type: 'order.archived', context, orderId: `o-${id}` },
    { ...base, type: 'order.cancelled', orderId: `o-${id}`, by: 'customer' },
    { ...base, type: 'account.compromised', reportedBy: 'owner', since: '2026-11-24T00:00:00Z' },
  ];
}

function allPaths(value: Json, prefix: Path = []): Path[] {
  if (Array.isArray(value))
    return value.flatMap((item, index) => [[...prefix, index], ...allPaths(item, [...prefix, index])]);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) => [
      [...prefix, key],
      ...allPaths(item, [...prefix, key]),
    ]);
  }
  return [];
}

function parentOf(root: Json, path: Path): Record<string | number, Json> | undefined {
  let node: Json = root;
  for (const step of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, Json>)[step] ?? null;
  }
  return node !== null && typeof node === 'object' ? (node as Record<string | number, Json>) : undefined;
}

type Mutation =
  | { kind: 'drop'; pick: number }
  | { kind: 'retype'; pick: number; value: Json }
  | { kind: 'huge'; pick: number; length: number }
  | { kind: 'unicode'; pick: number; value: string }
  | { kind: 'proto'; pick: number; value: Json }
  | { kind: 'deep'; pick: number; depth: number; open: '[' | '{"a":' };

/** NUL and unpaired surrogates: PostgreSQL cannot store them, so validation must refuse them. */
const oddStrings = [
  '\u0001\u001f\u007f',
  '\ud83e\udd8a',
  '\u202e\u2066evil',
  '\ufeff',
  'e\u0301\u0301\u0301',
  '🦊👩‍👩‍👧‍👦',
  '\u200b',
  '\\',
  '"',
  '\r\n',
  'Ω'.repeat(600),
];

function mutationArb(hugeMax: number): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }),
    fc.record({
      kind: fc.constant('retype' as const),
      pick: fc.nat(),
      value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
    }),
    fc.record({
      kind: fc.constant('huge' as const),
      pick: fc.nat(),
      length: fc.oneof(fc.integer({ min: 1_000, max: 3_000 }), fc.constant(hugeMax)),
    }),
    fc.record({
      kind: fc.constant('unicode' as const),
      pick: fc.nat(),
      value: fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom(...oddStrings)),
    }),
    fc.record({
      kind: fc.constant('proto' as const),
      pick: fc.nat(),
      value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
    }),
    fc.record({
      kind: fc.constant('deep' as const),
      pick: fc.nat(),
      depth: fc.integer({ min: 10, max: 20_000 }),
      open: fc.constantFrom('[' as const, '{"a":' as const),
    }),
  );
}

/**
 * Applies mutations to a valid event and answers the JSON text. `__proto__` keys and deep nesting
 * are spliced into the text: as JavaScript values they would set a prototype or overflow
 * JSON.stringify's stack before the server ever saw them.
 */
function mutate(event: Json, mutations: readonly Mutation[]): string {
  const root = structuredClone(event);
  const splices: [string, string][] = [];
  mutations.forEach((mutation, index) => {
    const paths = allPaths(root);
    const path = paths[mutation.pick % Math.max(1, paths.length)];
    if (path === undefined) return;
    const parent = parentOf(root, path);
    const key = path.at(-1);
    if (parent === undefined || key === undefined) return;
    const marker = `__bulwark_marker_${index}__`;
    switch (mutation.kind) {
      case 'drop':
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else Reflect.deleteProperty(parent, key);
        break;
      case 'retype':
        parent[key] = mutation.value;
        break;
      case 'huge':
        parent[key] = 'x'.repeat(mutation.length);
        break;
      case 'unicode':
        parent[key] = mutation.value;
        break;
      case 'proto':
        if (Array.isArray(parent)) parent[Number(key)] = { [marker]: mutation.value };
        else parent[marker] = mutation.value;
        splices.push([JSON.stringify(marker), '"__proto__"']);
        break;
      case 'deep': {
        parent[key] = marker;
        const close = mutation.open === '[' ? ']' : '}';
        splices.push([
          JSON.stringify(marker),
          `${mutation.open.repeat(mutation.depth)}0${close.repeat(mutation.depth)}`,
        ]);
        break;
      }
    }
  });
  let text = JSON.stringify(root);
  for (const [from, to] of splices) text = text.replace(from, to);
  return text;
}

/** Any JSON text: arbitrary JSON values, anything JavaScript has (as JSON would render it), junk. */
const anyJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue().map((value) => JSON.stringify(value)),
  // fc.anything() makes no functions, symbols or bigints; undefined (no JSON) goes as its name.
  fc.anything().map((value) => (value === undefined ? 'undefined' : JSON.stringify(value))),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom(
    '',
    ' ',
    '{',
    '[]',
    '{"events":null}',
    '{"events":{}}',
    '{"type":"login.succeeded","events":[]}',
  ),
);

const mutatedEventText = (hugeMax: number): fc.Arbitrary<string> =>
  fc
    .record({
      template: fc.nat({ max: 10 }),
      id: fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constant('fz-same')),
      mutations: fc.array(mutationArb(hugeMax), { minLength: 1, maxLength: 3 }),
    })
    .map(({ template, id, mutations }) => {
      const events = validEvents(id, 'fz-acct');
      return mutate(events[template % events.length] ?? null, mutations);
    });

const contentTypes = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'Application/JSON',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/octet-stream',
      'multipart/form-data; boundary=x',
    ),
  },
);

/** Checks an answer is one the contract allows; answers the parsed decisions of a batch. */
function assertContractAnswer(
  response: { status: number; body: unknown },
  sent: string,
): { decisions?: unknown[] } {
  const context = `status ${response.status} for ${sent.slice(0, 300)}`;
  assert.ok(allowedStatuses.has(response.status), context);
  if (response.status !== 200) {
    const error = errorBodySchema.parse(response.body).error;
    assert.equal(statusOf[error.code], response.status, context);
    assert.ok(error.message.length > 0);
    return {};
  }
  if (isRecord(response.body) && 'decisions' in response.body) {
    const { decisions } = batchResponseSchema.parse(response.body);
    const parsed = JSON.parse(sent) as { events: unknown[] };
    assert.equal(decisions.length, parsed.events.length, context);
    return { decisions };
  }
  decisionSchema.parse(response.body);
  return {};
}

for (const backend of backends()) {
  describe(`POST /v1/events under fuzzing on ${backend}`, () => {
    let t: TestService;
    let validCount = 0;
    const nextValidId = (): string => `valid-${String((validCount += 1))}`;

    before(async () => {
      t = await startTestService(backend);
    });
    after(async () => {
      await t.close();
    });

    test('arbitrary JSON and junk as one body', async (context) => {
      context.diagnostic(`FC_SEED=${seed}`);
      await fc.assert(
        fc.asyncProperty(anyJsonText, contentTypes, async (text, contentType) => {
          const response = await t.request('POST', '/v1/events', text, { 'content-type': contentType });
          assertContractAnswer(response, text);
        }),
        { seed, numRuns: 300 },
      );
    });

    test('valid events with fields dropped, wrong types, huge strings, odd unicode, __proto__, deep nesting', async (context) => {
      context.diagnostic(`FC_SEED=${seed}`);
      await fc.assert(
        fc.asyncProperty(
          // One run in a few sends a string past the 4 MiB body limit.
          mutatedEventText(t.config.bodyLimitBytes + 1),
          async (text) => {
            const response = await t.request('POST', '/v1/events', text);
            assertContractAnswer(response, text);
          },
        ),
        { seed, numRuns: 300 },
      );
    });

    test('fuzzed batches: every item answered in place, valid events mixed in still decided', async (context) => {
      context.diagnostic(`FC_SEED=${seed}`);
      const item = fc.oneof(
        { weight: 2, arbitrary: anyJsonText.filter((text) => text.trim().length > 0 && isParsable(text)) },
        { weight: 3, arbitrary: mutatedEventText(100_000) },
        { weight: 2, arbitrary: fc.nat({ max: 10 }).map((template) => ({ valid: template })) },
      );
      await fc.assert(
        fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 20 }), async (items) => {
          const validIds = new Map<number, string>();
          const texts = items.map((entry, index) => {
            if (typeof entry === 'string') return entry;
            const id = nextValidId();
            validIds.set(index, id);
            const events = validEvents(id, `acct-${String(entry.valid % 3)}`);
            return JSON.stringify(events[entry.valid % events.length]);
          });
          const text = `{"events":[${texts.join(',')}]}`;
          const response = await t.request('POST', '/v1/events', text);
          const within = Buffer.byteLength(text) <= t.config.bodyLimitBytes;
          assert.equal(
            response.status,
            within ? 200 : 413,
            `${JSON.stringify(response.body).slice(0, 300)} for ${text.slice(0, 300)}`,
          );
          if (!within) return;
          const { decisions } = assertContractAnswer(response, text);
          for (const [index, id] of validIds) {
            const decision = decisionSchema.parse(decisions?.[index]);
            assert.equal(decision.eventId, id);
          }
        }),
        { seed, numRuns: 150 },
      );
    });

    const nulEvent = (id: string) => ({ ...(validEvents('x', 'acct-nul')[1] as object), id });
    test('a string the database cannot store (NUL, an unpaired surrogate) is refused with 400 INVALID_EVENT', async () => {
      for (const id of ['nul-\u0000', 'high-\ud800', 'low-\udc00']) {
        const response = await t.request('POST', '/v1/events', nulEvent(id));
        assert.equal(response.status, 400, JSON.stringify(response.body));
        assert.equal(errorBodySchema.parse(response.body).error.code, 'INVALID_EVENT');
      }
    });

    test('such an event does not take its valid neighbours in the batch down with it', async () => {
      const good = validEvents(nextValidId(), 'acct-neighbour')[1];
      const response = await t.request('POST', '/v1/events', { events: [nulEvent('nul-2-\u0000'), good] });
      assert.equal(response.status, 200);
      const { decisions } = batchResponseSchema.parse(response.body);
      decisionSchema.parse(decisions[1]);
    });

    test('the service still answers afterwards', async () => {
      const health = await t.request('GET', '/healthz');
      assert.equal(health.status, 200);
      const ready = await t.request('POST', '/v1/events', validEvents(nextValidId(), 'acct-after')[1]);
      assert.equal(ready.status, 200);
      assert.equal(decisionSchema.parse(ready.body).accountId, 'acct-after');
    });
  });
}

function isParsable(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
