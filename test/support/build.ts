import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/paths.js';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Tests that spawn the real CLI need dist/ built from the current sources
 * (`npm test` only type-checks). Builds when a file of src/ or tasks/ is newer
 * than the compiled entry point; a lock folder keeps parallel test files from
 * compiling at the same time.
 */
export async function ensureCliBuilt(): Promise<string> {
  const entry = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');
  const lock = path.join(PROJECT_ROOT, 'dist', '.test-build-lock');
  mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 180_000) rmdirSync(lock);
      if (Date.now() > deadline) throw new Error('timed out waiting for another test file to build dist/');
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    const sources = Math.max(newestMtime(path.join(PROJECT_ROOT, 'src')), newestMtime(path.join(PROJECT_ROOT, 'tasks')));
    if (!existsSync(entry) || statSync(entry).mtimeMs < sources) {
      execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
        cwd: PROJECT_ROOT,
        stdio: 'pipe',
      });
    }
  } finally {
    rmdirSync(lock);
  }
  return path.join(PROJECT_ROOT, 'bin', 'idgap.js');
}
