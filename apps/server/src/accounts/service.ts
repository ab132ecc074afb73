import type { AccountView } from '@bulwark/contracts';
import { toIso } from '../core/time.ts';
import type { HotStateCache } from '../ingest/hot-state.ts';
import type { AccountState } from '../risk/domain/state.ts';
import type { Storage } from '../storage/ports.ts';

export const timelinePageSizeMax = 200;

/** Reads an account's profile (hot state first: it may be newer than the database) and timeline. */
export class AccountService {
  readonly #storage: Storage;
  readonly #hot: HotStateCache;
  constructor(deps: { storage: Storage; hot: HotStateCache }) {
    this.#storage = deps.storage;
    this.#hot = deps.hot;
  }

  async view(accountId: string, page: { before?: number; limit: number }): Promise<AccountView | undefined> {
    const state = this.#hot.account(accountId) ?? (await this.#storage.state.loadAccounts([accountId]))[0];
    const entries = await this.#storage.events.readAccount(accountId, {
      limit: page.limit + 1,
      ...(page.before === undefined ? {} : { beforeSeq: page.before }),
    });
    if (state === undefined && entries.length === 0) return undefined;
    const shown = entries.slice(0, page.limit);
    const last = shown.at(-1);
    const view: AccountView = {
      accountId,
      ...profileOf(state),
      timeline: {
        entries: shown.map((stored) => ({
          seq: stored.seq,
          eventId: stored.eventId,
          type: stored.type,
          at: toIso(stored.atMs),
          receivedAt: toIso(stored.receivedAtMs),
          decision: stored.decision.decision,
          score: stored.decision.score,
          reasons: stored.decision.reasons,
          event: stored.event,
        })),
      },
    };
    if (entries.length > page.limit && last !== undefined) view.timeline.nextBefore = last.seq;
    return view;
  }
}

function profileOf(state: AccountState | undefined): Omit<AccountView, 'accountId' | 'timeline'> {
  if (state === undefined) {
    // Events were logged but state is not yet known (for example only sign-in failures).
    return { firstSeenAt: toIso(0), lastSeenAt: toIso(0), risk: 0, eventCount: 0, devices: [], sessions: [] };
  }
  const profile: Omit<AccountView, 'accountId' | 'timeline'> = {
    firstSeenAt: toIso(state.firstSeenAt),
    lastSeenAt: toIso(state.lastSeenAt),
    risk: state.risk,
    eventCount: state.eventCount,
    devices: state.devices.map((d) => ({
      key: d.key,
      ...(d.deviceId === undefined ? {} : { deviceId: d.deviceId }),
      userAgent: d.userAgent,
      firstSeenAt: toIso(d.firstSeenAt),
      lastSeenAt: toIso(d.lastSeenAt),
      seenCount: d.seenCount,
      trusted: d.trusted,
    })),
    sessions: state.sessions.map((s) => ({
      sessionId: s.sessionId,
      issuedAt: toIso(s.issuedAt),
      lastSeenAt: toIso(s.lastSeenAt),
      ip: s.ip,
      deviceKey: s.deviceKey,
    })),
  };
  if (state.createdAt !== undefined) profile.createdAt = toIso(state.createdAt);
  if (state.openCaseId !== undefined) profile.openCaseId = state.openCaseId;
  return profile;
}
