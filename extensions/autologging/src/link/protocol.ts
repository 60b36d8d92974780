/**
 * The messages of the agent's RPC surface (JSON over WebSocket), shared by the agent, the
 * window (type-only imports) and tests. A client sends requests and receives one response
 * for each, matched by `id`; requests may overlap.
 *
 * @example
 * → { "id": 1, "method": "schedule.preview", "params": { "cron": "0 * * * *" } }
 * ← { "id": 1, "result": { "timeZone": "Asia/Seoul", "runs": [1764810000000, ...] } }
 * ← { "id": 2, "error": { "code": "EPARAMS", "message": "cron: must be text" } }
 */

/** What a client sends. */
export interface RpcRequest {
  id: string | number;
  method: string;
  params?: unknown;
}

/** A failed request: a stable code, a message, and the settings problems when there are. */
export interface RpcError {
  code: string;
  message: string;
  /** For `settings.save`: every problem, each naming the setting it concerns. */
  problems?: Array<{ path: string; message: string; code?: string }>;
}

/** What the agent answers. `id` is null when the request could not be read at all. */
export type RpcResponse =
  { id: string | number | null; result: unknown } | { id: string | number | null; error: RpcError };

/** The WebSocket path of the RPC surface on the agent's port. */
export const RPC_PATH = '/rpc';

/** The event the Neutralino extension broadcasts to the window with the agent's address. */
export const AGENT_EVENT = 'autologging.agent';

/** The event the window dispatches to the extension to ask for the address again. */
export const HELLO_EVENT = 'autologging.hello';

/** What the extension hands the window. */
export interface AgentAccess {
  /** `ws://127.0.0.1:PORT/rpc`. */
  address: string;
  token: string;
}

/** One hour or one day of a chart. */
export interface ChartPoint {
  /** Start of the bucket, epoch ms. */
  at: number;
  value: number;
}

/** What `report.overview` returns. Users appear only as pseudonyms or counts. */
export interface Overview {
  agent: { running: boolean; pid: number; startedAt: number | null; version: string };
  timeZone: string;
  today: string;
  firstRun: boolean;
  jobs: Array<{
    job: string;
    next: number | null;
    last: {
      startedAt: number;
      outcome: string;
      errorCode: string | null;
      recordsNew: number;
    } | null;
  }>;
  todaySessions: number;
  todayUsers: number;
  /** Sessions open during each hour of the last 7 days. */
  concurrent7: ChartPoint[];
  /** Sessions open during each hour of the last 30 days. */
  concurrent30: ChartPoint[];
  /** Sessions started on each of the last 30 days. */
  logonsPerDay: ChartPoint[];
  failures: Array<{
    at: number;
    kind: 'run' | 'session';
    /** The job, or the machine of a failed session. */
    what: string;
    code: string;
    message: string;
    /** A failed session's user, as a pseudonym. */
    user?: string;
  }>;
  records: { sessions: number; events: number; hostLoad: number; runs: number };
}
