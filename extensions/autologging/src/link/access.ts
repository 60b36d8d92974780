import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readAgentInfo } from '../platform/agent-lock.ts';
import { writeFileAtomic } from '../platform/files.ts';
import type { HomePaths } from '../platform/paths.ts';
import type { AgentAccess } from './protocol.ts';

/** The owner-only file holding the running agent's RPC token, beside `agent.json`. */
export function tokenFile(paths: HomePaths): string {
  return path.join(paths.home, 'link.token');
}

/** A fresh random token: 32 bytes, base64url. */
export function newToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/** Writes the token owner-only (0600), replacing the previous agent's. */
export function writeToken(paths: HomePaths, token: string): void {
  writeFileAtomic(tokenFile(paths), token + '\n');
}

/** Removes the token file when it still holds `token` (a newer agent may have replaced it). */
export function removeToken(paths: HomePaths, token: string): void {
  try {
    if (fs.readFileSync(tokenFile(paths), 'utf8').trim() === token) fs.rmSync(tokenFile(paths));
  } catch {
    // Already gone: nothing to remove.
  }
}

/**
 * The running agent's RPC address and token, read from `agent.json` and the token file, or
 * null when no live agent serves one yet.
 */
export function readAccess(paths: HomePaths): AgentAccess | null {
  const info = readAgentInfo(paths);
  if (!info?.address) return null;
  try {
    const token = fs.readFileSync(tokenFile(paths), 'utf8').trim();
    return token ? { address: info.address, token } : null;
  } catch {
    return null;
  }
}

/** Compares two tokens in constant time. */
export function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
