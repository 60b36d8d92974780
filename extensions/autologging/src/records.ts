/**
 * The normalised records every source produces and the journal stores. Times are epoch
 * milliseconds, UTC. Fields marked personal are encrypted before they reach any store.
 */

/** Citrix ConnectionState names (Monitor OData enum), plus `Failed` for a session that never started. */
export const SESSION_STATES = [
  'Unknown',
  'Connected',
  'Disconnected',
  'Terminated',
  'PreparingSession',
  'Active',
  'Reconnecting',
  'NonBrokeredSession',
  'Other',
  'Pending',
  'Failed',
] as const;

export type SessionState = (typeof SESSION_STATES)[number];

/** One user session on one machine, updated as it progresses. */
export interface SessionRecord {
  kind: 'session';
  /** Natural key: Citrix SessionKey, or host + session id + logon time for a plain host. */
  key: string;
  /** Personal: the user's account name without domain. */
  user: string | null;
  domain: string | null;
  /** Personal. */
  fullName: string | null;
  /** The VDA or session host, `DOMAIN\HOST` or a DNS name. */
  machine: string | null;
  deliveryGroup: string | null;
  /** Personal: the endpoint's name. */
  clientName: string | null;
  /** Personal: the endpoint's address. */
  clientAddress: string | null;
  clientVersion: string | null;
  /** HDX, RDP, Console. */
  protocol: string | null;
  sessionType: 'desktop' | 'application' | null;
  startAt: number | null;
  endAt: number | null;
  logonDurationMs: number | null;
  state: SessionState;
  stateChangedAt: number | null;
  /** Citrix SessionFailureCode, when the session failed. */
  failureCode: number | null;
  failureReason: string | null;
}

export const EVENT_TYPES = ['logon', 'logoff', 'disconnect', 'reconnect', 'failure'] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Something that happened at one instant. Events are never updated. */
export interface EventRecord {
  kind: 'event';
  /** Natural key: an event log record id, or session key + type + time. */
  key: string;
  type: EventType;
  at: number;
  /** Personal. */
  user: string | null;
  domain: string | null;
  machine: string | null;
  sessionKey: string | null;
  /** Personal. */
  clientName: string | null;
  /** Personal. */
  clientAddress: string | null;
  /** A failure or reason code (Citrix SessionFailureCode, event 40 reason). */
  code: number | null;
  /** Decoded reason or other detail; never a personal value. */
  detail: string | null;
}

/** One process in a host-load sample. */
export interface ProcessSample {
  pid: number;
  name: string;
  cpuPercent: number;
  memoryBytes: number;
}

/** A CPU, memory and disk sample of one host. */
export interface HostLoadRecord {
  kind: 'host-load';
  /** Natural key: host + sample time. */
  key: string;
  host: string;
  at: number;
  /** Busy share of all cores over the sample interval, 0-100. */
  cpuPercent: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  diskUsedBytes: number | null;
  diskTotalBytes: number | null;
  /** The busiest processes, when sampled (always on a failure sample). */
  processes: ProcessSample[] | null;
  /** Why this sample was taken. */
  reason: 'schedule' | 'failure';
  /** For a failure sample: the code of the error that triggered it. */
  triggerCode: string | null;
}

export type CaptureRecord = SessionRecord | EventRecord | HostLoadRecord;

/** The personal fields of each record kind, which are stored only encrypted. */
export const PERSONAL_FIELDS = {
  session: ['user', 'fullName', 'clientName', 'clientAddress'],
  event: ['user', 'clientName', 'clientAddress'],
  'host-load': [],
} as const;
