import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fakerES as faker } from '@faker-js/faker';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { ensureCliBuilt } from '../support/build.js';
import { useTestDatabase } from '../support/db.js';
import { insertDriver, insertLead, refreshIndex } from '../support/fixtures.js';
import { expectInvariants } from '../support/invariants.js';

const run = promisify(execFile);
const db = await useTestDatabase();

beforeAll(async () => ensureCliBuilt(), 180_000);

interface Person {
  first: string;
  last: string;
  phone: string;
  plate: string;
}

const unaccent = (s: string) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
/** Every form a secret could take in a log line: as typed, upper-case, without accents; the phone's digits and its 9-digit key. */
function secretsOf(p: Person): string[] {
  const words = `${p.first} ${p.last}`.split(/[\s-]+/).filter((w) => w.length >= 4);
  const digits = p.phone.replace(/\D/g, '');
  return [...words, ...words.map((w) => unaccent(w).toUpperCase()), p.phone, digits, digits.slice(-9), p.plate, p.plate.replace(/[^A-Za-z0-9]/g, '').toUpperCase()];
}

describe('personal data', () => {
  it('never reaches the logs of a recovery through the CLI, and links keep normalised keys only', async () => {
    faker.seed(20261125);
    const people: Person[] = Array.from({ length: 150 }, (_, i) => ({
      first: faker.person.firstName(),
      last: `${faker.person.lastName()} ${faker.person.lastName()}`,
      phone: `+51 9${String(10_000_000 + i * 7919).slice(0, 2)} ${String(100 + (i % 900)).padStart(3, '0')} ${String(1000 + i).slice(-3)}`,
      plate: `${faker.string.alpha({ length: 3, casing: 'upper' })}-${String(100 + i)}`,
    }));
    for (const [i, p] of people.entries()) {
      const kind = i % 3; // 0: phone match, 1: plate and name match, 2: nothing to find
      await insertDriver(db.pool, {
        driver_id: `drv-${i}`,
        phone: kind === 0 ? p.phone.replace(/\D/g, '') : null,
        car_number: kind === 1 ? p.plate : null,
        full_name: kind === 2 ? null : unaccent(`${p.last} ${p.first}`).toUpperCase(),
        hire_date: '2026-10-20',
      });
      await insertLead(db.pool, {
        first_name: p.first,
        last_name: p.last,
        park_phone: kind === 1 ? null : p.phone,
        asset_plate_number: kind === 0 ? null : p.plate.toLowerCase().replace('-', ' '),
      });
    }
    await refreshIndex(db.pool);
    // One person whose registry row the database refuses: its error must not carry the failing row (names, phones) into the logs.
    const victim = people[3]!;
    await db.pool.query(`alter table canon.identity_registry add constraint test_refuse_person check (primary_phone is distinct from $$${victim.phone.replace(/\D/g, '').slice(-9)}$$)`);

    const result = await run('node', ['bin/idgap.js', 'recover', '--json', '--batch-size', '40'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'debug', IDGAP_LOG_JSON: '1' },
      maxBuffer: 64 * 1024 * 1024,
    });
    await db.pool.query(`alter table canon.identity_registry drop constraint test_refuse_person`);
    const summary = JSON.parse(result.stdout) as { matched: number; errors: number; processed: number };
    expect(summary).toMatchObject({ processed: 150, matched: 99, errors: 1 });
    const logLines = result.stderr.trim().split('\n');
    expect(logLines.length).toBeGreaterThan(5);
    expect(logLines.some((l) => l.includes('"event":"recovery.lead_error"'))).toBe(true);

    const output = `${result.stderr}\n${result.stdout}`;
    const lower = output.toLowerCase();
    let checked = 0;
    for (const p of people) {
      for (const secret of secretsOf(p)) {
        checked += 1;
        expect(lower.includes(secret.toLowerCase()), `log output contains "${secret}"`).toBe(false);
      }
    }
    console.log(`personal data: ${checked} name/phone/plate forms of ${people.length} people checked against ${logLines.length} log lines`);

    // Links keep normalised keys and similarities: no name in any form, no phone as typed.
    const { rows: links } = await db.pool.query(`select source_table, evidence from canon.identity_links`);
    expect(links.length).toBe(99 * 2);
    const keys = new Set<string>();
    const walk = (v: unknown, path: string) => {
      if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (keys.add(`${path}${Array.isArray(v) ? '[]' : k}`), walk(x, `${path}${Array.isArray(v) ? '[]' : k}.`));
    };
    for (const link of links) {
      walk(link.evidence, '');
      const text = JSON.stringify(link.evidence).toLowerCase();
      for (const p of people) {
        for (const w of `${p.first} ${p.last}`.split(/[\s-]+/).filter((x) => x.length >= 4)) {
          expect(text.includes(unaccent(w).toLowerCase()), `evidence contains a name: ${w}`).toBe(false);
        }
        expect(text.includes(p.phone.toLowerCase())).toBe(false);
      }
    }
    for (const key of keys) expect(key, 'evidence key').not.toMatch(/name|(^|\.)phone$|(^|\.)plate$|raw/);
    const { rows: phones } = await db.pool.query(`select distinct evidence #>> '{lead,phone_norm}' as p from canon.identity_links where evidence #>> '{lead,phone_norm}' is not null`);
    for (const { p } of phones) expect(p).toMatch(/^[0-9]{7,}$/);
    await expectInvariants(db.pool);
  }, 180_000);
});
