#!/usr/bin/env node
/*
 * Writes the `--! Previous:` and `--! Hash:` headers of migrations/committed/*.sql in order, the way
 * `graphile-migrate commit` computes them (graphile-migrate/dist/hash.js). For a developer who wrote a new
 * committed migration by hand, or renumbered one after a merge: `node scripts/migration-headers.mjs`.
 * A migration that already carries the right hash is left untouched; with --check it only reports.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations', 'committed');
const check = process.argv.includes('--check');
const hash = (body, previous) =>
  'sha1:' + createHash('sha1').update(((previous ?? '') + '\n' + body.trim()).trim() + '\n').digest('hex');

let previous = null;
let changed = 0;
for (const file of readdirSync(dir).filter((f) => /^\d{6}(-.*)?\.sql$/.test(f)).sort()) {
  const full = path.join(dir, file);
  const lines = readFileSync(full, 'utf8').split('\n');
  const headers = {};
  let n = 0;
  for (const line of lines) {
    const m = /^--! ([A-Z][a-zA-Z0-9_]*)(?::(.*))?$/.exec(line);
    if (!m) break;
    headers[m[1]] = m[2]?.trim() ?? null;
    n++;
  }
  const body = lines.slice(n).join('\n').trim() + '\n';
  const h = hash(body, previous);
  if (headers.Previous !== (previous ?? '-') || headers.Hash !== h) {
    changed++;
    if (check) console.error(`${file}: headers out of date`);
    else {
      const out = { Previous: previous ?? '-', Hash: h, ...Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'Previous' && k !== 'Hash')) };
      if (!out.Message) out.Message = file.replace(/^\d+-?/, '').replace(/\.sql$/, '').replace(/-/g, ' ');
      const head = Object.entries(out).map(([k, v]) => `--! ${k}` + (v ? `: ${v}` : '')).join('\n');
      writeFileSync(full, `${head}\n\n${body}`);
      console.log(`${file}: ${h}`);
    }
  }
  previous = h;
}
if (check && changed) process.exit(1);
