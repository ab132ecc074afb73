import type { Decision } from '@bulwark/contracts';
import type { IdGenerator } from '../core/ids.ts';
import { apply, decide } from '../risk/domain/decider.ts';
import type { RiskPolicy } from '../risk/domain/policy.ts';
import { defaultPlaybookSelector } from '../containment/domain/triggers.ts';
import type { ShadowVerdict } from '../risk/domain/orders/assess.ts';
import type { CaseRecord, EventRecord, PriorOutcome } from '../storage/ports.ts';
import type { HotState } from '../risk/domain/decider.ts';
import type { ValidEvent } from './validate.ts';

export type HandleOutcome =
  | {
      kind: 'decided';
      decision: Decision;
      record: EventRecord;
      openedCase: CaseRecord | undefined;
      /** The shadow rule set's verdict on an order, to record beside the decision. */
      shadow?: ShadowVerdict | undefined;
    }
  | { kind: 'duplicate'; decision: Decision }
  | { kind: 'conflict'; eventId: string };

/** Where outcomes already given are remembered by event id (a bounded map on the server). */
export interface PriorOutcomes {
  get(eventId: string): PriorOutcome | undefined;
  set(eventId: string, outcome: PriorOutcome): void;
}

/**
 * One event through the decider, with idempotency by event id: the same id and content answer
 * the decision already given; the same id with other content is a conflict. Used by the server's
 * processor and by replay alike, so both decide the same way.
 */
export function handleEvent(
  valid: ValidEvent,
  hot: HotState,
  prior: PriorOutcomes,
  ids: IdGenerator,
  policy: RiskPolicy,
  times: { receivedAtMs: number; decidedAtMs: number },
): HandleOutcome {
  const { event, atMs, contentHash } = valid;
  const known = prior.get(event.id);
  if (known !== undefined) {
    return known.contentHash === contentHash
      ? { kind: 'duplicate', decision: known.decision }
      : { kind: 'conflict', eventId: event.id };
  }
  const { decision, opensCase, shadow } = decide(event, atMs, hot, ids, policy);
  apply(event, decision, atMs, hot, policy);
  prior.set(event.id, { contentHash, decision });
  const record: EventRecord = {
    eventId: event.id,
    accountId: event.accountId,
    type: event.type,
    atMs,
    receivedAtMs: times.receivedAtMs,
    decidedAtMs: times.decidedAtMs,
    contentHash,
    event,
    decision,
    policyVersion: policy.version,
  };
  let openedCase: CaseRecord | undefined;
  if (opensCase && decision.caseId !== undefined && event.accountId !== undefined) {
    const chosen = (policy.playbooks ?? defaultPlaybookSelector()).choose(event, decision);
    openedCase = {
      caseId: decision.caseId,
      accountId: event.accountId,
      status: 'open',
      reportedBy: event.type === 'account.compromised' ? event.reportedBy : 'bulwark',
      openedAtMs: times.decidedAtMs,
      sinceMs:
        event.type === 'account.compromised' && event.since !== undefined
          ? Date.parse(event.since)
          : undefined,
      openedByEventId: event.id,
      run: chosen === undefined ? undefined : { playbook: chosen.playbook, orderId: chosen.orderId },
    };
  }
  return { kind: 'decided', decision, record, openedCase, shadow };
}
