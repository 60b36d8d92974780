import type { EventRecord, HostLoadRecord, SessionRecord } from '../records.ts';

/**
 * Rows as the journal hands them to readers (the Excel exporter, reports). Personal fields
 * hold a display value: a stable pseudonym such as `U-1A2B3C4D` unless the reader was
 * allowed to decrypt, never the stored ciphertext.
 */
export type SessionRow = Omit<SessionRecord, 'kind'> & {
  /** Record identity: a hash of source id and natural key. */
  id: string;
  /** The source id that captured it. */
  source: string;
};

export type EventRow = Omit<EventRecord, 'kind'> & { id: string; source: string };

export type HostLoadRow = Omit<HostLoadRecord, 'kind'> & { id: string; source: string };
