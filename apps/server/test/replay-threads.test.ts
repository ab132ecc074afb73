import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { loadRiskPolicy } from '../src/main.ts';
import { LineCutter } from '../src/sim/replay-lines.ts';
import { replay, type ReplaySummary } from '../src/sim/replay.ts';
import { propertyParams } from './helpers/fast-check.ts';
import { generateTraffic } from './helpers/traffic.ts';

const policy = loadRiskPolicy();

interface Run {
  summary: ReplaySummary;
  output: string;
  reports: string[];
}

/** Replays `chunks` (bytes or text, as a file or a pipe hands them over) on 1 or 2 threads. */
async function run(chunks: (Buffer | string)[], threads: 1 | 2): Promise<Run> {
  let output = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output += chunk.toString('utf8');
      done();
    },
  });
  const reports: string[] = [];
  const summary = await replay(Readable.from(chunks), sink, (line) => reports.push(line), policy, {
    threads,
  });
  return { summary, output, reports };
}

/** Cuts `bytes` at the given offsets (sorted, deduplicated, inside the buffer). */
function cutAt(bytes: Buffer, offsets: number[]): Buffer[] {
  const cuts = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let start = 0;
  for (const cut of cuts) {
    parts.push(bytes.subarray(start, cut));
    start = cut;
  }
  parts.push(bytes.subarray(start));
  return parts;
}

const traffic = generateTraffic({
  seed: 20261126,
  startMs: Date.parse('2026-11-24T08:00:00Z'),
  stepMs: 1_500,
  count: 400,
  accountCount: 9,
  prefix: '',
  forgetting: true,
});

/** Lines that are not events, each answered by an error line. */
const badLines = [
  '',
  '{"id":"half',
  'null',
  '[1,2]',
  '{"id":"no-type","at":"2026-11-24T08:00:00Z"}',
  '{"id":"bad-type","type":"login.teleported","at":"2026-11-24T08:00:00Z","accountId":"a"}',
  '{"id":"bad-at","type":"login.succeeded","at":"yesterday","accountId":"a","context":{"ip":"203.0.113.9","userAgent":"x"},"method":"password"}',
  '{"id":"bad-ip","type":"login.failed","at":"2026-11-24T08:00:00Z","context":{"ip":"10.0.0.300","userAgent":"x"},"reason":"bad_password"}',
  '{"id":"nul","type":"login.failed","at":"2026-11-24T08:00:00Z","context":{"ip":"203.0.113.9","userAgent":"a\\u0000b"},"reason":"bad_password"}',
  '{"id":"lone-surrogate","type":"login.failed","at":"2026-11-24T08:00:00Z","context":{"ip":"203.0.113.9","userAgent":"\\ud800"},"reason":"bad_password"}',
];

/** Events with text beyond ASCII, so that chunk cuts fall inside multi-byte characters. */
const wideLines = [
  JSON.stringify({
    id: 'wide-1',
    type: 'login.failed',
    at: '2026-11-24T08:00:01Z',
    context: { ip: '2001:db8::7', userAgent: 'ブラウザ/1.0 (日本語; 🛒)' },
    reason: 'unknown_account',
    username: 'やまだ@example.jp',
  }),
  // Unknown fields are dropped by validation: the event decided is the one validated.
  JSON.stringify({ ...traffic[3], extra: { ignored: '無視' } }),
];

const lineArbitrary = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...traffic.map((event) => JSON.stringify(event))) },
  { weight: 2, arbitrary: fc.constantFrom(...badLines) },
  { weight: 1, arbitrary: fc.constantFrom(...wideLines) },
  // The same id with other content: EVENT_ID_CONFLICT once the first has been decided.
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      ...traffic.slice(0, 20).map((e) => JSON.stringify({ ...e, at: '2026-11-24T07:59:00Z' })),
    ),
  },
);

describe('replay on two threads (the reading thread of --threads 2)', () => {
  test('gives the same output, reports and summary as one thread, however the input is cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(lineArbitrary, fc.boolean()), { minLength: 0, maxLength: 120 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.boolean(),
        async (lines, finalNewline, offsets, asText) => {
          const text = lines.map(([line, crlf]) => `${line}${crlf ? '\r\n' : '\n'}`).join('');
          const input = finalNewline ? text : text.replace(/\r?\n$/, '');
          const bytes = Buffer.from(input, 'utf8');
          const chunks = asText
            ? cutAt(bytes, offsets).map((b) => b.toString('utf8'))
            : cutAt(bytes, offsets);
          const one = await run(chunks, 1);
          const two = await run(chunks, 2);
          assert.equal(two.output, one.output);
          assert.deepEqual(two.reports, one.reports);
          assert.deepEqual(two.summary, one.summary);
          // One answer per input line (an empty input has none; an empty last line is not a line).
          const expectedLines =
            input.length === 0 ? 0 : input.split('\n').length - (input.endsWith('\n') ? 1 : 0);
          assert.equal(one.summary.lines, expectedLines);
          assert.equal(one.output.split('\n').length - 1, expectedLines);
        },
      ),
      propertyParams(12),
    );
  });

  test('many small chunks: the reader is held back and nothing is lost or reordered', async () => {
    const text = traffic.map((event) => `${JSON.stringify(event)}\n`).join('');
    const bytes = Buffer.from(text, 'utf8');
    // Far more chunks than may be in flight between the threads.
    const chunks = cutAt(
      bytes,
      Array.from({ length: 300 }, (_, i) => Math.floor((i * bytes.length) / 300)),
    );
    const one = await run(chunks, 1);
    const two = await run(chunks, 2);
    assert.equal(one.summary.decided, traffic.length);
    assert.equal(two.output, one.output);
    const ids = two.output
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { eventId: string }).eventId);
    assert.deepEqual(
      ids,
      traffic.map((event) => event.id),
    );
  });

  test('an input that fails while being read fails the replay, and the reading thread is stopped', async () => {
    const failing = new Readable({
      read() {
        this.push(`${JSON.stringify(traffic[0])}\n`);
        this.destroy(new Error('disk went away'));
      },
    });
    const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
    await assert.rejects(
      replay(failing, sink, () => undefined, policy, { threads: 2 }),
      /disk went away/,
    );
  });

  test('a chunk that is neither text nor bytes fails the replay on either thread, not the process', async () => {
    for (const threads of [1, 2] as const) {
      const input = Readable.from([`${JSON.stringify(traffic[0])}\n`, 42], { objectMode: true });
      const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
      // On two threads the reading thread throws; its error reaches the replay and the thread ends.
      await assert.rejects(
        replay(input, sink, () => undefined, policy, { threads }),
        TypeError,
        `threads ${threads}`,
      );
    }
  });
});

describe('LineCutter', () => {
  const cut = (chunks: (string | Buffer)[]): string[] => {
    const lines: string[] = [];
    const cutter = new LineCutter((line) => lines.push(line));
    for (const chunk of chunks) cutter.write(chunk);
    cutter.end();
    return lines;
  };

  test('table: line ends, a last line without newline, CRLF split between chunks, split characters', () => {
    const cases: [string, (string | Buffer)[], string[]][] = [
      ['nothing', [], []],
      ['one line without newline', ['a'], ['a']],
      ['LF', ['a\nb\n'], ['a', 'b']],
      ['CRLF', ['a\r\nb\r\n'], ['a', 'b']],
      ['CR at the end of one chunk, LF at the start of the next', ['a\r', '\nb'], ['a', 'b']],
      ['a CR inside a line stays', ['a\rb\n'], ['a\rb']],
      ['empty lines are lines', ['\n\n'], ['', '']],
      ['a last line ending in CR', ['a\r'], ['a']],
      ['a character split between chunks', [Buffer.from([0xe6, 0x97]), Buffer.from([0xa5, 0x0a])], ['日']],
      ['a line across three chunks', ['ab', 'cd', 'e\nf'], ['abcde', 'f']],
    ];
    for (const [name, chunks, expected] of cases) assert.deepEqual(cut(chunks), expected, name);
  });
});
