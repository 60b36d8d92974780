import { call } from './agent.svelte.ts';
import { AgentError } from './rpc.ts';

/** The agent's answer to `keys.status`. */
export interface KeysStatus {
  keyring: boolean;
  protector: 'passphrase' | 'key-file' | 'dpapi' | null;
  protectors: Array<'passphrase' | 'key-file' | 'dpapi'>;
  current: number | null;
  versions: Array<{ version: number; createdAt: string }>;
  recoveryExported: boolean;
  recoveryExportedAt: string | null;
  keyFile: boolean;
  secrets: boolean;
}

/** The agent's answer to `otp.status`. */
export interface OtpStatus {
  enabled: boolean;
  recoveryCodesLeft: number;
  recentFailures: number;
  lockedUntil: number | null;
  /** Until when this connection is unlocked, or null. */
  unlockedUntil: number | null;
}

/**
 * The protection state every screen reads: the key status (for the recovery warning) and
 * whether the agent asked for a one-time code before it hands out settings.
 */
export const security = $state<{ keys: KeysStatus | null; otpRequired: boolean }>({
  keys: null,
  otpRequired: false,
});

/** Reads `keys.status` again. */
export async function refreshKeys(): Promise<void> {
  security.keys = await call<KeysStatus>('keys.status');
}

/** True for the agent's answer that this connection must be unlocked with a code first. */
export function needsOtp(error: unknown): boolean {
  return error instanceof AgentError && error.code === 'EOTPREQUIRED';
}
