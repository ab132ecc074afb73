import type { CaseView } from '@bulwark/contracts';
import { toIso } from '../core/time.ts';
import type { Storage, StoredEvent } from '../storage/ports.ts';

/** Orders looked at for a case: the account's log, newest first, at most this many events. */
const caseEventsScannedMax = 5000;

/**
 * Reads a containment case. Until the containment engine runs playbooks, a case lists no steps,
 * and its orders (every order placed since the case's `since`, archived ones included) show the
 * payment and shipment state as `unknown`.
 */
export class CaseService {
  readonly #storage: Storage;
  constructor(deps: { storage: Storage }) {
    this.#storage = deps.storage;
  }

  async view(caseId: string): Promise<CaseView | undefined> {
    const record = await this.#storage.cases.get(caseId);
    if (record === undefined) return undefined;
    const events = await this.#storage.events.readAccount(record.accountId, { limit: caseEventsScannedMax });
    const view: CaseView = {
      caseId: record.caseId,
      accountId: record.accountId,
      status: record.status,
      reportedBy: record.reportedBy,
      openedAt: toIso(record.openedAtMs),
      steps: [],
      orders: ordersSince(events, record.sinceMs),
    };
    if (record.sinceMs !== undefined) view.since = toIso(record.sinceMs);
    return view;
  }
}

function ordersSince(events: readonly StoredEvent[], sinceMs: number | undefined): CaseView['orders'] {
  const orders: CaseView['orders'] = [];
  for (const stored of [...events].reverse()) {
    if (stored.event.type !== 'order.placed') continue;
    if (sinceMs !== undefined && stored.atMs < sinceMs) continue;
    orders.push({ orderId: stored.event.orderId, payment: 'unknown', shipment: 'unknown' });
  }
  return orders;
}
