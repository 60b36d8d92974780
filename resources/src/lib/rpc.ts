import type {
  AgentAccess,
  RpcError,
  RpcResponse,
} from '../../../extensions/autologging/src/link/protocol.ts';

/** A failed call, with the agent's stable code and, for settings, the problems per field. */
export class AgentError extends Error {
  readonly code: string;
  readonly problems: NonNullable<RpcError['problems']>;

  constructor(error: RpcError) {
    super(error.message);
    this.name = 'AgentError';
    this.code = error.code;
    this.problems = error.problems ?? [];
  }
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/**
 * The window's connection to the agent: one WebSocket, requests matched to answers by id.
 * When the socket drops, pending calls fail with `EDISCONNECTED` and it reconnects after a
 * pause; `onState` hears every change.
 */
export class AgentClient {
  #access: AgentAccess;
  #socket: WebSocket | null = null;
  #next = 1;
  #pending = new Map<number, Pending>();
  #opened: Promise<void> | null = null;
  #closed = false;
  onState: (state: 'connecting' | 'open' | 'closed') => void = () => {};

  constructor(access: AgentAccess) {
    this.#access = access;
  }

  /** Calls `method` with `params`; rejects with `AgentError`. */
  async call<T = unknown>(method: string, params?: unknown): Promise<T> {
    await this.#open();
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#socket!.send(
        JSON.stringify({ id, method, ...(params === undefined ? {} : { params }) }),
      );
    });
  }

  /** Closes the connection for good. */
  close(): void {
    this.#closed = true;
    this.#socket?.close();
  }

  #open(): Promise<void> {
    if (this.#opened) return this.#opened;
    this.onState('connecting');
    const url = `${this.#access.address}?token=${encodeURIComponent(this.#access.token)}`;
    const socket = new WebSocket(url);
    this.#socket = socket;
    this.#opened = new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => {
        this.onState('open');
        resolve();
      });
      socket.addEventListener('message', (event) => this.#receive(String(event.data)));
      socket.addEventListener('close', () => {
        this.#opened = null;
        this.#socket = null;
        for (const [, p] of this.#pending) {
          p.reject(
            new AgentError({ code: 'EDISCONNECTED', message: 'the agent is not reachable' }),
          );
        }
        this.#pending.clear();
        this.onState('closed');
        reject(new AgentError({ code: 'EDISCONNECTED', message: 'the agent is not reachable' }));
      });
    });
    return this.#opened;
  }

  #receive(text: string): void {
    let response: RpcResponse;
    try {
      response = JSON.parse(text) as RpcResponse;
    } catch {
      return;
    }
    if (typeof response.id !== 'number') return;
    const pending = this.#pending.get(response.id);
    if (!pending) return;
    this.#pending.delete(response.id);
    if ('error' in response) pending.reject(new AgentError(response.error));
    else pending.resolve(response.result);
  }
}
