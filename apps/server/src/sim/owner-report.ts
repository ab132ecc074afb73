import type { BulwarkEvent } from '@bulwark/contracts';
import type { PlaybookName } from '../containment/domain/model.ts';
import { toIso } from '../core/time.ts';
import type { Storage } from '../storage/ports.ts';

/**
 * The owner's "this wasn't me" as the simulations, benchmarks and containment tests stage it:
 * the `account.compromised` event, its decision and the case with its run, committed together
 * as the pipeline would (the run starts in the same transaction). Without the risk engine, so
 * a drill controls exactly which case opens when.
 */
export async function appendOwnerReport(
  storage: Storage,
  report: {
    readonly accountId: string;
    readonly caseId: string;
    readonly eventId: string;
    readonly atMs: number;
    readonly sinceMs?: number;
    readonly playbook?: PlaybookName;
    readonly orderId?: string;
    readonly policyVersion: string;
  },
): Promise<void> {
  const { accountId, caseId, eventId, atMs } = report;
  const event = {
    id: eventId,
    type: 'account.compromised',
    at: toIso(atMs),
    accountId,
    reportedBy: 'owner',
  } as BulwarkEvent;
  await storage.events.append(
    [
      {
        eventId,
        accountId,
        type: 'account.compromised',
        atMs,
        receivedAtMs: atMs,
        decidedAtMs: atMs,
        contentHash: eventId,
        event,
        decision: {
          eventId,
          accountId,
          decision: 'allow',
          score: 100,
          reasons: [{ code: 'containment_opened' }],
          caseId,
        },
        policyVersion: report.policyVersion,
      },
    ],
    [
      {
        caseId,
        accountId,
        status: 'open',
        reportedBy: 'owner',
        openedAtMs: atMs,
        sinceMs: report.sinceMs,
        openedByEventId: eventId,
        run: { playbook: report.playbook ?? 'ato-lockdown', orderId: report.orderId },
      },
    ],
  );
}
