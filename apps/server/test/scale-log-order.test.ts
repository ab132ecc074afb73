import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EventRecord } from '../src/storage/ports.ts';
import { backends, freshDatabase } from './helpers/backends.ts';
import { accountCreatedRecord } from './helpers/log-records.ts';

/**
 * Readers follow the event log by sequence number (the alert outbox, the sandbox store, backfills):
 * each reads the events after the last seq it saw. In cluster mode several transactions append
 * at once (one per partition batch, on one or more workers). If a later sequence number could
 * commit before an earlier one, a reader would pass over the earlier one for good. Appends must
 * therefore become visible in sequence order.
 */
const baseMs = Date.parse('2026-11-26T09:00:00Z');

const record = (eventId: string, accountId: string): EventRecord =>
  accountCreatedRecord(eventId, accountId, baseMs);

if (backends().includes('postgres')) {
  describe('the event log read by sequence while many batches are appended at once (PostgreSQL)', () => {
    test('a reader following the log by seq sees every appended event', async () => {
      const under = await freshDatabase('postgres');
      try {
        const writers = 12;
        const batches = 25;
        const perBatch = 8;
        const progress = { writing: true };
        const seen = new Set<string>();
        const reader = (async () => {
          let cursor = 0;
          for (;;) {
            const done = !progress.writing;
            const page = await under.storage.events.readAfter(cursor, 500);
            for (const stored of page) seen.add(stored.eventId);
            cursor = page.at(-1)?.seq ?? cursor;
            if (done && page.length === 0) return;
          }
        })();
        await Promise.all(
          Array.from({ length: writers }, async (_unused, w) => {
            for (let b = 0; b < batches; b += 1) {
              const records = Array.from({ length: perBatch }, (_u, i) =>
                record(`lo-${String(w)}-${String(b)}-${String(i)}`, `lo-acct-${String(w)}`),
              );
              await under.storage.events.appendDecided(records, [], []);
            }
          }),
        );
        progress.writing = false;
        await reader;
        assert.equal(seen.size, writers * batches * perBatch, 'no event was passed over');
      } finally {
        await under.close();
      }
    });
  });
}
