import type { ErrorCode } from '@bulwark/contracts';

export type { ErrorCode };

/**
 * The one error type the application raises on purpose. `code` is from the closed list in
 * `@bulwark/contracts`; `field` names the offending input field when there is one.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  constructor(code: ErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.field = options.field;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
