import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../support/db.js';

const db = await useTestDatabase();
const norm = async (raw: string | null, cc: string | null = '51') =>
  (await db.pool.query<{ v: string | null }>('select canon.norm_phone($1, $2) as v', [raw, cc])).rows[0]!.v;

describe('canon.norm_phone', () => {
  it.each([
    ['+51 987 654 321', '987654321'],
    ['51987654321', '987654321'],
    ['987-654-321', '987654321'],
    ['(0051) 987654321', '987654321'],
    ['0051 987 654 321', '987654321'],
    ['+51-987-654-321', '987654321'],
    ['(01) 456-7890', '14567890'],
    ['+51 1 4567890', '14567890'],
    ['+51 (0)1 4567890', '14567890'],
  ])('normalises %s to %s', async (raw, expected) => {
    expect(await norm(raw)).toBe(expected);
  });

  it.each([['000000000'], ['12345'], [''], ['abc'], ['+51'], [null]])('gives NULL for %s (fewer than 7 digits)', async (raw) => {
    expect(await norm(raw)).toBeNull();
  });

  it('keeps the country code when neither 8 nor 9 digits follow it', async () => {
    expect(await norm('5112345')).toBe('5112345');
    expect(await norm('511234567890')).toBe('511234567890');
  });

  it('uses the country code it is given, not a built-in one', async () => {
    expect(await norm('+34 612 345 678', '34')).toBe('612345678');
    expect(await norm('+34 612 345 678', '51')).toBe('34612345678');
    expect(await norm('987654321', null)).toBe('987654321');
  });

  it('is idempotent on every form', async () => {
    const { rows } = await db.pool.query<{ raw: string; once: string | null; twice: string | null }>(
      `select raw, canon.norm_phone(raw, '51') as once, canon.norm_phone(canon.norm_phone(raw, '51'), '51') as twice
         from unnest($1::text[]) as raw`,
      [['+51 987 654 321', '51987654321', '(0051) 987654321', '(01) 456-7890', '+51 1 4567890', '5151515151', '51051234567', '000000000']],
    );
    for (const r of rows) expect(r.twice, r.raw).toBe(r.once);
  });

  it('is inlined into the calling query (a plain SQL expression, no function call per row)', async () => {
    const { rows } = await db.pool.query<{ plan: string }>(
      `explain (verbose, format text) select canon.norm_phone(phone, '51') from public.drivers`,
    );
    const plan = rows.map((r) => Object.values(r)[0]).join('\n');
    expect(plan).not.toContain('norm_phone');
    expect(plan).toContain('regexp_replace');
  });
});
