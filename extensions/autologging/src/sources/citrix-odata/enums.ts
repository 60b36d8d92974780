/**
 * The Citrix Monitor Service enumerations the source decodes, with the codes the OData feed
 * sends. Only values confirmed in the Monitor Service documentation are named; any other code
 * decodes to a neutral name that still carries the number, so nothing is silently lost.
 * (ConnectionFailureType, FailureCategory and the machine states are not read: no field this
 * source records holds them.)
 */
import { SESSION_STATES, type SessionState } from '../../records.ts';

/** ConnectionState 0-9. The records' state names are the Citrix names, in the same order. */
export const CONNECTION_STATES: readonly SessionState[] = SESSION_STATES.slice(0, 10);

/** SessionType: 0 a desktop session, 1 a published application session. */
export const SESSION_TYPES = ['desktop', 'application'] as const;

/**
 * SessionFailureCode, the `ConnectionFailureEnumValue` of a connection failure. Codes 8-99 exist
 * but are not listed in the documentation this build follows; they decode as
 * `SessionFailureCode <n>`.
 */
export const SESSION_FAILURE_CODES: ReadonlyMap<number, string> = new Map([
  [0, 'Unknown'],
  [1, 'None'],
  [2, 'SessionPreparation'],
  [3, 'RegistrationTimeout'],
  [4, 'ConnectionTimeout'],
  [5, 'Licensing'],
  [6, 'Ticketing'],
  [7, 'Other'],
  [100, 'NoMachineAvailable'],
  [101, 'MachineNotFunctional'],
]);

/** The name of a SessionFailureCode, or `SessionFailureCode <n>` for one not listed. */
export function sessionFailureName(code: number): string {
  return SESSION_FAILURE_CODES.get(code) ?? `SessionFailureCode ${code}`;
}

/** The name at `code` of a zero-based enumeration, or null when the code is outside it. */
export function enumName<T extends string>(names: readonly T[], code: number): T | null {
  return Number.isInteger(code) && code >= 0 && code < names.length ? (names[code] as T) : null;
}
