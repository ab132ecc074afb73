import type { ErrorBody, ErrorCode } from '@bulwark/contracts';

/** The one map from error code to HTTP status. */
export const statusOf: Record<ErrorCode, number> = {
  INVALID_JSON: 400,
  INVALID_EVENT: 400,
  UNKNOWN_EVENT_TYPE: 400,
  INVALID_BATCH: 400,
  INVALID_PARAMETER: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  EVENT_ID_CONFLICT: 409,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
  FORBIDDEN: 403,
  CODE_INVALID: 422,
  CODE_EXPIRED: 410,
  CODE_REUSED: 409,
  ATTEMPTS_EXCEEDED: 429,
  CHALLENGE_CLOSED: 409,
  METHOD_NOT_AVAILABLE: 422,
  TOKEN_INVALID: 400,
  TOKEN_EXPIRED: 410,
  TOKEN_USED: 409,
  WEBAUTHN_FAILED: 422,
  DELIVERY_FAILED: 502,
  RULES_INVALID: 422,
  MODEL_INVALID: 422,
  REVIEW_RESOLVED: 409,
};

export function errorBody(code: ErrorCode, message: string, field?: string): ErrorBody {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}
