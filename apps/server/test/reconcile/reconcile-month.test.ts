import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { seededRandom } from '../../src/core/random.ts';
import { dayMs, hourMs } from '../../src/core/time.ts';
import { backends } from '../helpers/backends.ts';
import { ReconcileHarness } from './setup.ts';

/**
 * A clean month of sandbox traffic on a simulated clock — gift cards, downloads and parcels
 * shipping and captured on schedule, and one account takeover contained mid-month — reconciles
 * with nothing unmatched, incremental pass after pass and in a full pass at the end; the ledger
 * Bulwark keeps equals the provider's own books.
 */
for (const backend of backends()) {
  describe(`reconciliation over a clean month (${backend})`, () => {
    let shared: ReconcileHarness | undefined;
    before(async () => {
      shared = await ReconcileHarness.open(backend, { interceptSuccessRate: 1 });
    });
    after(async () => {
      await shared?.close();
    });

    test('thirty days: 0 mismatches in every pass; ledger totals equal the provider books', async () => {
      const r = shared;
      assert.ok(r);
      const { h } = r;
      const random = seededRandom(Number(process.env.FC_SEED ?? 2026));
      const start = h.clock.now();
      const accounts = Array.from({ length: 12 }, (_, i) => `month-acct-${String(i)}`);
      const categories = ['gift_card', 'digital', 'physical'] as const;
      let orders = 0;
      let passes = 0;
      let readIncrementally = 0;
      for (let day = 0; day < 30; day += 1) {
        for (let n = 0; n < 4; n += 1) {
          const account = accounts[Math.floor(random() * accounts.length)] ?? 'month-acct-0';
          const category = categories[Math.floor(random() * categories.length)] ?? 'physical';
          const value = (1 + Math.floor(random() * 20)) * 500;
          h.clock.set(Math.max(h.clock.now(), start + day * dayMs + Math.floor(random() * 20 * hourMs)));
          orders += 1;
          await h.placeOrder(account, `month-o-${String(orders)}`, [
            { category, value, quantity: 1 + Math.floor(random() * 2) },
          ]);
        }
        if (day === 14) {
          // The month's one takeover: two gift cards, then the owner reports; containment runs.
          await h.placeOrder('month-victim', 'month-ato-1', [{ category: 'gift_card', value: 5000 }]);
          await h.placeOrder('month-victim', 'month-ato-2', [{ category: 'physical', value: 8000 }]);
          await h.passTime(h.clock.now() + 30 * 60_000);
          await h.openCase('month-victim');
        }
        await h.passTime(start + (day + 1) * dayMs);
        const pass = await r.reconciler.run();
        passes += 1;
        readIncrementally += pass.scanned.balanceTransactions;
        assert.equal(
          pass.mismatches,
          0,
          `day ${String(day)}: ${JSON.stringify(await r.store.listMismatches({ limit: 10 }))}`,
        );
      }
      // Incremental passes read each balance transaction once: exactly the provider's ledger so far.
      const { rows: counted } = await sql<{
        n: string | number;
      }>`select count(*) as n from sandbox_payment_ledger`.execute(h.database.db);
      assert.equal(readIncrementally, Number(counted[0]?.n ?? -1));
      await h.settleAll();
      const full = await r.reconciler.run('full');
      assert.equal(full.mismatches, 0);
      assert.ok(
        full.scanned.balanceTransactions > 50,
        `money moved: ${String(full.scanned.balanceTransactions)}`,
      );
      assert.ok(full.scanned.payments >= 2, 'the contained account was checked at the provider');
      assert.equal((await r.store.listMismatches({ limit: 10 })).length, 0);
      assert.equal(passes, 30);
      // The full pass read the feed in time slices, then left the cursor at the feed's end.
      const { rows: total } = await sql<{
        n: string | number;
      }>`select count(*) as n from sandbox_payment_ledger`.execute(h.database.db);
      assert.ok(full.scanned.balanceTransactions >= Number(total[0]?.n ?? Infinity));
      const { rows: written } = await sql<{
        n: string | number;
      }>`select count(*) as n from reconcile_ledger_entries where kind <> 'authorization'`.execute(
        h.database.db,
      );
      assert.equal(Number(written[0]?.n ?? -1), Number(total[0]?.n ?? -2), 'every movement written once');
      const after = await r.reconciler.run();
      assert.equal(
        after.scanned.balanceTransactions,
        0,
        'an incremental pass after a full one reads nothing again',
      );

      // The ledger equals the provider's books, payment by payment.
      const { rows } = await sql<{
        payment_id: string;
        captured: string | number;
        refunded: string | number;
      }>`
        select payment_id,
          coalesce(sum(case when entry->>'reportingCategory' = 'charge' then (entry->>'amountMinor')::bigint end), 0) as captured,
          coalesce(sum(case when entry->>'reportingCategory' = 'refund' then -(entry->>'amountMinor')::bigint end), 0) as refunded
        from sandbox_payment_ledger group by payment_id`.execute(h.database.db);
      assert.ok(rows.length > 20);
      for (const row of rows) {
        const ours = await r.store.ledger(row.payment_id);
        assert.ok(ours, row.payment_id);
        assert.equal(ours.ledger.capturedMinor, Number(row.captured), `${row.payment_id} captured`);
        assert.equal(ours.ledger.refundedMinor, Number(row.refunded), `${row.payment_id} refunded`);
        assert.ok(
          ours.ledger.refundedMinor <= ours.ledger.capturedMinor &&
            ours.ledger.capturedMinor <= ours.ledger.authorizedMinor,
        );
      }
    });

    test('a time-sliced balance-transaction feed holds exactly the slice, in creation order, page by page', async () => {
      const r = shared;
      assert.ok(r);
      const { h } = r;
      const { rows: all } = await sql<{
        transaction_id: string;
        created_at: Date;
      }>`select transaction_id, created_at from sandbox_payment_ledger order by created_at, seq`.execute(
        h.database.db,
      );
      assert.ok(all.length > 50, 'the month left movements to slice');
      const times = all.map((t) => new Date(t.created_at).getTime());
      const lo = times[0] ?? 0;
      const hi = times.at(-1) ?? 0;
      const bounds: [number | undefined, number | undefined][] = [
        [undefined, lo + Math.floor((hi - lo) / 3)],
        [lo + Math.floor((hi - lo) / 3), lo + Math.floor((2 * (hi - lo)) / 3)],
        [lo + Math.floor((2 * (hi - lo)) / 3), undefined],
        [times[10], times[10]],
      ];
      const seen: string[] = [];
      for (const [from, before] of bounds) {
        const expected = all
          .filter(
            (_, i) =>
              (from === undefined || (times[i] ?? 0) >= from) &&
              (before === undefined || (times[i] ?? 0) < before),
          )
          .map((t) => t.transaction_id);
        const got: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 1000; page += 1) {
          const read = await h.world.payments.listBalanceTransactions({
            cursor,
            limit: 7,
            createdFromMs: from,
            createdBeforeMs: before,
          });
          assert.ok(read.ok);
          assert.ok(read.value.items.length <= 7);
          got.push(...read.value.items.map((t) => t.transactionId));
          cursor = read.value.nextCursor;
          if (!read.value.hasMore) break;
        }
        assert.deepEqual(got, expected, `slice [${String(from)}, ${String(before)})`);
        if (from !== before) seen.push(...got);
      }
      // The three adjoining slices together are the whole feed, each movement once.
      assert.deepEqual(
        seen,
        all.map((t) => t.transaction_id),
      );
    });
  });
}
