import { copyProfile, type LoginObservation, type RbaProfile } from './rba.ts';

/**
 * What login risk and session protection remember per account (`AccountState.login`). Plain
 * JSON, bounded (`loginStateLimits`). Unlike the rest of the account state it is changed in place
 * (`evolveLogin`); `copyLoginState` takes a snapshot.
 */
export interface RecentLogin {
  atMs: number;
  ip: string;
  deviceKey: string;
  country?: string;
  asn?: number;
  kind?: string;
}

/** The context a session was issued in (`login.succeeded` with its `sessionId`). */
export interface SessionBinding {
  sessionId: string;
  issuedAtMs: number;
  lastSeenAtMs: number;
  deviceKey: string;
  deviceId?: string;
  uaFull: string;
  browserFamily: string;
  country?: string;
  asn?: number;
  kind?: string;
  /** The sign-in's score: a session at or above `session.riskyScoreMin` is risky. */
  risk: number;
  /** Last strong authentication on this session (a challenge passed, or taken as passed). */
  strongAtMs?: number;
  revokedAtMs?: number;
  revokedReason?: string;
}

/** A challenge answered but not completed: what to take back if it fails. */
export interface PendingLoginChallenge {
  challengeId: string;
  /** When the challenged event happened. */
  atMs: number;
  sessionId?: string;
  /** Set when the challenge was a sign-in's: its observation was learned provisionally. */
  observation?: LoginObservation;
}

export interface LoginState {
  profile: RbaProfile;
  recent: RecentLogin[];
  consecutiveFailures: number;
  bindings: SessionBinding[];
  pending: PendingLoginChallenge[];
}

export const loginStateLimits = { recentMax: 4, bindingsMax: 32, pendingMax: 8 } as const;

export const emptyLoginState = (): LoginState => ({
  profile: { logins: 0, values: {} },
  recent: [],
  consecutiveFailures: 0,
  bindings: [],
  pending: [],
});

/**
 * A snapshot of a login state that later sign-ins do not change: the login state is changed in
 * place (see `evolveLogin`) but the entries of its lists never are, so copying the lists is
 * enough.
 */
export function copyLoginState(state: LoginState): LoginState {
  return {
    ...state,
    profile: copyProfile(state.profile),
    recent: state.recent.slice(),
    bindings: state.bindings.slice(),
    pending: state.pending.slice(),
  };
}
