import { createContext, useContext } from 'react';
import type { ConsoleSession } from '@bulwark/contracts';
import type { Client } from '../shared/api.ts';

export interface SessionContextValue {
  client: Client;
  session: ConsoleSession;
}

export const SessionContext = createContext<SessionContextValue | undefined>(undefined);

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (value === undefined) throw new Error('useSession outside a signed-in console');
  return value;
}
