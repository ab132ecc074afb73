import type { BulwarkEvent, Decision } from '@bulwark/contracts';
import type { EventRecord } from '../../src/storage/ports.ts';

/** An event and its decision as the event log stores them, for tests that append to the log directly. */
export function loggedRecord(
  event: BulwarkEvent,
  decision: Decision,
  atMs: number,
  options: { receivedAtMs?: number; decidedAtMs?: number; contentHash?: string; policyVersion?: string } = {},
): EventRecord {
  return {
    eventId: event.id,
    accountId: event.accountId,
    type: event.type,
    atMs,
    receivedAtMs: options.receivedAtMs ?? atMs,
    decidedAtMs: options.decidedAtMs ?? atMs,
    contentHash: options.contentHash ?? event.id,
    event,
    decision,
    policyVersion: options.policyVersion ?? 'test',
  };
}

/** A decided `account.created`, allowed with `score`. */
export function accountCreatedRecord(
  eventId: string,
  accountId: string,
  atMs: number,
  score = 0,
): EventRecord {
  const event: BulwarkEvent = {
    id: eventId,
    type: 'account.created',
    at: new Date(atMs).toISOString(),
    accountId,
  };
  return loggedRecord(event, { eventId, accountId, decision: 'allow', score, reasons: [] }, atMs);
}
