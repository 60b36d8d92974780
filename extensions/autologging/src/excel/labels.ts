/**
 * Every header and Summary label of the daily workbook, in each supported language, in one
 * table. Sheet names are not here: they stay English so that links and macros find them.
 */

/** The languages a workbook can be written in. */
export const LANGUAGES = ['en', 'ko'] as const;

export type Language = (typeof LANGUAGES)[number];

const LABELS = {
  // Sessions, Events and Host load columns.
  sessionKey: { en: 'Session key', ko: '세션 키' },
  user: { en: 'User', ko: '사용자' },
  fullName: { en: 'Full name', ko: '전체 이름' },
  domain: { en: 'Domain', ko: '도메인' },
  machine: { en: 'Machine', ko: '머신' },
  deliveryGroup: { en: 'Delivery group', ko: '전달 그룹' },
  clientName: { en: 'Client name', ko: '클라이언트 이름' },
  clientAddress: { en: 'Client address', ko: '클라이언트 주소' },
  clientVersion: { en: 'Client version', ko: '클라이언트 버전' },
  protocol: { en: 'Protocol', ko: '프로토콜' },
  type: { en: 'Type', ko: '유형' },
  start: { en: 'Start', ko: '시작' },
  end: { en: 'End', ko: '종료' },
  duration: { en: 'Duration', ko: '기간' },
  logonSeconds: { en: 'Logon duration (s)', ko: '로그온 시간(초)' },
  state: { en: 'State', ko: '상태' },
  failureCode: { en: 'Failure code', ko: '실패 코드' },
  failureReason: { en: 'Failure reason', ko: '실패 원인' },
  source: { en: 'Source', ko: '수집 소스' },
  recordId: { en: 'Record id', ko: '레코드 ID' },
  time: { en: 'Time', ko: '시각' },
  code: { en: 'Code', ko: '코드' },
  detail: { en: 'Detail', ko: '상세' },
  host: { en: 'Host', ko: '호스트' },
  cpuPercent: { en: 'CPU %', ko: 'CPU %' },
  memoryUsedGb: { en: 'Memory used (GB)', ko: '메모리 사용량(GB)' },
  memoryTotalGb: { en: 'Memory total (GB)', ko: '메모리 전체(GB)' },
  memoryPercent: { en: 'Memory %', ko: '메모리 %' },
  diskUsedGb: { en: 'Disk used (GB)', ko: '디스크 사용량(GB)' },
  diskTotalGb: { en: 'Disk total (GB)', ko: '디스크 전체(GB)' },
  diskPercent: { en: 'Disk %', ko: '디스크 %' },
  reason: { en: 'Reason', ko: '사유' },
  triggerCode: { en: 'Trigger code', ko: '트리거 코드' },
  topProcesses: { en: 'Top processes', ko: '상위 프로세스' },

  // Summary sheet.
  reportTitle: { en: 'Daily session report', ko: '일일 세션 보고서' },
  day: { en: 'Day', ko: '날짜' },
  timeZone: { en: 'Time zone', ko: '시간대' },
  generated: { en: 'Generated', ko: '생성 시각' },
  totals: { en: 'Totals', ko: '합계' },
  sessions: { en: 'Sessions', ko: '세션 수' },
  distinctUsers: { en: 'Distinct users', ko: '사용자 수' },
  failures: { en: 'Failures', ko: '실패 수' },
  peakConcurrent: { en: 'Peak concurrent sessions', ko: '최대 동시 세션 수' },
  averageLogonSeconds: { en: 'Average logon duration (s)', ko: '평균 로그온 시간(초)' },
  byDeliveryGroup: { en: 'By delivery group', ko: '전달 그룹별' },
  noDeliveryGroup: { en: '(no delivery group)', ko: '(전달 그룹 없음)' },
  byHour: { en: 'Peak concurrent sessions by hour', ko: '시간대별 최대 동시 세션 수' },
  hour: { en: 'Hour', ko: '시간' },
  utcOffset: { en: 'UTC offset', ko: 'UTC 오프셋' },
  failuresByReason: { en: 'Failures by reason', ko: '실패 원인별' },
  unknownReason: { en: '(unknown reason)', ko: '(원인 불명)' },
  count: { en: 'Count', ko: '건수' },
} as const satisfies Record<string, Record<Language, string>>;

/** The name of one label. */
export type LabelKey = keyof typeof LABELS;

/** All labels in one language. */
export type Labels = Record<LabelKey, string>;

const cache = new Map<Language, Labels>();

/** The labels of `language`; every key has a value in every language. */
export function labelsFor(language: Language): Labels {
  let labels = cache.get(language);
  if (!labels) {
    labels = {} as Labels;
    for (const key of Object.keys(LABELS) as LabelKey[]) labels[key] = LABELS[key][language];
    cache.set(language, labels);
  }
  return labels;
}
