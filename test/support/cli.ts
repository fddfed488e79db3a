import { execFile } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../src/paths.js';

const run = promisify(execFile);

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** Compiles the CLI (dist/) when a source file is newer than the build, so tests run the real `idgap` binary. */
export async function buildCli(): Promise<void> {
  const marker = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');
  const sources = Math.max(newestMtime(path.join(PROJECT_ROOT, 'src')), newestMtime(path.join(PROJECT_ROOT, 'tasks')));
  if (existsSync(marker) && statSync(marker).mtimeMs >= sources) return;
  await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: PROJECT_ROOT });
}
