import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { batchResponseSchema, decisionSchema, eventErrorSchema, type Decision } from '@bulwark/contracts';
import { derivedIds } from '../src/core/ids.ts';
import { backends } from './helpers/backends.ts';
import { killAllChildren, runBulwark, type RunResult } from './helpers/processes.ts';
import { startTestService } from './helpers/service.ts';
import { generateTraffic, toJsonLines, type TrafficEvent } from './helpers/traffic.ts';

const scratch = mkdtempSync(join(tmpdir(), 'bulwark-replay-test-'));

after(async () => {
  await killAllChildren();
  rmSync(scratch, { recursive: true, force: true });
});

interface Replayed {
  result: RunResult;
  output: Buffer;
  /** Output lines without their newline. */
  lines: string[];
}

/** Writes `text` to a file and replays it through the real CLI. */
async function replayText(name: string, text: string, options: string[] = []): Promise<Replayed> {
  const input = join(scratch, `${name}.jsonl`);
  const out = join(scratch, `${name}.out.jsonl`);
  writeFileSync(input, text);
  const result = await runBulwark(['replay', input, '--out', out, ...options], { timeoutMs: 60_000 });
  assert.equal(result.status, 0, `replay exits 0 when it read the file to the end\n${result.stderr}`);
  const output = readFileSync(out);
  const body = output.toString('utf8');
  assert.ok(body.endsWith('\n'), 'every output line ends with a newline');
  return { result, output, lines: body.slice(0, -1).split('\n') };
}

function parseDecision(line: string | undefined): Decision {
  assert.ok(line !== undefined, 'an output line is missing');
  return decisionSchema.parse(JSON.parse(line));
}

const reasonCodes = (decision: Decision): string[] => decision.reasons.map((r) => r.code);

type Expected =
  | { kind: 'decision'; eventId: string; accountId: string | undefined }
  | { kind: 'error'; code: string; eventId: string | undefined; field?: string }
  | { kind: 'repeat'; ofLine: number };

describe('bulwark replay (the real CLI)', () => {
  // 1,500 events of mixed traffic with bad lines of every kind placed among them. The output is
  // several times the CLI's 64 KiB write chunk, so chunking cannot hide a reordering.
  const traffic = generateTraffic({
    seed: 20261125,
    startMs: Date.parse('2026-11-24T08:00:00Z'),
    stepMs: 2_000,
    count: 1_500,
    accountCount: 12,
    prefix: '',
    forgetting: true,
  });
  const eventAt = (index: number): TrafficEvent => {
    const event = traffic[index];
    assert.ok(event !== undefined);
    return event;
  };
  const inserts = new Map<number, { text: string; expected: Expected }>([
    [3, { text: '{"id":"half', expected: { kind: 'error', code: 'INVALID_JSON', eventId: undefined } }],
    [100, { text: '', expected: { kind: 'error', code: 'INVALID_JSON', eventId: undefined } }],
    [
      200,
      {
        text: '{"id":"bad-missing-at","type":"login.succeeded"}',
        expected: { kind: 'error', code: 'INVALID_EVENT', eventId: 'bad-missing-at', field: 'at' },
      },
    ],
    [
      400,
      {
        text: JSON.stringify({
          id: 'bad-type',
          type: 'login.maybe',
          at: '2026-11-24T09:00:00Z',
          accountId: 'a',
        }),
        expected: { kind: 'error', code: 'UNKNOWN_EVENT_TYPE', eventId: 'bad-type', field: 'type' },
      },
    ],
    [600, { text: '[1,2,3]', expected: { kind: 'error', code: 'INVALID_EVENT', eventId: undefined } }],
    [700, { text: 'null', expected: { kind: 'error', code: 'INVALID_EVENT', eventId: undefined } }],
    [
      800,
      {
        // An id seen before with other content.
        text: JSON.stringify({ ...eventAt(10), at: '2026-11-24T08:00:21Z' }),
        expected: { kind: 'error', code: 'EVENT_ID_CONFLICT', eventId: eventAt(10).id },
      },
    ],
    [
      1_000,
      {
        text: JSON.stringify({ ...eventAt(30), context: { ip: '10.0.0.300', userAgent: 'x' }, id: 'bad-ip' }),
        expected: { kind: 'error', code: 'INVALID_EVENT', eventId: 'bad-ip' },
      },
    ],
  ]);
  const lines: { text: string; expected: Expected }[] = [];
  const lineOfEvent = new Map<string, number>();
  traffic.forEach((event, index) => {
    const insert = inserts.get(index);
    if (insert !== undefined) lines.push(insert);
    lineOfEvent.set(event.id, lines.length + 1);
    lines.push({
      text: JSON.stringify(event),
      expected: { kind: 'decision', eventId: event.id, accountId: event.accountId },
    });
  });
  // The same id with the same content, again: answered with the decision given the first time.
  const repeated = eventAt(20);
  lines.splice(900, 0, {
    text: JSON.stringify(repeated),
    expected: { kind: 'repeat', ofLine: lineOfEvent.get(repeated.id) ?? 0 },
  });
  // A Windows line ending in the middle and no newline after the last line.
  const text = lines
    .map((line, index) => (index === 1_200 ? `${line.text}\r\n` : `${line.text}\n`))
    .join('')
    .slice(0, -1);
  const badLineNumbers = lines.flatMap((line, index) => (line.expected.kind === 'error' ? [index + 1] : []));

  let first: Replayed;
  before(async () => {
    first = await replayText('mixed', text);
  });

  test('writes exactly one line per input line, in order, each answering its line', () => {
    assert.equal(first.lines.length, lines.length);
    lines.forEach((line, index) => {
      const out = first.lines[index];
      const expected = line.expected;
      switch (expected.kind) {
        case 'decision': {
          const decision = parseDecision(out);
          assert.equal(decision.eventId, expected.eventId, `line ${index + 1}`);
          assert.equal(decision.accountId, expected.accountId, `line ${index + 1}`);
          break;
        }
        case 'repeat':
          assert.equal(out, first.lines[expected.ofLine - 1], 'a repeated event answers the stored decision');
          break;
        case 'error': {
          assert.ok(out !== undefined);
          const raw = JSON.parse(out) as Record<string, unknown>;
          const answer = eventErrorSchema.parse(raw);
          assert.deepEqual(
            Object.keys(raw).sort(),
            expected.eventId === undefined ? ['error'] : ['error', 'eventId'],
          );
          assert.equal(answer.eventId, expected.eventId, `line ${index + 1}`);
          assert.equal(answer.error.code, expected.code, `line ${index + 1}`);
          assert.ok(answer.error.message.length > 0);
          if (expected.field !== undefined) assert.equal(answer.error.field, expected.field);
          break;
        }
      }
    });
  });

  test('reports each bad line on stderr with its line number, and nothing else as a bad line', () => {
    const reported = [...first.result.stderr.matchAll(/^line (\d+): ([A-Z_]+) /gm)].map((m) => [
      Number(m[1]),
      m[2],
    ]);
    assert.deepEqual(
      reported,
      badLineNumbers.map((n) => {
        const expected = lines[n - 1]?.expected;
        return [n, expected?.kind === 'error' ? expected.code : '?'];
      }),
    );
  });

  test('running it again gives byte-identical output', async () => {
    const second = await replayText('mixed-again', text);
    assert.ok(first.output.length > 2 * 65_536, 'the output spans several write chunks');
    assert.ok(
      first.lines.some((line) => line.includes('"challenge":{"id":"ch_')),
      'challenge ids are part of what must repeat',
    );
    assert.ok(
      first.lines.some((line) => line.includes('"caseId":"case_')),
      'case ids too',
    );
    assert.ok(second.output.equals(first.output), 'the two outputs differ');
  });

  test('--threads 2 (lines read and checked on a second thread) gives the same bytes and reports', async () => {
    const two = await replayText('mixed-two-threads', text, ['--threads', '2']);
    assert.ok(two.output.equals(first.output), 'the outputs of one and two threads differ');
    const reports = (stderr: string): string[] =>
      stderr.split('\n').filter((line) => line.startsWith('line '));
    assert.deepEqual(reports(two.result.stderr), reports(first.result.stderr));
    assert.ok(reports(first.result.stderr).length >= badLineNumbers.length);
  });

  test('a missing input file is a clear error and a non-zero exit', async () => {
    const missing = join(scratch, 'no-such-file.jsonl');
    const result = await runBulwark(['replay', missing, '--out', join(scratch, 'unused.jsonl')]);
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /no such file/i);
    assert.ok(result.stderr.includes(missing), 'the message names the file');
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });

  test('usage errors exit 2 and show the usage', async () => {
    const input = join(scratch, 'mixed.jsonl');
    const cases = [
      ['replay'],
      ['replay', input],
      ['replay', input, input, '--out', join(scratch, 'x.jsonl')],
    ];
    const results = await Promise.all(cases.map((args) => runBulwark(args)));
    results.forEach((result, index) => {
      assert.equal(result.status, 2, `bulwark ${cases[index]?.join(' ') ?? ''}`);
      assert.match(result.stderr, /usage: bulwark replay EVENTS\.jsonl --out DECISIONS\.jsonl/);
    });
  });

  test('an unknown option or an option without its value is a usage error too (exit 2)', async () => {
    const input = join(scratch, 'mixed.jsonl');
    const results = await Promise.all([
      runBulwark(['replay', input, '--out', join(scratch, 'x.jsonl'), '--bogus']),
      runBulwark(['replay', input, '--out']),
      runBulwark(['replay', input, '--out', join(scratch, 'x.jsonl'), '--threads', '3']),
      runBulwark([
        'replay',
        input,
        '--out',
        join(scratch, 'x.jsonl'),
        '--threads',
        '2',
        '--store',
        'sandbox',
        '--report',
        join(scratch, 'r.json'),
      ]),
    ]);
    for (const result of results) assert.equal(result.status, 2, result.stderr);
  });
});

describe('replay learns challenged sign-ins as passed unless a later challenge.completed says failed', () => {
  const home = (n: string) => ({ ip: '203.0.113.10', userAgent: `Home ${n}`, deviceId: `home-${n}` });
  const away = (n: string) => ({
    ip: `198.51.100.${n.length + 20}`,
    userAgent: 'Windows',
    deviceId: `away-${n}`,
  });
  let minute = 0;
  const login = (id: string, accountId: string, context: Record<string, string>) => ({
    id,
    type: 'login.succeeded',
    at: new Date(Date.parse('2026-11-20T10:00:00Z') + (minute += 1) * 60_000).toISOString(),
    accountId,
    context,
    method: 'password',
    secondFactor: 'totp',
  });
  const completed = (id: string, accountId: string, result: 'passed' | 'failed', challengeId?: string) => ({
    id,
    type: 'challenge.completed',
    at: new Date(Date.parse('2026-11-20T10:00:00Z') + (minute += 1) * 60_000).toISOString(),
    accountId,
    method: 'passkey',
    result,
    ...(challengeId === undefined ? {} : { challengeId }),
  });
  const events = [
    login('a-home', 'a', home('a')),
    login('a-away-1', 'a', away('a')),
    login('b-home', 'b', home('b')),
    login('b-away-1', 'b', away('b')),
    // No challenge id: the account's latest challenge, as a store without ids would report it.
    completed('b-failed', 'b', 'failed'),
    // Account a's challenge was never reported: taken as passed, and b's failure is not a's.
    login('a-away-2', 'a', away('a')),
    login('b-away-2', 'b', away('b')),
    login('c-home', 'c', home('c')),
    login('c-away-1', 'c', away('c')),
    completed('c-passed', 'c', 'passed', derivedIds().next('ch', 'c-away-1')),
    login('c-away-2', 'c', away('c')),
  ];
  let decisions: Map<string, Decision>;
  before(async () => {
    const { lines } = await replayText('challenges', toJsonLines(events));
    decisions = new Map(lines.map((line) => [parseDecision(line).eventId, parseDecision(line)]));
  });
  const decisionOf = (eventId: string): Decision => {
    const decision = decisions.get(eventId);
    assert.ok(decision !== undefined, `no decision for ${eventId}`);
    return decision;
  };

  test('a new device is challenged the first time', () => {
    for (const id of ['a-away-1', 'b-away-1', 'c-away-1']) {
      assert.equal(decisionOf(id).decision, 'challenge', id);
      assert.ok(reasonCodes(decisionOf(id)).includes('new_device'), id);
    }
    assert.equal(decisionOf('c-away-1').challenge?.id, derivedIds().next('ch', 'c-away-1'));
  });

  test('an unreported challenge is learned as passed: the device is no longer new', () => {
    const again = decisionOf('a-away-2');
    assert.equal(again.decision, 'allow');
    assert.ok(!reasonCodes(again).includes('new_device'), JSON.stringify(again));
    assert.ok(!reasonCodes(again).includes('new_network'), JSON.stringify(again));
  });

  test('a reported pass makes the device fully known', () => {
    const again = decisionOf('c-away-2');
    assert.equal(again.decision, 'allow');
    assert.deepEqual(again.reasons, []);
  });

  test('a failed challenge takes the device back: the same device is challenged again as new', () => {
    const again = decisionOf('b-away-2');
    assert.equal(again.decision, 'challenge');
    assert.ok(reasonCodes(again).includes('new_device'), JSON.stringify(again));
  });
});

for (const backend of backends()) {
  describe(`replay decides as the server does (${backend})`, () => {
    // Event times end before the test service's clock (2026-11-25T09:00Z), so none is refused
    // as being in the future.
    const traffic = generateTraffic({
      seed: 7,
      startMs: Date.parse('2026-11-25T07:00:00Z'),
      stepMs: 10_000,
      count: 600,
      accountCount: 8,
      prefix: '',
      forgetting: true,
    });
    let replayed: Decision[];
    let served: Decision[];
    before(async () => {
      const { lines } = await replayText(`versus-${backend}`, toJsonLines(traffic));
      replayed = lines.map(parseDecision);
      const service = await startTestService(backend);
      try {
        served = [];
        for (let start = 0; start < traffic.length; start += 50) {
          const response = await service.request('POST', '/v1/events', {
            events: traffic.slice(start, start + 50),
          });
          assert.equal(response.status, 200);
          for (const answer of batchResponseSchema.parse(response.body).decisions) {
            served.push(decisionSchema.parse(answer));
          }
        }
      } finally {
        await service.close();
      }
    });

    test('the traffic exercises every outcome, challenges and cases', () => {
      const outcomes = new Set(replayed.map((d) => d.decision));
      assert.deepEqual([...outcomes].sort(), ['allow', 'challenge', 'deny', 'review']);
      assert.ok(replayed.some((d) => d.caseId !== undefined));
    });

    test('decision, score and reasons are equal for every event', () => {
      assert.equal(served.length, replayed.length);
      replayed.forEach((fromReplay, index) => {
        const fromServer = served[index];
        assert.ok(fromServer !== undefined);
        assert.deepEqual(
          {
            eventId: fromServer.eventId,
            decision: fromServer.decision,
            score: fromServer.score,
            reasons: fromServer.reasons,
          },
          {
            eventId: fromReplay.eventId,
            decision: fromReplay.decision,
            score: fromReplay.score,
            reasons: fromReplay.reasons,
          },
          `event ${fromReplay.eventId}`,
        );
      });
    });

    test('with derived ids on both sides, challenge and case ids are equal too: whole decisions match', () => {
      assert.deepEqual(served, replayed);
    });
  });
}
