import type { EventLog } from '../storage/ports.ts';
import { dayMs } from '../core/time.ts';

/** How far back the log is read for the first suspicious sign-in. */
const lookbackMs = 30 * dayMs;
const scannedEventsMax = 5000;

/**
 * The first suspicious sign-in of an account before `beforeMs`: the earliest sign-in within the
 * lookback that Bulwark challenged, denied or saw from a new
 * device. Containment sweeps orders from there when the report gave no `since` (the owner's own
 * orders in between are swept too: cancelling one of theirs is the safe mistake).
 */
export async function firstSuspiciousSignInMs(
  events: EventLog,
  accountId: string,
  beforeMs: number,
): Promise<number | undefined> {
  const newestFirst = await events.readAccount(accountId, { limit: scannedEventsMax });
  let first: number | undefined;
  for (const stored of newestFirst) {
    if (stored.atMs > beforeMs || stored.type !== 'login.succeeded') continue;
    if (stored.atMs < beforeMs - lookbackMs) break;
    const suspicious =
      stored.decision.decision !== 'allow' ||
      stored.decision.reasons.some((r) => r.code === 'new_device' || r.code === 'session_context_changed');
    if (suspicious) first = stored.atMs;
  }
  return first;
}
