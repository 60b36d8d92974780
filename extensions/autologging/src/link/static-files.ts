import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { isSea } from 'node:sea';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

/**
 * Where the built window is: `AUTOLOGGING_WINDOW_DIR`, else `resources/dist` of the checkout
 * the running `autologging` command belongs to (`extensions/autologging/bin/` → repository
 * root), else `resources/dist` beside the entry (a single executable's entry is the executable
 * itself, whose `argv[1]` may be a bare name found on PATH), else null when it has not been built.
 */
export function findWindowDir(
  env: NodeJS.ProcessEnv = process.env,
  entry: string | undefined = isSea() ? process.execPath : process.argv[1],
): string | null {
  const candidates = [
    env.AUTOLOGGING_WINDOW_DIR,
    entry ? path.resolve(path.dirname(entry), '..', '..', '..', 'resources', 'dist') : undefined,
    entry ? path.resolve(path.dirname(entry), 'resources', 'dist') : undefined,
  ];
  for (const dir of candidates) {
    if (dir && fs.existsSync(path.join(dir, 'index.html'))) return dir;
  }
  return null;
}

/**
 * Answers a GET or HEAD for a file of the built window in `root`: `/` is `index.html`; a
 * path leaving `root` or naming a missing file is 404. Neutralino's globals script, which the
 * page loads first, is answered empty: in browser mode there is no runtime.
 */
export function serveWindowFile(
  root: string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  headers: Record<string, string>,
): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
    return;
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
  } catch {
    res.writeHead(400, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end('bad path');
    return;
  }
  if (pathname === '/__neutralino_globals.js') {
    res.writeHead(200, { ...headers, 'Content-Type': TYPES['.js']! });
    res.end(req.method === 'HEAD' ? undefined : '// browser mode: no Neutralino runtime\n');
    return;
  }
  const relative = pathname === '/' ? 'index.html' : pathname.replace(/^\/+/, '');
  const file = path.resolve(root, relative);
  if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    res
      .writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' })
      .end('not found');
    return;
  }
  const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
  const cache = relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
  res.writeHead(200, { ...headers, 'Content-Type': type, 'Cache-Control': cache });
  if (req.method === 'HEAD') res.end();
  else fs.createReadStream(file).pipe(res);
}
