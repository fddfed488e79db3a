import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project folder (the one holding package.json, sql/, migrations/ and crontab), from src/ or dist/src/. */
function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'sql'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the idgap project folder (package.json beside sql/)');
    dir = parent;
  }
}

export const PROJECT_ROOT = findRoot();
export const SQL_DIR = path.join(PROJECT_ROOT, 'sql');
export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'migrations');
export const CRONTAB_FILE = path.join(PROJECT_ROOT, 'crontab');
