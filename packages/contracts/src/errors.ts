import { z } from 'zod';

/**
 * The closed list of error codes the API answers with. `docs/errors.md` explains each one and
 * how to solve it; the server maps each code to one HTTP status in one place.
 */
export const errorCodes = [
  'INVALID_JSON',
  'INVALID_EVENT',
  'UNKNOWN_EVENT_TYPE',
  'INVALID_BATCH',
  'INVALID_PARAMETER',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'UNAUTHORIZED',
  'NOT_FOUND',
  'EVENT_ID_CONFLICT',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'INTERNAL_ERROR',
  // The console (apps/server/src/console): a role or CSRF token that does not allow the call.
  'FORBIDDEN',
  // Step-up verification (apps/server/src/verify).
  'CODE_INVALID',
  'CODE_EXPIRED',
  'CODE_REUSED',
  'ATTEMPTS_EXCEEDED',
  'CHALLENGE_CLOSED',
  'METHOD_NOT_AVAILABLE',
  'TOKEN_INVALID',
  'TOKEN_EXPIRED',
  'TOKEN_USED',
  'WEBAUTHN_FAILED',
  'DELIVERY_FAILED',
  'RULES_INVALID',
  'MODEL_INVALID',
  // The review queue (apps/server/src/reviews).
  'REVIEW_RESOLVED',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export const errorBodySchema = z.object({
  error: z.object({
    code: z.enum(errorCodes),
    message: z.string(),
    /** Dotted path of the offending field, when one field is to blame (`context.ip`). */
    field: z.string().optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** A batch answers each invalid event in its place with this shape. */
export const eventErrorSchema = z.object({
  eventId: z.string().optional(),
  error: errorBodySchema.shape.error,
});
export type EventError = z.infer<typeof eventErrorSchema>;
