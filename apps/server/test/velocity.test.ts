import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { WindowSeries, type SeriesLimits } from '../src/risk/domain/velocity.ts';
import { propertyParams } from './helpers/fast-check.ts';

/**
 * WindowSeries against a naive model: plain arrays, filtered and sorted from scratch on every
 * step. The model keeps two views of what was recorded and not removed:
 * - `kept`: what the series should hold — entries expire when they are `retentionMs` or more
 *   older than the newest entry at the time of a record, and the oldest go beyond `entriesMax`;
 * - `retained`: the same with no `entriesMax`, i.e. what unbounded memory would answer. An answer
 *   marked `exact` must equal it.
 */
interface Entry {
  atMs: number;
  value: number;
  label: string | undefined;
  /** Arrival order: among equal times the series keeps entries in the order they came. */
  order: number;
}

class NaiveSeries {
  readonly #limits: SeriesLimits;
  kept: Entry[] = [];
  retained: Entry[] = [];
  /** Times of entries dropped for lack of room. */
  droppedForRoomMs: number[] = [];
  #order = 0;

  constructor(limits: SeriesLimits) {
    this.#limits = limits;
  }

  record(atMs: number, value: number, label: string | undefined): void {
    const entry: Entry = { atMs, value, label, order: this.#order };
    this.#order += 1;
    const kept = this.#expire([...this.kept, entry]);
    const excess = kept.length - this.#limits.entriesMax;
    if (excess > 0) this.droppedForRoomMs.push(...kept.slice(0, excess).map((e) => e.atMs));
    this.kept = excess > 0 ? kept.slice(excess) : kept;
    this.retained = this.#expire([...this.retained, entry]);
  }

  remove(atMs: number, value: number, label: string | undefined): boolean {
    const same = (e: Entry) => e.atMs === atMs && e.value === value && e.label === label;
    const fromRetained = this.retained.filter(same).at(-1);
    if (fromRetained !== undefined) this.retained = this.retained.filter((e) => e !== fromRetained);
    const fromKept = this.kept.filter(same).at(-1);
    if (fromKept === undefined) return false;
    this.kept = this.kept.filter((e) => e !== fromKept);
    return true;
  }

  #expire(entries: Entry[]): Entry[] {
    const sorted = [...entries].sort((a, b) => a.atMs - b.atMs || a.order - b.order);
    const newestMs = Math.max(...sorted.map((e) => e.atMs));
    return sorted.filter((e) => e.atMs > newestMs - this.#limits.retentionMs);
  }
}

const inWindow = (nowMs: number, windowMs: number) => (e: Entry) =>
  e.atMs > nowMs - windowMs && e.atMs <= nowMs;

function statsOf(entries: readonly Entry[], nowMs: number, windowMs: number) {
  const inside = entries.filter(inWindow(nowMs, windowMs));
  return { count: inside.length, sum: inside.reduce((total, e) => total + e.value, 0) };
}

function distinctOf(entries: readonly Entry[], nowMs: number, windowMs: number): number {
  const labels = entries
    .filter(inWindow(nowMs, windowMs))
    .flatMap((e) => (e.label === undefined ? [] : [e.label]));
  return new Set(labels).size;
}

type Op =
  | {
      kind: 'record';
      /** Anywhere in time (out of order), a little after the newest (the usual case), or on the retention edge. */
      at: 'anywhere' | 'afterNewest' | 'retentionEdge';
      atMs: number;
      value: number;
      label: string | undefined;
    }
  | { kind: 'removeRecorded'; pick: number }
  | { kind: 'remove'; atMs: number; value: number; label: string | undefined }
  | {
      kind: 'query';
      /** Anywhere, near the newest entry, or with the window's start or end on an entry's time. */
      at: 'anywhere' | 'nearNewest' | 'startsOnEntry' | 'endsOnEntry';
      nowMs: number;
      pick: number;
      windowMs: number;
    };

// Times on a coarse grid as well as anywhere, so that entries often sit exactly on a window's or
// the retention's boundary.
const onGrid = (min: number, max: number) => fc.integer({ min: min / 10, max: max / 10 }).map((n) => n * 10);
const between = (min: number, max: number) => fc.oneof(onGrid(min, max), fc.integer({ min, max }));
const timeMs = between(0, 2000);
const value = fc.integer({ min: 0, max: 50 });
const label = fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: undefined });

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    // Either anywhere in time (out of order) or a little after the newest (the usual case).
    arbitrary: fc.record({
      kind: fc.constant('record' as const),
      atMs: fc.oneof(timeMs, between(0, 120)),
      at: fc.constantFrom('anywhere', 'afterNewest', 'retentionEdge'),
      value,
      label,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('removeRecorded' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), atMs: timeMs, value, label }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('query' as const),
      nowMs: between(-300, 2300),
      at: fc.constantFrom('anywhere', 'nearNewest', 'startsOnEntry', 'endsOnEntry'),
      pick: fc.nat(),
      windowMs: between(10, 2500),
    }),
  },
);

const limitsArbitrary: fc.Arbitrary<SeriesLimits> = fc.record({
  retentionMs: between(10, 900),
  entriesMax: fc.integer({ min: 1, max: 16 }),
});

/** Runs the ops on the series and the model, checking every answer against the model. */
function runAgainstModel(limits: SeriesLimits, ops: readonly Op[]): WindowSeries {
  const series = new WindowSeries(limits);
  const model = new NaiveSeries(limits);
  const recorded: { atMs: number; value: number; label: string | undefined }[] = [];
  let lastRecordedMs = 0;
  for (const op of ops) {
    switch (op.kind) {
      case 'record': {
        const newestMs = series.newestMs() ?? 0;
        const atMs =
          op.at === 'anywhere'
            ? op.atMs
            : op.at === 'afterNewest'
              ? lastRecordedMs + (op.atMs % 120)
              : newestMs - limits.retentionMs + ((op.atMs % 3) - 1);
        lastRecordedMs = atMs;
        series.record(atMs, op.value, op.label);
        model.record(atMs, op.value, op.label);
        recorded.push({ atMs, value: op.value, label: op.label });
        break;
      }
      case 'removeRecorded': {
        const target = recorded[op.pick % Math.max(1, recorded.length)];
        if (target === undefined) break;
        assert.equal(
          series.remove(target.atMs, target.value, target.label),
          model.remove(target.atMs, target.value, target.label),
        );
        break;
      }
      case 'remove':
        assert.equal(series.remove(op.atMs, op.value, op.label), model.remove(op.atMs, op.value, op.label));
        break;
      case 'query': {
        // Any entry recorded so far, held or not: dropped ones mark the edges of exactness.
        const entryMs = recorded[op.pick % Math.max(1, recorded.length)]?.atMs ?? 0;
        const nowMs =
          op.at === 'anywhere'
            ? op.nowMs
            : op.at === 'nearNewest'
              ? (series.newestMs() ?? 0) + (op.nowMs % 300)
              : op.at === 'startsOnEntry'
                ? entryMs + op.windowMs
                : entryMs;
        const stats = series.stats(nowMs, op.windowMs);
        const distinct = series.distinct(nowMs, op.windowMs);
        const where = `window (${String(nowMs - op.windowMs)}, ${String(nowMs)}]`;
        // The series holds exactly what the model keeps, exact or not.
        assert.deepEqual(
          { count: stats.count, sum: stats.sum },
          statsOf(model.kept, nowMs, op.windowMs),
          `kept, ${where}`,
        );
        assert.equal(distinct.count, distinctOf(model.kept, nowMs, op.windowMs), `distinct kept, ${where}`);
        assert.equal(distinct.exact, stats.exact);
        // Asked again (the series remembers its last counts until it changes): the same answer.
        assert.deepEqual(series.distinct(nowMs, op.windowMs), distinct, `distinct asked again, ${where}`);
        // An entry dropped for room inside the window makes the answer inexact, and it says so. The
        // series remembers only the newest dropped time, so one dropped after the window's end
        // counts too (conservative); nothing else does.
        assert.equal(
          stats.exact,
          !model.droppedForRoomMs.some((t) => t > nowMs - op.windowMs),
          `exact, ${where}, dropped for room at ${model.droppedForRoomMs.join(',')}`,
        );
        if (stats.exact) {
          assert.deepEqual(
            { count: stats.count, sum: stats.sum },
            statsOf(model.retained, nowMs, op.windowMs),
            `exact answer differs from unbounded memory, ${where}`,
          );
          assert.equal(
            distinct.count,
            distinctOf(model.retained, nowMs, op.windowMs),
            `exact distinct, ${where}`,
          );
        }
        break;
      }
    }
    assert.ok(
      series.size <= limits.entriesMax,
      `size ${String(series.size)} over ${String(limits.entriesMax)}`,
    );
    assert.equal(series.size, model.kept.length);
    assert.equal(series.newestMs(), model.kept.at(-1)?.atMs);
  }
  return series;
}

describe('WindowSeries', () => {
  test('a window is (now - windowMs, now]: its start is out, its end is in', () => {
    const series = new WindowSeries({ retentionMs: 10_000, entriesMax: 10 });
    series.record(100, 5, 'a');
    series.record(200, 7);
    assert.deepEqual(series.stats(200, 100), { count: 1, sum: 7, exact: true });
    assert.deepEqual(series.stats(199, 100), { count: 1, sum: 5, exact: true });
    assert.deepEqual(series.stats(200, 101), { count: 2, sum: 12, exact: true });
    assert.deepEqual(series.distinct(200, 101), { count: 1, exact: true });
    assert.deepEqual(series.stats(99, 1000), { count: 0, sum: 0, exact: true });
  });

  test('answers what a naive list answers, exactly whenever it claims to be exact', () => {
    fc.assert(
      fc.property(limitsArbitrary, fc.array(opArbitrary, { maxLength: 60 }), (limits, ops) => {
        runAgainstModel(limits, ops);
      }),
      propertyParams(400),
    );
  });

  test('a series restored from its snapshot answers like the original, then and after', () => {
    fc.assert(
      fc.property(
        limitsArbitrary,
        fc.array(opArbitrary, { maxLength: 40 }),
        fc.array(opArbitrary, { maxLength: 30 }),
        (limits, before, afterwards) => {
          const original = runAgainstModel(limits, before);
          // Through JSON, as the state store keeps it.
          const snapshot: unknown = JSON.parse(JSON.stringify(original.snapshot()));
          const restored = new WindowSeries(limits, snapshot as ReturnType<WindowSeries['snapshot']>);
          assert.deepEqual(restored.snapshot(), original.snapshot());
          for (const op of afterwards) {
            switch (op.kind) {
              case 'record':
                original.record(op.atMs, op.value, op.label);
                restored.record(op.atMs, op.value, op.label);
                break;
              case 'removeRecorded': {
                // One of the entries the series holds, so that removals hit.
                const held = original.snapshot();
                const index = op.pick % Math.max(1, held.t.length);
                const atMs = held.t[index];
                if (atMs === undefined) break;
                const heldValue = held.v[index] ?? 0;
                const heldLabel = held.k?.[index] ?? undefined;
                assert.equal(restored.remove(atMs, heldValue, heldLabel), true);
                assert.equal(original.remove(atMs, heldValue, heldLabel), true);
                break;
              }
              case 'remove':
                assert.equal(
                  restored.remove(op.atMs, op.value, op.label),
                  original.remove(op.atMs, op.value, op.label),
                );
                break;
              case 'query':
                assert.deepEqual(
                  restored.stats(op.nowMs, op.windowMs),
                  original.stats(op.nowMs, op.windowMs),
                );
                assert.deepEqual(
                  restored.distinct(op.nowMs, op.windowMs),
                  original.distinct(op.nowMs, op.windowMs),
                );
                break;
            }
            assert.equal(restored.size, original.size);
          }
          assert.deepEqual(restored.snapshot(), original.snapshot());
        },
      ),
      propertyParams(200),
    );
  });

  test('addToBucket is taking the bucket entry back and recording the new sum; sum is stats().sum', () => {
    // What counting buckets did before `addToBucket`: read the bucket, remove it, record the sum.
    const readRemoveRecord = (series: WindowSeries, atMs: number, by: number): void => {
      const current = series.stats(atMs, 1);
      if (current.count > 0) series.remove(atMs, current.sum);
      series.record(atMs, current.sum + by);
    };
    fc.assert(
      fc.property(
        limitsArbitrary,
        fc.array(opArbitrary, { maxLength: 30 }),
        fc.array(fc.record({ atMs: fc.oneof(timeMs, fc.constantFrom(0, 100, 200)), by: value }), {
          maxLength: 30,
        }),
        (limits, before, adds) => {
          // Any history (labelled, out of order, several entries at one time), then bucket adds.
          const history = runAgainstModel(limits, before).snapshot();
          const fast = new WindowSeries(limits, history);
          const slow = new WindowSeries(limits, history);
          for (const { atMs, by } of adds) {
            fast.addToBucket(atMs, by);
            readRemoveRecord(slow, atMs, by);
            assert.deepEqual(fast.snapshot(), slow.snapshot());
            assert.equal(fast.sum(atMs, 500), fast.stats(atMs, 500).sum);
          }
        },
      ),
      propertyParams(300),
    );
  });

  test('never holds more than entriesMax entries, however many arrive', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 300 }),
        (entriesMax, times) => {
          const series = new WindowSeries({ retentionMs: 10_000_000, entriesMax });
          for (const atMs of times) {
            series.record(atMs);
            assert.ok(series.size <= entriesMax);
            assert.ok(series.snapshot().t.length <= entriesMax);
          }
          assert.equal(series.size, Math.min(entriesMax, times.length));
        },
      ),
      propertyParams(200),
    );
  });

  test('the constructor rejects limits that are not positive', () => {
    const bad: SeriesLimits[] = [
      { retentionMs: 0, entriesMax: 10 },
      { retentionMs: -1, entriesMax: 10 },
      { retentionMs: Number.NaN, entriesMax: 10 },
      { retentionMs: 1000, entriesMax: 0 },
      { retentionMs: 1000, entriesMax: -3 },
      { retentionMs: 1000, entriesMax: 1.5 },
      { retentionMs: 1000, entriesMax: Number.NaN },
      { retentionMs: 1000, entriesMax: Number.POSITIVE_INFINITY },
    ];
    for (const limits of bad)
      assert.throws(() => new WindowSeries(limits), RangeError, JSON.stringify(limits));
    fc.assert(
      fc.property(
        fc.oneof(fc.double({ max: 0, noNaN: true }), fc.constant(Number.NaN)),
        fc.integer({ min: 1, max: 100 }),
        (retentionMs, entriesMax) => {
          assert.throws(() => new WindowSeries({ retentionMs, entriesMax }), RangeError);
        },
      ),
      propertyParams(100),
    );
    fc.assert(
      fc.property(
        fc.double({ min: Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }),
        fc.integer({ min: 1, max: 100_000 }),
        (retentionMs, entriesMax) => {
          assert.equal(new WindowSeries({ retentionMs, entriesMax }).size, 0);
        },
      ),
      propertyParams(100),
    );
  });
});
