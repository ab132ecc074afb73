import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date, Date>;
/** int8 comes back as a string from `pg` and as a number from PGlite: read it through `Number()`. */
type Seq = ColumnType<string | number, never, never>;
type Json<T> = ColumnType<T, string, string>;

/** The sandbox payment provider's tables (migration 0002_sandbox_payments). */
export interface SandboxPaymentsTables {
  sandbox_payments: {
    payment_id: string;
    state: Json<unknown>;
    due_at: Timestamp | null;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  sandbox_payment_ledger: {
    seq: Generated<Seq>;
    transaction_id: string;
    payment_id: string;
    entry: Json<unknown>;
    created_at: Timestamp;
  };
  sandbox_payment_disputes: FeedTable;
  sandbox_payment_warnings: FeedTable;
  sandbox_payment_idempotency: {
    idempotency_key: string;
    command: string;
    request_hash: string;
    response: Json<unknown>;
    created_at: Timestamp;
  };
  sandbox_payment_webhooks: {
    seq: Generated<Seq>;
    event_id: string;
    provider_type: string;
    body: string;
    created_at: Timestamp;
    status: 'pending' | 'delivered' | 'dropped' | 'failed';
    attempts: number;
    next_attempt_at: Timestamp;
  };
}

interface FeedTable {
  seq: Generated<Seq>;
  object_id: string;
  payment_id: string;
  created_at: Timestamp;
}
