import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date, Date>;
/** int8 comes back as a string from `pg` and as a number from PGlite: read it through `Number()`. */
type Int8 = ColumnType<string | number, number, number>;
type Json<T> = ColumnType<T, string, string>;

export interface EventsTable {
  seq: ColumnType<string | number, never, never>;
  event_id: string;
  account_id: string | null;
  type: string;
  at: Timestamp;
  received_at: Timestamp;
  decided_at: Timestamp;
  content_hash: string;
  payload: Json<unknown>;
  decision: Json<unknown>;
  outcome: string;
  score: number;
  policy_version: string;
}

export interface AccountsTable {
  account_id: string;
  /** The account's state as JSON text (0010_compact_checkpoints). */
  state: string;
  first_seen_at: Timestamp;
  last_seen_at: Timestamp;
  risk: number;
  open_case_id: string | null;
  updated_at: Timestamp;
  /** The shared store's version of `state` (0013_account_versions); null from a single-node checkpoint. */
  version: string | number | null;
}

/** A view over `accounts.state -> 'devices'` (read-only). */
export interface DevicesTable {
  account_id: string;
  device_key: string;
  device_id: string | null;
  user_agent: string;
  first_seen_at: Timestamp;
  last_seen_at: Timestamp;
  seen_count: number;
  trusted: boolean;
}

/** A view over `accounts.state -> 'sessions'` (read-only). */
export interface SessionsTable {
  account_id: string;
  session_id: string;
  issued_at: Timestamp;
  last_seen_at: Timestamp;
  ip: string;
  device_key: string;
}

export interface VelocitySeriesTable {
  key: string;
  /** The series' snapshot as JSON text (0010_compact_checkpoints). */
  snapshot: string;
  updated_at: Timestamp;
}

export interface StateCheckpointTable {
  id: number;
  seq: Int8;
  updated_at: Timestamp;
}

export interface ApiKeysTable {
  key_id: string;
  name: string;
  secret_hash: string;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
}

export interface CasesTable {
  case_id: string;
  account_id: string;
  status: string;
  reported_by: string;
  opened_at: Timestamp;
  since: Timestamp | null;
  opened_by_event_id: string;
  updated_at: Timestamp;
}

export interface ContainmentRunsTable {
  run_id: string;
  case_id: string;
  account_id: string;
  playbook: string;
  status: string;
  since: Timestamp | null;
  decided_at: Timestamp;
  order_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: Timestamp | null;
}

export interface ContainmentStepsTable {
  run_id: string;
  step_key: string;
  name: string;
  target: string | null;
  stage: number;
  state: string;
  attempts: number;
  due_at: Timestamp;
  lease_until: Timestamp | null;
  deadline_at: Timestamp;
  idempotency_key: string;
  params: Json<Record<string, unknown>>;
  outcome: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  last_error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  done_at: Timestamp | null;
}

export interface FraudFencesTable {
  scope: string;
  account_id: string;
  case_id: string;
  fenced_at: Timestamp;
}

export interface Database {
  events: EventsTable;
  accounts: AccountsTable;
  devices: DevicesTable;
  sessions: SessionsTable;
  velocity_series: VelocitySeriesTable;
  state_checkpoint: StateCheckpointTable;
  api_keys: ApiKeysTable;
  cases: CasesTable;
  containment_runs: ContainmentRunsTable;
  containment_steps: ContainmentStepsTable;
  fraud_fences: FraudFencesTable;
}

export type { Generated };
