/**
 * Runs a guide from its Markdown: every fenced block whose info string is `sh runnable` (or
 * `bash runnable`), in order, as one bash script, so the commands a reader copies are the ones
 * that run. The runner adds only a prelude: `set -euo pipefail`, a trap naming the failing command,
 * and the environment the test gives (PATH, ports, temp dirs, the peers' addresses), which each
 * guide reads through variables with defaults. A guide that drifts from the product fails.
 *
 * Blocks run in one bash process started in its own process group; whatever a guide leaves
 * running in the background (an issuer, `npm start &`) is ended with that group afterwards.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface Block {
  /** 1-based line of the block's first command in the Markdown file. */
  line: number;
  code: string;
}

const FENCE = /^( *)(`{3,})(sh|bash) +runnable *$/;

/** The runnable blocks of a Markdown text, indentation of list items removed. */
export function runnableBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let index = 0; index < lines.length; index++) {
    const open = FENCE.exec(lines[index]!);
    if (!open) continue;
    const [, indent, fence] = open;
    const body: string[] = [];
    let end = index + 1;
    while (end < lines.length && lines[end]!.trim() !== fence) {
      body.push(lines[end]!.startsWith(indent!) ? lines[end]!.slice(indent!.length) : lines[end]!);
      end++;
    }
    if (end === lines.length) throw new Error(`unclosed runnable block at line ${index + 1}`);
    blocks.push({ line: index + 2, code: body.join('\n') });
    index = end;
  }
  return blocks;
}

export interface GuideRun {
  code: number | null;
  output: string;
  /** `file:line` of the command that failed, when one did (`file` as given). */
  failedAt?: string;
}

/**
 * Runs the runnable blocks of `file` (relative to the repository) in one bash session with
 * `env` exported first. `dir` is a scratch directory for the script and its output.
 */
export async function runGuide(
  file: string,
  options: { env: Record<string, string>; dir: string; cwd?: string; timeoutMs: number },
): Promise<GuideRun> {
  const path = resolve(ROOT, file);
  const blocks = runnableBlocks(await readFile(path, 'utf8'));
  if (blocks.length === 0) throw new Error(`${file} has no runnable blocks`);

  const prelude = [
    ...Object.entries(options.env).map(([name, value]) => `export ${name}=${quote(value)}`),
    // pipefail: `curl -sf … | jq -e …` must fail when curl does (jq -e passes on empty input).
    'set -euo pipefail',
    `trap 'echo "docs runner: \\"$BASH_COMMAND\\" failed (exit $?) at script line $LINENO" >&2' ERR`,
  ];
  // Script line → Markdown line, to name the failing command in the guide.
  const origin = new Map<number, number>();
  const script = [...prelude];
  for (const block of blocks) {
    script.push(`# ---- ${file}:${block.line}`);
    block.code.split('\n').forEach((text, offset) => {
      script.push(text);
      origin.set(script.length, block.line + offset);
    });
  }
  const scriptPath = join(options.dir, 'guide.sh');
  await writeFile(scriptPath, `${script.join('\n')}\n`);

  const child = spawn('bash', ['--noprofile', '--norc', scriptPath], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LANG: 'C.UTF-8' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const timer = setTimeout(() => void endGroup(child.pid!), options.timeoutMs);
  // 'exit', not 'close': a background process the guide started may still hold the pipes.
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  clearTimeout(timer);
  await endGroup(child.pid!);

  // The trap's line, or bash's own for an unbound variable (set -u exits without the trap).
  const failedLine =
    /docs runner: .* at script line (\d+)/.exec(output)?.[1] ??
    /guide\.sh: line (\d+): /.exec(output)?.[1];
  const mdLine = failedLine ? origin.get(Number(failedLine)) : undefined;
  return {
    code,
    output,
    failedAt: mdLine ? `${file}:${mdLine}` : undefined,
  };
}

/** Ends every process the guide left running (its process group): SIGTERM, then SIGKILL. */
async function endGroup(pid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(-pid, 'SIGTERM');
  for (let waited = 0; waited < 5000 && alive(); waited += 100) {
    await new Promise((done) => setTimeout(done, 100));
  }
  if (alive()) process.kill(-pid, 'SIGKILL');
}

function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
