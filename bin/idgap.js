#!/usr/bin/env node
// Entry point for `npx idgap`: runs the compiled CLI (built by `npm ci` through the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(compiled))) {
  process.stderr.write('idgap: the CLI is not built yet; run `npm ci` (or `npm run build`) in the project folder first\n');
  process.exit(1);
}
await import(compiled.href);
