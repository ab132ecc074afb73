import type { ProviderResult } from '../../src/connectors/domain/provider-result.ts';

/** Attempts a retrying caller makes before it gives up (and a containment step would escalate). */
export const attemptsMax = 30;

/**
 * What a careful caller does: repeats a command with the SAME idempotency key while the provider
 * answers a retryable error, waiting what a rate limit asks on the provider's clock. Answers the
 * first final answer and how many attempts it took.
 */
export async function untilFinal<T>(
  call: () => Promise<ProviderResult<T>>,
  wait: (ms: number) => void = () => undefined,
): Promise<ProviderResult<T> & { attempts: number }> {
  for (let attempts = 1; ; attempts += 1) {
    const answer = await call();
    if (answer.ok || !answer.error.retryable || attempts >= attemptsMax) return { ...answer, attempts };
    wait(answer.error.retryAfterMs ?? 0);
  }
}

/** The value of an ok answer; fails the test with the provider's error otherwise. */
export function valueOf<T>(answer: ProviderResult<T>): T {
  if (!answer.ok) throw new Error(`expected ok, got ${answer.error.kind}: ${answer.error.message}`);
  return answer.value;
}
