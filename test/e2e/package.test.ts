/**
 * What `npm pack` ships (and the Docker image copies: the same `dist`, built by tsconfig.json):
 * only what runs. Needs `npm run build` first, as every e2e test does.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('the published package', () => {
  it('holds the built issuer, backends and verifier, and no tests, bench or sources', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const files: string[] = JSON.parse(stdout)[0].files.map((file: { path: string }) => file.path);
    const outside = files.filter(
      (path) =>
        !/^dist\/(src|backends)\/.+\.(js|d\.ts|js\.map|d\.ts\.map)$/.test(path) &&
        !['package.json', 'README.md', 'LICENSE'].includes(path),
    );
    expect(outside).toEqual([]);
    const manifest = JSON.parse(await readFile('package.json', 'utf8'));
    const entries = [
      manifest.bin.wfid,
      ...Object.values(manifest.exports as Record<string, Record<string, string>>).flatMap(
        (entry) => Object.values(entry),
      ),
    ].map((path: string) => path.replace(/^\.\//, ''));
    for (const entry of entries) expect(files).toContain(entry);
    // Every backend the registry names is in the package.
    for (const name of ['file', 'aws-kms', 'gcp-kms', 'vault-transit', 'pkcs11'])
      expect(files).toContain(`dist/backends/${name}/index.js`);
    // Nothing that runs imports a test helper or the bench (which the package does not ship).
    for (const path of files.filter((file) => file.endsWith('.js'))) {
      const text = await readFile(path, 'utf8');
      expect(text, path).not.toMatch(/from '(\.\.\/)+(test|bench)\//);
    }
  });

  it('builds only src and backends into dist (the bench builds apart, into dist-bench)', async () => {
    const config = JSON.parse(await readFile('tsconfig.json', 'utf8'));
    expect(config.include).toEqual(['src', 'backends']);
    expect(config.compilerOptions.outDir).toBe('dist');
    const dockerfile = await readFile('Dockerfile', 'utf8');
    expect(dockerfile).toContain('COPY --from=build /app/dist dist');
    expect(await readFile('.dockerignore', 'utf8')).toMatch(/^dist$/m);
  });
});
