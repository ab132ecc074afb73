import { hash } from 'node:crypto';
import {
  accountCompromisedSchema,
  accountCreatedSchema,
  accountUpdatedSchema,
  challengeCompletedSchema,
  eventTypes,
  loginFailedSchema,
  loginSucceededSchema,
  orderArchivedSchema,
  orderCancelledSchema,
  orderPlacedSchema,
  sessionActivitySchema,
  type BulwarkEvent,
  type EventType,
} from '@bulwark/contracts';
import type { z } from 'zod';
import { err, ok, type Result } from '../core/result.ts';

export interface ValidEvent {
  event: BulwarkEvent;
  /** Event time in epoch milliseconds. */
  atMs: number;
  /** SHA-256 of the event as parsed (unknown fields dropped, keys in schema order). */
  contentHash: string;
}

export interface EventProblem {
  code: 'INVALID_EVENT' | 'UNKNOWN_EVENT_TYPE';
  message: string;
  field?: string;
  /** The event's id when it could be read, so a batch answer can name it. */
  eventId?: string;
}

const schemaByType: Record<EventType, z.ZodType<BulwarkEvent>> = {
  'account.created': accountCreatedSchema,
  'login.failed': loginFailedSchema,
  'login.succeeded': loginSucceededSchema,
  'challenge.completed': challengeCompletedSchema,
  'session.activity': sessionActivitySchema,
  'account.updated': accountUpdatedSchema,
  'order.placed': orderPlacedSchema,
  'order.archived': orderArchivedSchema,
  'order.cancelled': orderCancelledSchema,
  'account.compromised': accountCompromisedSchema,
};

const knownTypes: ReadonlySet<string> = new Set(eventTypes);

/** Earliest and latest event times accepted: anything outside is a typo, not an event. */
const atMsMin = Date.UTC(2000, 0, 1);
const atMsMax = Date.UTC(2200, 0, 1);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether a string holds what PostgreSQL cannot store: NUL, or an unpaired surrogate (not UTF-8). */
const isUnstorable = (text: string): boolean => text.includes('\u0000') || !text.isWellFormed();

/** Whether any string inside `value` is unstorable. Allocation-free: it runs on every event. */
function hasUnstorableString(value: unknown): boolean {
  if (typeof value === 'string') return isUnstorable(value);
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasUnstorableString);
  for (const key in value) {
    if (hasUnstorableString((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}

/**
 * The path of the first string PostgreSQL could not store, if any. Refusing it here keeps one bad
 * event from failing the group write it would share with others.
 */
function findUnstorableString(value: unknown, path: string[]): string | undefined {
  if (typeof value === 'string') return isUnstorable(value) ? path.join('.') : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, child] of Object.entries(value)) {
    const found = findUnstorableString(child, [...path, key]);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The value at `path` inside `root`, or undefined when any step is missing. */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const step of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[step];
  }
  return current;
}

/** The problem with the event's id, when it could be read (a module function: no closure per event). */
function named(problem: EventProblem, eventId: string | undefined): EventProblem {
  return eventId === undefined ? problem : { ...problem, eventId };
}

/** Checks one event against the contract. Never throws, whatever `raw` is. */
export function validateEvent(raw: unknown): Result<ValidEvent, EventProblem> {
  if (!isRecord(raw)) return err({ code: 'INVALID_EVENT', message: 'an event must be a JSON object' });
  const eventId =
    typeof raw.id === 'string' && raw.id.length > 0 && raw.id.length <= 128 ? raw.id : undefined;
  const type = raw.type;
  if (typeof type !== 'string') {
    return err(
      named(
        { code: 'INVALID_EVENT', message: 'type is required and must be a string', field: 'type' },
        eventId,
      ),
    );
  }
  if (!knownTypes.has(type)) {
    return err(
      named(
        {
          code: 'UNKNOWN_EVENT_TYPE',
          message: `unknown event type "${type.slice(0, 64)}"; expected one of ${eventTypes.join(', ')}`,
          field: 'type',
        },
        eventId,
      ),
    );
  }
  const parsed = schemaByType[type as EventType].safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field =
      issue === undefined || issue.path.length === 0 ? undefined : issue.path.map(String).join('.');
    const missing = issue?.code === 'invalid_type' && valueAt(raw, issue.path) === undefined;
    const detail = missing ? 'is required' : (issue?.message ?? 'is invalid');
    const problem: EventProblem = {
      code: 'INVALID_EVENT',
      message: field === undefined ? detail : `${field}: ${detail}`,
    };
    if (field !== undefined) problem.field = field;
    return err(named(problem, eventId));
  }
  const event = parsed.data;
  const unstorable = hasUnstorableString(event) ? findUnstorableString(event, []) : undefined;
  if (unstorable !== undefined) {
    return err(
      named(
        {
          code: 'INVALID_EVENT',
          message: `${unstorable}: must not contain NUL characters or unpaired UTF-16 surrogates`,
          field: unstorable,
        },
        eventId,
      ),
    );
  }
  const atMs = Date.parse(event.at);
  if (!(atMs >= atMsMin && atMs < atMsMax)) {
    return err(
      named({ code: 'INVALID_EVENT', message: 'at: must be between 2000 and 2200', field: 'at' }, eventId),
    );
  }
  const contentHash = hash('sha256', JSON.stringify(event), 'base64url');
  return ok({ event, atMs, contentHash });
}
