import { type Clock, systemClock } from './clock.js';
import type { TokenDir } from './token-dir.js';

/** A token and the instant (epoch ms) it stops being valid. */
export interface FileToken {
  value: string;
  expiresAtMs: number;
}

export interface TokenFileWriterOptions {
  /** The operator's token directory (WFID_TOKEN_FILE_DIR). */
  dir: TokenDir;
  /** The file is `<dir>/<execution id>.jwt`: named by n8n's execution id alone. */
  executionId: string;
  /** Gets a fresh token; called at start and before each expiry. */
  mint: () => Promise<FileToken>;
  /**
   * Refresh once this share of a token's remaining lifetime has passed (default 2/3), so a
   * reader always finds a token with at least a third of its lifetime left.
   */
  refreshAfter?: number;
  /** First retry delay after a failed refresh (default 1 s, doubling, capped at 30 s). */
  retryMs?: number;
  /** A failure that retrying cannot fix (the execution ended): stop and remove the file. */
  isPermanent?: (error: unknown) => boolean;
  onError?: (error: unknown) => void;
  clock?: Clock;
}

const MAX_RETRY_MS = 30_000;

/**
 * Keeps a file holding a valid identity token for as long as it runs, for SDKs that read
 * web identity tokens from files (AWS SDKs, Google external-account credentials).
 * The file is replaced atomically (write + rename, mode 0600, TokenDir), so a reader never
 * sees half a token.
 *
 * @example
 * const dir = await TokenDir.open('/run/wfid');
 * const writer = new TokenFileWriter({ dir, executionId: '42', mint: () => mintFor('sts.amazonaws.com') });
 * await writer.start();       // first token written before the workflow goes on
 * await writer.stop();        // at the end of the execution: timer cleared, file removed
 */
export class TokenFileWriter {
  readonly path: string;
  readonly #options: TokenFileWriterOptions;
  readonly #clock: Clock;
  #timer: unknown;
  #stopped = false;
  #failures = 0;
  #current?: FileToken;

  constructor(options: TokenFileWriterOptions) {
    const refreshAfter = options.refreshAfter ?? 2 / 3;
    if (!(refreshAfter > 0 && refreshAfter < 1)) {
      throw new RangeError('TokenFileWriter: refreshAfter must be between 0 and 1');
    }
    this.path = options.dir.fileFor(options.executionId);
    this.#options = { ...options, refreshAfter };
    this.#clock = options.clock ?? systemClock;
  }

  /** The token last written, if any. */
  get current(): FileToken | undefined {
    return this.#current;
  }

  get running(): boolean {
    return !this.#stopped;
  }

  /** Writes the first token (errors propagate) and schedules its refresh. */
  async start(): Promise<void> {
    await this.#refresh();
  }

  /** Stops refreshing; removes the file unless told to keep it. */
  async stop(options: { keepFile?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!options.keepFile) await this.#options.dir.remove(this.#options.executionId);
  }

  async #refresh(): Promise<void> {
    const token = await this.#options.mint();
    if (this.#stopped) return;
    await this.#options.dir.write(this.#options.executionId, token.value);
    this.#current = token;
    this.#failures = 0;
    const remaining = token.expiresAtMs - this.#clock.now();
    this.#schedule(Math.max(0, remaining * this.#options.refreshAfter!));
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => void this.#tick(), delayMs);
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    try {
      await this.#refresh();
    } catch (error) {
      this.#options.onError?.(error);
      if (this.#options.isPermanent?.(error)) {
        await this.stop();
        return;
      }
      this.#failures++;
      const backoff = (this.#options.retryMs ?? 1_000) * 2 ** (this.#failures - 1);
      // Retrying past the current token's expiry still makes sense: the next success repairs
      // the file. Until then the SDK sees an expired token and fails clearly.
      this.#schedule(Math.min(backoff, MAX_RETRY_MS));
    }
  }
}

/** The issuer answers `expires_at` in epoch seconds (JWT `exp`); accept an ISO string too. */
export function expiresAtToMs(expiresAt: number | string): number {
  return typeof expiresAt === 'number' ? expiresAt * 1000 : Date.parse(expiresAt);
}
