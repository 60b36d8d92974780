import {
  AGENT_EVENT,
  HELLO_EVENT,
  RPC_PATH,
  type AgentAccess,
} from '../../../extensions/autologging/src/link/protocol.ts';

/** The Neutralino extension that hands the window the agent (neutralino.config.json). */
const EXTENSION_ID = 'kr.startlogging.autologging';

declare global {
  interface Window {
    NL_PORT?: number;
    NL_TOKEN?: string;
    NL_OS?: string;
  }
}

/** True when the page runs inside Neutralino (its globals are injected), not a plain browser. */
export function underNeutralino(): boolean {
  return typeof window.NL_PORT === 'number' || typeof window.NL_PORT === 'string';
}

/**
 * Where the agent is and its token. In browser mode the agent served this page: the address is
 * this page's host and the token sits in the URL fragment (`#token=…`), which is then removed
 * from the address bar. Under Neutralino the extension broadcasts both; the window asks for
 * them so that it does not depend on who connected first.
 */
export async function findAgent(): Promise<AgentAccess> {
  if (underNeutralino()) return fromNeutralino();
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = fragment.get('token') ?? sessionStorage.getItem('autologging.token');
  if (!token) throw new Error('ENOTOKEN');
  sessionStorage.setItem('autologging.token', token);
  history.replaceState(null, '', location.pathname + location.search);
  return { address: `ws://${location.host}${RPC_PATH}`, token };
}

async function fromNeutralino(): Promise<AgentAccess> {
  const neutralino = await import('@neutralinojs/lib');
  neutralino.init();
  return new Promise<AgentAccess>((resolve) => {
    void neutralino.events.on(AGENT_EVENT, (event: CustomEvent<AgentAccess>) =>
      resolve(event.detail),
    );
    // Queued by the client library until the extension has connected.
    void neutralino.extensions.dispatch(EXTENSION_ID, HELLO_EVENT, {});
  });
}

/**
 * Opens `folder` with the system's file manager: through Neutralino's `os.open` when running
 * under it, else returns false so the caller asks the agent (`excel.openFolder`).
 */
export async function openWithRuntime(folder: string): Promise<boolean> {
  if (!underNeutralino()) return false;
  const neutralino = await import('@neutralinojs/lib');
  const url = folder.startsWith('/') ? `file://${folder}` : `file:///${folder.replace(/\\/g, '/')}`;
  await neutralino.os.open(url);
  return true;
}
