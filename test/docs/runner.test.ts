import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGuide, runnableBlocks } from './runner.js';

const GUIDE = `# A guide

\`\`\`sh
echo "not runnable: shown only"
\`\`\`

1. A step inside a list item:

   \`\`\`sh runnable
   GREETING="\${GREETING:-hello}"
   echo "$GREETING from the guide"
   \`\`\`

\`\`\`bash runnable
test "$GREETING" = hello
sleep 600 & echo "background $!"
echo "$STEP"
false | cat
echo "never printed"
\`\`\`
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wfid-docs-runner-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('docs runner', () => {
  it('takes only blocks marked runnable, in order, without list indentation', () => {
    expect(runnableBlocks(GUIDE)).toEqual([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax, not a template
      { line: 10, code: 'GREETING="${GREETING:-hello}"\necho "$GREETING from the guide"' },
      {
        line: 15,
        code: 'test "$GREETING" = hello\nsleep 600 & echo "background $!"\necho "$STEP"\nfalse | cat\necho "never printed"',
      },
    ]);
    expect(() => runnableBlocks('```sh runnable\necho open')).toThrow(/unclosed/);
  });

  it('runs the blocks in one session with the given environment and names the failing line (pipes included)', async () => {
    const file = join(dir, 'guide.md');
    await writeFile(file, GUIDE);
    const run = await runGuide(file, { env: { STEP: 'from the test' }, dir, timeoutMs: 30_000 });
    expect(run.output).toContain('hello from the guide');
    expect(run.output).toContain('from the test');
    expect(run.output).not.toContain('never printed');
    expect(run.code).not.toBe(0);
    expect(run.failedAt).toBe(`${file}:18`);
    // What the guide left running in the background was ended with its session.
    const background = Number(/background (\d+)/.exec(run.output)![1]);
    expect(() => process.kill(background, 0)).toThrow();
  });
});

describe('docs runner: an unbound variable', () => {
  it('fails the guide and names the line', async () => {
    const file = join(dir, 'unbound.md');
    await writeFile(file, '```sh runnable\necho start\necho "$NOT_SET_BY_ANYONE"\n```\n');
    const run = await runGuide(file, { env: {}, dir, timeoutMs: 30_000 });
    expect(run.code).not.toBe(0);
    expect(run.failedAt).toBe(`${file}:3`);
  });
});
