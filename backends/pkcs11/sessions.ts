import type { Logger } from 'pino';
import { WfidError } from '../../src/errors.js';
import { ckrName, isCkr, type Module, type Pkcs11Sdk } from './library.js';

type Session = Buffer;

/** Errors after which the sessions (and the login) are gone: open new ones and log in again. */
const RECONNECT = [
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
];

export interface SessionPoolOptions {
  sdk: Pkcs11Sdk;
  module: Module;
  /** Token label and optional serial number, as in the key URI. */
  token: string;
  serial?: string;
  pin: string;
  size: number;
  logger: Logger;
}

/** A borrowed session and the generation it belongs to (fixed when it is handed out). */
interface Lease {
  session: Session;
  generation: number;
}

interface Waiter {
  resolve: (lease: Lease) => void;
  reject: (err: unknown) => void;
}

/**
 * A few read-write sessions on one token, logged in once (the login belongs to the token, not
 * to a session). A PKCS#11 session runs one operation at a time, so each caller borrows a
 * whole session. When the token drops the sessions or the login, the pool reconnects once and
 * the caller's operation is retried.
 */
export class SessionPool {
  /** Bumped on every reconnect: sessions and object handles of an older generation are dead. */
  generation = 0;
  private idle: Session[] = [];
  /** Handles (hex) of the current generation's sessions, idle or borrowed. */
  private current = new Set<string>();
  private readonly waiting: Waiter[] = [];
  private closed = false;

  constructor(private readonly options: SessionPoolOptions) {}

  /** First connection: failures are configuration errors that name the token. */
  async open(): Promise<void> {
    this.connect('start');
  }

  /** Runs `operation` on a borrowed session, reconnecting and retrying once if the token dropped it. */
  async run<T>(operation: (session: Session) => T | Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const lease = await this.acquire();
      try {
        return await operation(lease.session);
      } catch (err) {
        if (attempt > 0 || !isCkr(err, ...RECONNECT)) throw err;
        this.options.logger.warn(
          { token: this.options.token, reason: ckrName(err) },
          'PKCS#11 session lost; reconnecting',
        );
        this.reconnect(lease.generation);
      } finally {
        this.release(lease);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) {
      waiter.reject(new WfidError('ERR_BACKEND_UNAVAILABLE', 'the pkcs11 backend is closed'));
    }
    this.closeSessions();
  }

  private async acquire(): Promise<Lease> {
    if (this.closed) throw new WfidError('ERR_BACKEND_UNAVAILABLE', 'the pkcs11 backend is closed');
    const session = this.idle.pop();
    if (session) return { session, generation: this.generation };
    if (this.current.size === 0) {
      // Every session died with a failed reconnect: try again now rather than wait forever.
      this.reconnect(this.generation);
      return this.acquire();
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release({ session, generation }: Lease): void {
    if (this.closed) {
      closeQuietly(this.options.module, session);
      return;
    }
    if (generation !== this.generation) {
      // A session that outlived its generation (e.g. the login was lost, not the session).
      // A module may reuse handle numbers: never close one that now names a new session.
      if (!this.current.has(session.toString('hex'))) closeQuietly(this.options.module, session);
      return;
    }
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve({ session, generation });
    else this.idle.push(session);
  }

  /**
   * Replaces every session of a dead generation. It runs synchronously (PKCS#11 calls are
   * synchronous), so concurrent callers cannot start two: the later ones see the new generation.
   */
  private reconnect(seen: number): void {
    if (this.generation !== seen) return;
    this.closeSessions();
    this.generation++;
    try {
      this.connect('reconnect');
    } catch (err) {
      for (const waiter of this.waiting.splice(0)) waiter.reject(err);
      throw err;
    }
    for (const waiter of this.waiting.splice(0, this.idle.length)) {
      waiter.resolve({ session: this.idle.pop()!, generation: this.generation });
    }
  }

  private connect(phase: 'start' | 'reconnect'): void {
    const { sdk, module, size, pin, token } = this.options;
    const fail = (why: string, cause?: unknown): WfidError =>
      phase === 'start'
        ? new WfidError('ERR_CONFIG', `keys: ${why}`, { cause })
        : new WfidError('ERR_BACKEND_UNAVAILABLE', `pkcs11: ${why}`, { cause, retryAfter: 5 });
    const slot = this.findSlot(fail);
    const opened: Session[] = [];
    try {
      for (let i = 0; i < size; i++)
        opened.push(module.C_OpenSession(slot, sdk.CKF_SERIAL_SESSION | sdk.CKF_RW_SESSION));
      try {
        module.C_Login(opened[0]!, sdk.CKU_USER, pin);
      } catch (err) {
        // Another backend in this process already logged the token in: the login is shared.
        if (!isCkr(err, 'CKR_USER_ALREADY_LOGGED_IN')) throw err;
      }
    } catch (err) {
      for (const session of opened) closeQuietly(module, session);
      if (isCkr(err, 'CKR_PIN_INCORRECT')) throw fail(`PIN rejected by token "${token}"`);
      if (isCkr(err, 'CKR_PIN_LOCKED'))
        throw fail(
          `the user PIN of token "${token}" is locked; the security officer must reset it`,
        );
      if (isCkr(err, 'CKR_PIN_EXPIRED')) throw fail(`the user PIN of token "${token}" has expired`);
      throw fail(`cannot open a logged-in session on token "${token}": ${ckrName(err)}`, err);
    }
    this.idle = opened;
    this.current = new Set(opened.map((session) => session.toString('hex')));
  }

  private findSlot(fail: (why: string, cause?: unknown) => WfidError): Buffer {
    const { module, token, serial } = this.options;
    const labels: string[] = [];
    let slots: Buffer[];
    try {
      slots = module.C_GetSlotList(true);
    } catch (err) {
      throw fail(`cannot list PKCS#11 slots: ${ckrName(err)}`, err);
    }
    for (const slot of slots) {
      const info = module.C_GetTokenInfo(slot);
      // Token labels and serials are blank-padded fixed-size fields.
      const label = info.label.trimEnd();
      labels.push(label);
      if (label === token && (serial === undefined || info.serialNumber.trimEnd() === serial))
        return slot;
    }
    const present = labels.length > 0 ? labels.map((label) => `"${label}"`).join(', ') : 'none';
    const which = serial === undefined ? `"${token}"` : `"${token}" with serial ${serial}`;
    throw fail(`no PKCS#11 token labelled ${which} (tokens present: ${present})`);
  }

  private closeSessions(): void {
    for (const session of this.idle.splice(0)) closeQuietly(this.options.module, session);
    this.current.clear();
    // Borrowed sessions are closed when returned (release sees the old generation);
    // C_CloseAllSessions is not used: it would also close other users' sessions in the process.
  }
}

function closeQuietly(module: Module, session: Session): void {
  try {
    module.C_CloseSession(session);
  } catch {
    // Already gone with the token or a C_CloseAllSessions: nothing left to close.
  }
}
