import { randomUUID } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, realpath, rename, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';

/**
 * The one directory token files live in, set by the operator (WFID_TOKEN_FILE_DIR), never
 * by a workflow. Every file in it is named after an execution id alone, written through a
 * fresh O_EXCL|O_NOFOLLOW temporary file and renamed into place (rename replaces a symlink
 * planted under that name, it never follows it), so nothing outside the directory is ever
 * created, replaced or deleted and an execution can only touch its own file.
 */
export class TokenDir {
  private constructor(
    readonly path: string,
    private readonly identity: { dev: number; ino: number },
  ) {}

  /**
   * Checks the directory once: it exists, is a directory and not a symlink, and n8n's own
   * file-access rules (N8N_RESTRICT_FILE_ACCESS_TO, N8N_BLOCK_FILE_ACCESS_TO_N8N_FILES) allow it.
   */
  static async open(path: string, env: NodeJS.ProcessEnv = process.env): Promise<TokenDir> {
    if (!isAbsolute(path)) throw new Error('WFID_TOKEN_FILE_DIR: must be an absolute path');
    let stats: Stats;
    try {
      stats = await lstat(path);
    } catch {
      throw new Error(
        'WFID_TOKEN_FILE_DIR: does not exist (create it, mode 0700, for the n8n user)',
      );
    }
    if (stats.isSymbolicLink() || !stats.isDirectory()) {
      throw new Error('WFID_TOKEN_FILE_DIR: must be a directory, not a symlink');
    }
    const real = await realpath(path);
    const blocked = n8nFileAccessRefusal(real, env);
    if (blocked) throw new Error(`WFID_TOKEN_FILE_DIR: ${blocked}`);
    return new TokenDir(real, { dev: stats.dev, ino: stats.ino });
  }

  /** `<execution id>.jwt`; an id with anything but letters, digits, `_` and `-` is refused. */
  fileFor(executionId: string): string {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(executionId)) {
      throw new Error('token file: the execution id is not a plain name');
    }
    return join(this.path, `${executionId}.jwt`);
  }

  /** Replaces the execution's file atomically (mode 0600). */
  async write(executionId: string, content: string): Promise<string> {
    const target = this.fileFor(executionId);
    await this.#checkStillOurs();
    const temporary = join(this.path, `.${executionId}.${randomUUID()}.tmp`);
    const handle = await open(
      temporary,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    try {
      await rename(temporary, target);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    return target;
  }

  /** Removes the execution's file (unlink never follows a symlink). */
  async remove(executionId: string): Promise<void> {
    const target = this.fileFor(executionId);
    await this.#checkStillOurs();
    const stats = await lstat(target).catch(() => undefined);
    if (stats && !stats.isDirectory()) await unlink(target).catch(() => undefined);
  }

  /** The directory was not swapped for a symlink or another directory since it was checked. */
  async #checkStillOurs(): Promise<void> {
    const stats = await lstat(this.path);
    if (
      stats.isSymbolicLink() ||
      !stats.isDirectory() ||
      stats.dev !== this.identity.dev ||
      stats.ino !== this.identity.ino
    ) {
      throw new Error('WFID_TOKEN_FILE_DIR: the directory changed since n8n started; not writing');
    }
  }
}

/**
 * n8n's rules for files nodes may touch (n8n-core isFilePathBlocked): inside one of
 * N8N_RESTRICT_FILE_ACCESS_TO when set, and, unless N8N_BLOCK_FILE_ACCESS_TO_N8N_FILES=false,
 * outside n8n's own folder, static cache, config files, custom extensions, binary data and
 * e-mail templates.
 */
export function n8nFileAccessRefusal(path: string, env: NodeJS.ProcessEnv): string | undefined {
  const home = (value: string) => (value.startsWith('~') ? value.replace('~', homedir()) : value);
  if (env.N8N_BLOCK_FILE_ACCESS_TO_N8N_FILES !== 'false') {
    const userFolder = env.N8N_USER_FOLDER || homedir();
    const restricted = [
      join(userFolder, '.n8n'),
      join(homedir(), '.cache', 'n8n', 'public'),
      ...(env.N8N_CONFIG_FILES?.split(',') ?? []),
      ...(env.N8N_CUSTOM_EXTENSIONS?.split(';') ?? []),
      env.N8N_BINARY_DATA_STORAGE_PATH,
      env.N8N_UM_EMAIL_TEMPLATES_INVITE,
      env.N8N_UM_EMAIL_TEMPLATES_PWRESET,
    ].filter((item): item is string => Boolean(item?.trim()));
    if (restricted.some((item) => within(resolve(home(item.trim())), path))) {
      return 'inside n8n’s own files (N8N_BLOCK_FILE_ACCESS_TO_N8N_FILES)';
    }
  }
  const allowed = (env.N8N_RESTRICT_FILE_ACCESS_TO ?? '')
    .split(';')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => resolve(home(item)));
  if (allowed.length > 0 && !allowed.some((item) => within(item, path))) {
    return 'outside N8N_RESTRICT_FILE_ACCESS_TO';
  }
  return undefined;
}

function within(parent: string, path: string): boolean {
  const rel = relative(parent, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}
