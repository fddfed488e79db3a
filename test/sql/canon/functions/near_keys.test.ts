import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../support/db.js';
import { insertDriver, refreshIndex, resetData } from '../../../support/fixtures.js';

const db = await useTestDatabase();
const one = async <T>(sql: string, params: unknown[] = []) => (await db.pool.query(sql, params)).rows[0]!.v as T;

describe('canon.one_edit', () => {
  it.each([
    ['ABC123', 'ABD123', 'substitution'],
    ['AB0123', 'ABO123', 'look_alike'],
    ['B8C123', 'BBC123', 'look_alike'],
    ['5ZG123', 'SZG123', 'look_alike'],
    ['ABC123', 'BAC123', 'transposition'],
    ['987654321', '987654312', 'transposition'],
    ['ABC123', 'ABC123', null],
    ['ABC123', 'ABD124', null],
    ['ABC123', 'ACB213', null],
    ['ABC123', 'ABC1234', null],
  ])('%s -> %s is %s', async (a, b, kind) => {
    expect(await one('select canon.one_edit($1, $2) as v', [a, b])).toBe(kind);
  });

  it('allows an insertion or a deletion only when asked (name tokens)', async () => {
    expect(await one(`select canon.one_edit('QUISPE', 'QISPE', true) as v`)).toBe('insertion');
    expect(await one(`select canon.one_edit('QISPE', 'QUISPE', true) as v`)).toBe('deletion');
    expect(await one(`select canon.one_edit('QUISPEE', 'QUISPE', true) as v`)).toBe('insertion');
    expect(await one(`select canon.one_edit('QISPE', 'QUISPE') as v`)).toBeNull();
    expect(await one(`select canon.one_edit('QSPE', 'QUISPE', true) as v`)).toBeNull();
    expect(await one(`select canon.one_edit(null, 'QUISPE', true) as v`)).toBeNull();
  });
});

describe('canon.key_deletions', () => {
  it('gives each distinct one-deletion variant, and none for null', async () => {
    expect(await one(`select canon.key_deletions('ABC1') as v`)).toEqual(['BC1', 'AC1', 'AB1', 'ABC']);
    expect(await one(`select canon.key_deletions('AAB') as v`)).toEqual(['AB', 'AA']);
    expect(await one(`select canon.key_deletions(null) as v`)).toEqual([]);
  });

  it('gives two keys one substitution or one adjacent swap apart a shared variant', async () => {
    for (const [a, b] of [['ABC123', 'ABD123'], ['ABC123', 'BAC123'], ['987654321', '987654312']]) {
      expect(await one('select canon.key_deletions($1) && canon.key_deletions($2) as v', [a, b])).toBe(true);
    }
  });
});

describe('canon.name_similarity_near', () => {
  it('counts a token one edit from a token of the other name as shared', async () => {
    expect(Number(await one(`select canon.name_similarity(array['MAMANI','QISPE','ROSA'], array['MAMANI','QUISPE','ROSA']) as v`))).toBeCloseTo(((2 / 4) + (2 / 3)) / 2, 10);
    expect(Number(await one(`select canon.name_similarity_near(array['MAMANI','QISPE','ROSA'], array['MAMANI','QUISPE','ROSA']) as v`))).toBe(1);
    expect(Number(await one(`select canon.name_similarity_near(array['MAMNAI','ROSA'], array['MAMANI','QUISPE','ROSA']) as v`))).toBeCloseTo(2 / 3, 10);
  });

  it('uses each token once, equal tokens first, and never stretches a token of fewer than 4 letters', async () => {
    expect(Number(await one(`select canon.name_similarity_near(array['JUAN','JUANA'], array['JUAN','PEREZ']) as v`))).toBeCloseTo(((1 / 3) + 0.5) / 2, 10);
    expect(Number(await one(`select canon.name_similarity_near(array['ANA','PAZ'], array['ANO','PAZ']) as v`))).toBeCloseTo(((1 / 3) + 0.5) / 2, 10);
    expect(Number(await one(`select canon.name_similarity_near(array[]::text[], array['ANA']) as v`))).toBe(0);
  });
});

describe('canon.refresh_near_keys (through canon.refresh_drivers_index)', () => {
  beforeEach(async () => resetData(db.pool));

  it('keeps the variants of the drivers index phones and plates: new keys in, keys no driver has any more out', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987654321', car_number: 'ABC-123' });
    await insertDriver(db.pool, { driver_id: 'd2', car_number: 'ABC123' });
    await refreshIndex(db.pool);
    const keys = async () => (await db.pool.query(`select key_kind, key from canon.near_keys order by 1, 2`)).rows.map((r) => `${r.key_kind}:${r.key}`);
    const variants = async (kind: string, key: string) =>
      (await db.pool.query(`select variant from canon.near_key_variants where key_kind = $1 and key = $2 order by 1`, [kind, key])).rows.map((r) => r.variant);
    expect(await keys()).toEqual(['phone:987654321', 'plate:ABC123']);
    expect(await variants('plate', 'ABC123')).toEqual(['AB123', 'ABC12', 'ABC13', 'ABC23', 'AC123', 'BC123']);
    expect(await variants('phone', '987654321')).toHaveLength(9);

    await db.pool.query(`update public.drivers set car_number = 'XYZ-999' where driver_id = 'd1'`);
    await refreshIndex(db.pool);
    expect(await keys()).toEqual(['phone:987654321', 'plate:ABC123', 'plate:XYZ999']);
    await db.pool.query(`delete from public.drivers where driver_id = 'd2'`);
    await refreshIndex(db.pool);
    expect(await keys()).toEqual(['phone:987654321', 'plate:XYZ999']);
    expect(await variants('plate', 'ABC123')).toEqual([]);
    /* XYZ999: deleting any of the three 9s gives one variant. */
    expect(await variants('plate', 'XYZ999')).toEqual(['XY999', 'XYZ99', 'XZ999', 'YZ999']);
    expect(await one(`select count(*)::int as v from canon.near_key_variants`)).toBe(9 + 4);
  });
});
