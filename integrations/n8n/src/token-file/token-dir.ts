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
   * Checks the directory once: it exists, is a directory and not a symlink, and n8n's file
   * nodes cannot read it (readableByN8nFileNodes): otherwise any workflow's Read/Write Files
   * node could read every running execution's token.
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
    if (readableByN8nFileNodes(real, env)) {
      throw new Error(
        'WFID_TOKEN_FILE_DIR: n8n’s file nodes (Read/Write Files from Disk) can read it, so every workflow could read every running execution’s token; choose a directory outside N8N_RESTRICT_FILE_ACCESS_TO (default ~/.n8n-files), inside n8n’s own folder, or matched by N8N_BLOCK_FILE_PATTERNS',
      );
    }
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

/** n8n's default N8N_BLOCK_FILE_PATTERNS (SecurityConfig): anything under a `.git` folder. */
const DEFAULT_BLOCK_FILE_PATTERNS = '^(?:[^/]*/)*\\.git(?:/.*)?$';

/**
 * Whether n8n's file nodes could read a file in `path`, by n8n's own rules (n8n-core
 * isFilePathBlocked): not when it lies in n8n's own files (unless
 * N8N_BLOCK_FILE_ACCESS_TO_N8N_FILES=false) or matches N8N_BLOCK_FILE_PATTERNS; otherwise
 * when N8N_RESTRICT_FILE_ACCESS_TO (default `~/.n8n-files`; empty: everywhere) contains it.
 */
export function readableByN8nFileNodes(path: string, env: NodeJS.ProcessEnv): boolean {
  const home = (value: string) => (value.startsWith('~') ? value.replace('~', homedir()) : value);
  const file = join(path, 'execution.jwt');
  if (env.N8N_BLOCK_FILE_ACCESS_TO_N8N_FILES !== 'false') {
    const userFolder = env.N8N_USER_FOLDER || homedir();
    const n8nFiles = [
      join(userFolder, '.n8n'),
      join(homedir(), '.cache', 'n8n', 'public'),
      ...(env.N8N_CONFIG_FILES?.split(',') ?? []),
      ...(env.N8N_CUSTOM_EXTENSIONS?.split(';') ?? []),
      env.N8N_BINARY_DATA_STORAGE_PATH,
      env.N8N_UM_EMAIL_TEMPLATES_INVITE,
      env.N8N_UM_EMAIL_TEMPLATES_PWRESET,
    ].filter((item): item is string => Boolean(item?.trim()));
    if (n8nFiles.some((item) => within(resolve(home(item.trim())), file))) return false;
  }
  const patterns = (env.N8N_BLOCK_FILE_PATTERNS ?? DEFAULT_BLOCK_FILE_PATTERNS)
    .split(';')
    .map((item) => item.trim())
    .filter(Boolean);
  const blockedByPattern = patterns.some((pattern) => {
    try {
      return new RegExp(pattern, 'mi').test(file);
    } catch {
      return true; // n8n blocks everything for a pattern it cannot compile
    }
  });
  if (blockedByPattern) return false;
  const allowed = (env.N8N_RESTRICT_FILE_ACCESS_TO ?? '~/.n8n-files')
    .split(';')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => resolve(home(item)));
  return allowed.length === 0 || allowed.some((item) => within(item, file));
}

function within(parent: string, path: string): boolean {
  const rel = relative(parent, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}
