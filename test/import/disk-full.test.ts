import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase, type TestDatabase } from '../support/db.js';
import { ensureCliBuilt } from '../support/build.js';

const run = promisify(execFile);
const LEADS_HEADER = 'external_id,lead_created_at,park_phone,first_name,middle_name,last_name,asset_plate_number,asset_model,asset_color,activation_city,target_city,park_name,status';

/*
 * A real full disk, small: a 64 KB tmpfs (the tests run as root, as .ci/run
 * does) holding the input file, so that FILE.rejects.csv beside it cannot be
 * written whole. Unmounted after the test whatever happens.
 */
describe('idgap import on a full disk', () => {
  let db: TestDatabase;
  let bin: string;
  let mnt: string;
  let outside: string;
  let mounted = false;
  beforeAll(async () => {
    db = await useTestDatabase();
    bin = await ensureCliBuilt();
    mnt = mkdtempSync(path.join(os.tmpdir(), 'idgap-full-'));
    outside = mkdtempSync(path.join(os.tmpdir(), 'idgap-full-src-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
    mounted = true;
  }, 180_000);
  afterAll(() => {
    if (mounted) execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('exits 1 with one line when the rejects file cannot be written, removes its temp file and changes nothing', async () => {
    await db.pool.query(`insert into public.module_ct_cabinet_leads (external_id, lead_created_at) values ('keep', '2026-11-01')`);
    const rows = Array.from({ length: 20_000 }, (_, k) =>
      k % 50 === 0 ? `ok${k},2026-11-01,+51 987 654 321,Ana,,Ruiz,ABC-123,Kia Rio,rojo,Lima,Lima,park-01,new` : `bad${k},2026-13-45,+51 987 654 321,Ana,,Ruiz,ABC-123,Kia Rio,rojo,Lima,Lima,park-01,new`,
    );
    /* The file (2 MB) lives outside the 64 KB disk, linked into it: its rejects file is written beside the link, and the COPY of the rejects is still streaming when the disk fills. */
    const source = path.join(outside, 'leads.csv');
    writeFileSync(source, `${LEADS_HEADER}\n${rows.join('\n')}\n`);
    const file = path.join(mnt, 'leads.csv');
    symlinkSync(source, file);
    const env = { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn', IDGAP_LOG_JSON: '1' };
    const failure = (await run(process.execPath, [bin, 'import', 'leads', file], { env }).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(failure.code).toBe(1);
    const lines = failure.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
    expect(lines).toEqual([
      `idgap: cannot write the rejects file ${path.join(mnt, 'leads.rejects.csv')}: no space left on the device; free some space there and import again (nothing was changed)`,
    ]);
    expect(readdirSync(mnt)).toEqual(['leads.csv']);
    const { rows: left } = await db.pool.query(`select external_id from public.module_ct_cabinet_leads`);
    expect(left).toEqual([{ external_id: 'keep' }]);
    // The import lock was released with the dropped connection: the next import of the kind goes through.
    writeFileSync(source, `${LEADS_HEADER}\n${rows[0]}\n`);
    const { stdout } = await run(process.execPath, [bin, 'import', 'leads', file, '--json'], { env });
    expect(JSON.parse(stdout)).toMatchObject({ loaded: 1, rejected: 0 });
  }, 60_000);
});
