import { isPermanentFailure } from '../client/issuer-error.js';
import { attachToExecution } from '../execution/local-executions.js';
import { TokenDir } from './token-dir.js';
import { type FileToken, TokenFileWriter } from './token-file-writer.js';

const WRITERS = Symbol.for('workflow-identity.n8n.token-file-writers');
const DIRS = Symbol.for('workflow-identity.n8n.token-dirs');

/** One writer per execution in this process (hooks and node may be different package copies). */
function writers(): Map<string, TokenFileWriter> {
  const holder = globalThis as { [WRITERS]?: Map<string, TokenFileWriter> };
  holder[WRITERS] ??= new Map();
  return holder[WRITERS];
}

/** The operator's directory, checked once per process. */
export function tokenDir(path: string): Promise<TokenDir> {
  const holder = globalThis as { [DIRS]?: Map<string, Promise<TokenDir>> };
  holder[DIRS] ??= new Map();
  let dir = holder[DIRS].get(path);
  if (!dir) {
    dir = TokenDir.open(path);
    // A refused directory is checked again next time (the operator may fix it).
    dir.catch(() => holder[DIRS]?.delete(path));
    holder[DIRS].set(path, dir);
  }
  return dir;
}

/**
 * Keeps `<dir>/<execution id>.jwt` fresh until the execution ends, then removes it. A later
 * request for the same execution (another audience) takes the file over; no execution can
 * name another's file, since the name is its own n8n execution id.
 */
export async function keepExecutionTokenFile(options: {
  dir: string;
  executionId: string;
  mint: () => Promise<FileToken>;
  first?: FileToken;
  onError?: (error: unknown) => void;
}): Promise<string> {
  const dir = await tokenDir(options.dir);
  const { executionId } = options;
  await writers().get(executionId)?.stop({ keepFile: true });
  let pending = options.first;
  const writer = new TokenFileWriter({
    dir,
    executionId,
    // A token the caller already has is the file's first token: one mint, not two.
    mint: async () => {
      const token = pending ?? (await options.mint());
      pending = undefined;
      return token;
    },
    // The request token dies with the execution: then the file goes too.
    isPermanent: isPermanentFailure,
    onError: options.onError,
  });
  writers().set(executionId, writer);
  await writer.start();
  attachToExecution(executionId, {
    stop: async () => {
      if (writers().get(executionId) !== writer) return;
      writers().delete(executionId);
      await writer.stop();
    },
  });
  return writer.path;
}
