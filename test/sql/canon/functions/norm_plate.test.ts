import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../support/db.js';

const db = await useTestDatabase();
const q = async (sql: string, params: unknown[]) => (await db.pool.query(sql, params)).rows[0]!.v as unknown;

describe('canon.norm_plate', () => {
  it.each([
    ['ABC-123', 'ABC123'],
    ['abc 123', 'ABC123'],
    ['A1B234', 'A1B234'],
    [' a1b-234 ', 'A1B234'],
    ['Q1-23.4', 'Q1234'],
  ])('normalises %s to %s', async (raw, expected) => {
    expect(await q('select canon.norm_plate($1) as v', [raw])).toBe(expected);
  });

  it.each([[''], ['---'], ['  '], [null]])('gives NULL for %j', async (raw) => {
    expect(await q('select canon.norm_plate($1) as v', [raw])).toBeNull();
  });

  it('is idempotent', async () => {
    expect(await q('select canon.norm_plate(canon.norm_plate($1)) = canon.norm_plate($1) as v', ['abc-12 3'])).toBe(true);
  });
});
