import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as OTPAuth from 'otpauth';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import { CryptoError } from '../errors.ts';
import { writeFileAtomic } from '../platform/files.ts';
import type { AuditLog } from './audit.ts';

/** What `OtpGuard.setup` hands the person setting it up, once. */
export interface OtpEnrolment {
  /** The `otpauth://totp/...` URI an authenticator app takes (also as a QR code). */
  uri: string;
  /** The shared secret in base32, for typing in by hand. */
  secret: string;
  /** One-time recovery codes, each good once; only their keyed hashes are kept. */
  recoveryCodes: string[];
}

/** What `OtpGuard.status` reports. */
export interface OtpStatus {
  enabled: boolean;
  recoveryCodesLeft: number;
  /** Wrong codes in the current window. */
  recentFailures: number;
  /** Until when codes are refused after too many wrong ones (epoch ms), or null. */
  lockedUntil: number | null;
}

/** Options of `OtpGuard.open`. */
export interface OtpOptions {
  /** Where wrong codes and lock-outs are written. */
  audit: AuditLog;
  now?: () => number;
  /** Wrong codes allowed per window before codes are refused. Default 5. */
  maxFailures?: number;
  /** The window, in ms. Default 5 minutes. */
  windowMs?: number;
}

interface OtpFile {
  format: 'autologging-otp';
  version: 1;
  enabled: boolean;
  /** The TOTP secret (base32), sealed with the data key under the name `otp.totp`. */
  sealedSecret: string | null;
  /** Keyed hashes of the recovery codes not used yet. */
  recoveryHashes: string[];
  /** When wrong codes were given, within the window. */
  failures: number[];
  /** The last TOTP time step accepted: a code is good once. */
  lastStep: number;
}

const FILE = 'otp.json';
const PERIOD_S = 30;
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/**
 * One-time codes (TOTP, RFC 6238: 6 digits, 30 s, SHA-1, what every authenticator app reads)
 * guarding decryption when switched on; off until `setup`. State lives in `otp.json` in the
 * data folder: the secret sealed with the data key, recovery codes as keyed hashes, and the
 * recent wrong codes, so the rate limit survives restarts.
 */
export class OtpGuard {
  readonly file: string;
  readonly #cipher: FieldCipher;
  readonly #audit: AuditLog;
  readonly #now: () => number;
  readonly #maxFailures: number;
  readonly #windowMs: number;
  #state: OtpFile;

  private constructor(file: string, cipher: FieldCipher, state: OtpFile, options: OtpOptions) {
    this.file = file;
    this.#cipher = cipher;
    this.#state = state;
    this.#audit = options.audit;
    this.#now = options.now ?? Date.now;
    this.#maxFailures = options.maxFailures ?? 5;
    this.#windowMs = options.windowMs ?? 5 * 60_000;
  }

  /** Opens the OTP state of data folder `home` (off when there is none). Throws `EOTPFILE`. */
  static open(home: string, cipher: FieldCipher, options: OtpOptions): OtpGuard {
    const file = path.join(home, FILE);
    let state: OtpFile = {
      format: 'autologging-otp',
      version: 1,
      enabled: false,
      sealedSecret: null,
      recoveryHashes: [],
      failures: [],
      lastStep: 0,
    };
    if (fs.existsSync(file)) {
      try {
        state = JSON.parse(fs.readFileSync(file, 'utf8')) as OtpFile;
      } catch (error) {
        throw new CryptoError('EOTPFILE', `${file} cannot be read`, { cause: error });
      }
      if (state?.format !== 'autologging-otp') {
        throw new CryptoError('EOTPFILE', `${file} is not an AutoLogging OTP file`);
      }
    }
    return new OtpGuard(file, cipher, state, options);
  }

  /** True when codes are required. */
  get enabled(): boolean {
    return this.#state.enabled;
  }

  /** Whether OTP is on, recovery codes left, and any lock-out. */
  status(): OtpStatus {
    const recent = this.#recentFailures();
    return {
      enabled: this.#state.enabled,
      recoveryCodesLeft: this.#state.recoveryHashes.length,
      recentFailures: recent.length,
      lockedUntil: recent.length >= this.#maxFailures ? recent[0]! + this.#windowMs : null,
    };
  }

  /**
   * Makes a new secret and 10 recovery codes, switches OTP on and returns them: shown once,
   * never again. Replaces an earlier set-up (the caller checks a code first when one is on).
   */
  setup(label: string, issuer = 'AutoLogging'): OtpEnrolment {
    const secret = new OTPAuth.Secret({ size: 20 });
    const totp = new OTPAuth.TOTP({ issuer, label, secret, digits: 6, period: PERIOD_S });
    const recoveryCodes = Array.from({ length: 10 }, () => recoveryCode());
    this.#state = {
      ...this.#state,
      enabled: true,
      sealedSecret: Buffer.from(this.#cipher.sealSecret('otp.totp', secret.base32)).toString(
        'base64',
      ),
      recoveryHashes: recoveryCodes.map((c) => this.#hash(c)),
      failures: [],
      lastStep: 0,
    };
    this.#save();
    return { uri: totp.toString(), secret: secret.base32, recoveryCodes };
  }

  /**
   * Checks `code` (6 digits, or a recovery code, which is then used up) for `purpose`, done
   * by `actor`. Does nothing when OTP is off. A wrong code is counted and audited; after
   * `maxFailures` wrong codes in the window every code is refused until the window has moved
   * on. Throws `CryptoError`: `EOTPREQUIRED` without a code, `EOTP` for a wrong one,
   * `EOTPLOCKED` while locked. A TOTP code is accepted once.
   */
  verify(code: string | undefined, context: { actor: string; purpose: string }): void {
    if (!this.#state.enabled) return;
    if (code === undefined || code.trim() === '') {
      throw new CryptoError('EOTPREQUIRED', `${context.purpose} needs a one-time code: give --otp`);
    }
    const status = this.status();
    if (status.lockedUntil !== null) {
      this.#audit.audit({
        action: 'otp-locked',
        actor: context.actor,
        subject: context.purpose,
        detail: `refused: ${status.recentFailures} wrong codes within ${this.#windowMs / 1000} s`,
      });
      throw new CryptoError(
        'EOTPLOCKED',
        `too many wrong one-time codes: try again after ${new Date(status.lockedUntil).toISOString()}`,
      );
    }
    if (this.#accept(code.trim())) return;

    this.#state.failures = [...this.#recentFailures(), this.#now()];
    this.#save();
    this.#audit.audit({
      action: 'otp-failed',
      actor: context.actor,
      subject: context.purpose,
      detail: `wrong one-time code (${this.#state.failures.length} within the window)`,
    });
    throw new CryptoError('EOTP', 'the one-time code is not valid');
  }

  /** Switches OTP off and forgets its secret and recovery codes. */
  disable(): void {
    this.#state = {
      ...this.#state,
      enabled: false,
      sealedSecret: null,
      recoveryHashes: [],
      failures: [],
    };
    this.#save();
  }

  #accept(code: string): boolean {
    if (/^\d{6}$/.test(code)) {
      const secret = this.#cipher.openSecret(
        'otp.totp',
        Buffer.from(this.#state.sealedSecret ?? '', 'base64'),
      );
      const totp = new OTPAuth.TOTP({
        secret: OTPAuth.Secret.fromBase32(secret),
        digits: 6,
        period: PERIOD_S,
      });
      const now = this.#now();
      const delta = totp.validate({ token: code, timestamp: now, window: 1 });
      if (delta === null) return false;
      const step = Math.floor(now / 1000 / PERIOD_S) + delta;
      if (step <= this.#state.lastStep) return false;
      this.#state.lastStep = step;
      this.#state.failures = [];
      this.#save();
      return true;
    }
    const hash = this.#hash(code);
    const at = this.#state.recoveryHashes.indexOf(hash);
    if (at < 0) return false;
    this.#state.recoveryHashes.splice(at, 1);
    this.#state.failures = [];
    this.#save();
    return true;
  }

  #recentFailures(): number[] {
    const since = this.#now() - this.#windowMs;
    return this.#state.failures.filter((t) => t > since);
  }

  #hash(code: string): string {
    return this.#cipher.fingerprint(`otp-recovery\0${code.toLowerCase().replace(/-/g, '')}`);
  }

  #save(): void {
    writeFileAtomic(this.file, JSON.stringify(this.#state, null, 2) + '\n');
  }
}

/** A recovery code such as `k3fp-9xqa`: 8 characters, 39 bits, no look-alike letters. */
function recoveryCode(): string {
  const bytes = crypto.randomBytes(8);
  const chars = [...bytes].map((b) => RECOVERY_ALPHABET[b % RECOVERY_ALPHABET.length]!);
  return `${chars.slice(0, 4).join('')}-${chars.slice(4).join('')}`;
}
