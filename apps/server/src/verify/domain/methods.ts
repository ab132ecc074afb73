import type { ChallengeMethod } from '@bulwark/contracts';

/** What an account can use right now: enrolled factors and verified channels. */
export interface AccountFactors {
  readonly hasEmail: boolean;
  readonly hasPhone: boolean;
  readonly hasPasskey: boolean;
  readonly hasTotp: boolean;
}

/**
 * Methods that may stand in for a listed one. A passkey is phishing-resistant and satisfies
 * anything; TOTP stands in for the out-of-band methods (it is at least as strong as an e-mailed or
 * texted code). The out-of-band methods to the owner's verified channels stand in for each other
 * where they prove the same thing: an e-mailed link for an e-mailed code, the owner's "yes, it's
 * me" for a code sent to the same channels. Nothing stands in for a passkey: a passkey-only
 * challenge is how the risk engine asks for phishing resistance when it suspects a relay.
 */
const substitutes: Record<ChallengeMethod, readonly ChallengeMethod[]> = {
  passkey: [],
  totp: ['passkey'],
  sms_otp: ['passkey', 'totp', 'device_confirmation'],
  email_otp: ['passkey', 'totp', 'email_link', 'device_confirmation'],
  email_link: ['passkey', 'totp', 'email_otp', 'device_confirmation'],
  device_confirmation: ['passkey', 'totp'],
};

function usable(method: ChallengeMethod, factors: AccountFactors): boolean {
  switch (method) {
    case 'passkey':
      return factors.hasPasskey;
    case 'totp':
      return factors.hasTotp;
    case 'sms_otp':
      return factors.hasPhone;
    case 'email_otp':
    case 'email_link':
      return factors.hasEmail;
    case 'device_confirmation':
      return factors.hasEmail || factors.hasPhone;
  }
}

/** The methods that satisfy a challenge listing `listed`, in order, that the account can use. */
export function availableMethods(
  listed: readonly ChallengeMethod[],
  factors: AccountFactors,
): ChallengeMethod[] {
  const out: ChallengeMethod[] = [];
  const add = (method: ChallengeMethod): void => {
    if (!out.includes(method) && usable(method, factors)) out.push(method);
  };
  for (const method of listed) add(method);
  for (const method of listed) for (const stronger of substitutes[method]) add(stronger);
  return out;
}

/** Methods answered with a typed code. */
export const codeMethods = ['email_otp', 'sms_otp', 'totp'] as const;
export type CodeMethod = (typeof codeMethods)[number];

/** Methods for which Bulwark sends something to the owner. */
export const sendMethods = ['email_otp', 'sms_otp', 'email_link', 'device_confirmation'] as const;
export type SendMethod = (typeof sendMethods)[number];
