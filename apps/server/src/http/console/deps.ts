import { fileURLToPath } from 'node:url';
import { AnalystService } from '../../console/analysts.ts';
import { deriveConsoleKeys } from '../../console/keys.ts';
import { SecurityCenterLinks } from '../../console/links.ts';
import { AnalystPasskeys, type PasskeyOptions } from '../../console/passkeys.ts';
import { ConsoleSessions } from '../../console/sessions.ts';
import type { Clock } from '../../core/clock.ts';
import type { ConsoleStore } from '../../storage/console-ports.ts';
import { ConsoleGate } from './gate.ts';

/** What the console and the security center need, built once by the composition root. */
export interface ConsoleDeps {
  readonly store: ConsoleStore;
  readonly analysts: AnalystService;
  readonly gate: ConsoleGate;
  readonly links: SecurityCenterLinks;
  /** Analysts' passkeys: registration after sign-in, and sign-in with one. */
  readonly passkeys: AnalystPasskeys;
  /** The built console (apps/console/dist). */
  readonly distDir: string;
  /** Cookies get `Secure` (always in production; otherwise when the request came over https). */
  readonly secureCookies: boolean;
}

/** The built console, next to this server in the workspace. */
export const defaultConsoleDistDir = fileURLToPath(new URL('../../../../console/dist/', import.meta.url));

export function createConsoleDeps(options: {
  store: ConsoleStore;
  clock: Clock;
  secret: string;
  secureCookies: boolean;
  distDir?: string;
  /** The WebAuthn relying party; `localhost` (the default public URL's host) when absent. */
  webauthn?: PasskeyOptions;
}): ConsoleDeps {
  const keys = deriveConsoleKeys(options.secret);
  const analysts = new AnalystService({ store: options.store, clock: options.clock });
  const sessions = new ConsoleSessions({ store: options.store, clock: options.clock, csrfKey: keys.csrf });
  return {
    store: options.store,
    analysts,
    gate: new ConsoleGate({ sessions, analysts }),
    links: new SecurityCenterLinks({
      key: keys.securityCenterLinks,
      clock: options.clock,
      store: options.store,
    }),
    passkeys: new AnalystPasskeys({
      store: options.store,
      clock: options.clock,
      options: options.webauthn ?? { rpId: 'localhost', origins: [] },
    }),
    distDir: options.distDir ?? defaultConsoleDistDir,
    secureCookies: options.secureCookies,
  };
}
