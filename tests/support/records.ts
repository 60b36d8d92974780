import type {
  EventRecord,
  HostLoadRecord,
  SessionRecord,
} from '../../extensions/autologging/src/records.ts';

/** A complete session record with plausible values; override what a test is about. */
export function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    kind: 'session',
    key: '6f1c2a8e-8d3b-4c1e-9a57-0b6f8e2d4c11',
    user: 'minjun.kim',
    domain: 'CORP',
    fullName: '김민준',
    machine: 'CORP\\VDA-OFF-001',
    deliveryGroup: 'Office Desktop',
    clientName: 'KR-LT-04821',
    clientAddress: '10.20.31.44',
    clientVersion: '24.2.0.65',
    protocol: 'HDX',
    sessionType: 'desktop',
    startAt: Date.UTC(2026, 11, 3, 0, 12),
    endAt: null,
    logonDurationMs: 17_500,
    state: 'Active',
    stateChangedAt: Date.UTC(2026, 11, 3, 0, 12),
    failureCode: null,
    failureReason: null,
    ...overrides,
  };
}

/** A logon event; override what a test is about. */
export function event(overrides: Partial<EventRecord> = {}): EventRecord {
  return {
    kind: 'event',
    key: `6f1c2a8e:logon:${Date.UTC(2026, 11, 3, 0, 12)}`,
    type: 'logon',
    at: Date.UTC(2026, 11, 3, 0, 12),
    user: 'minjun.kim',
    domain: 'CORP',
    machine: 'CORP\\VDA-OFF-001',
    sessionKey: '6f1c2a8e-8d3b-4c1e-9a57-0b6f8e2d4c11',
    clientName: 'KR-LT-04821',
    clientAddress: '10.20.31.44',
    code: null,
    detail: null,
    ...overrides,
  };
}

/** A host sample; override what a test is about. */
export function hostSample(overrides: Partial<HostLoadRecord> = {}): HostLoadRecord {
  const at = overrides.at ?? Date.UTC(2026, 11, 3, 1, 0);
  return {
    kind: 'host-load',
    key: `vda01:${at}`,
    host: 'vda01',
    at,
    cpuPercent: 42.5,
    memoryUsedBytes: 6 * 2 ** 30,
    memoryTotalBytes: 16 * 2 ** 30,
    diskUsedBytes: 100 * 2 ** 30,
    diskTotalBytes: 250 * 2 ** 30,
    processes: null,
    reason: 'schedule',
    triggerCode: null,
    ...overrides,
  };
}
