import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../support/db.js';
import { person, rowsOf, setOrigin } from '../support/gap.js';

/* Issue 15 item 4: change_reason carries a check constraint listing its values (migration 000008). */
let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

describe('canon.identity_origin_history.change_reason', () => {
  const insertHistory = async (reason: string) => {
    const personKey = await person(db.pool);
    await setOrigin(db.pool, personKey, 'lead-1');
    return db.pool.query(
      `insert into canon.identity_origin_history (person_key, old_origin_tag, new_origin_tag, old_source_id, new_source_id, changed_by, change_reason)
       values ($1, null, 'cabinet_lead', null, 'lead-1', 'system', $2)`,
      [personKey, reason],
    );
  };

  it('takes the values the recovery writes and manual', async () => {
    for (const reason of ['origin_created', 'origin_corrected', 'origin_upgraded', 'manual']) await insertHistory(reason);
    const [row] = await rowsOf(db.pool, 'select count(*)::integer as rows from canon.identity_origin_history');
    expect(row).toEqual({ rows: 4 });
  });

  it('refuses an unknown value', async () => {
    await expect(insertHistory('origin_deleted')).rejects.toMatchObject({ code: '23514', constraint: 'identity_origin_history_change_reason_check' });
    await expect(insertHistory('Origin_Created')).rejects.toMatchObject({ code: '23514' });
  });

  it('lists every value the SQL of the recovery writes', async () => {
    // Every literal the engine's functions write into change_reason, read from their definitions.
    const rows = await rowsOf<{ reason: string }>(
      db.pool,
      `select distinct matches[1] as reason
       from pg_catalog.pg_proc as procs
       join pg_catalog.pg_namespace as namespaces on namespaces.oid = procs.pronamespace
       cross join lateral regexp_matches(pg_catalog.pg_get_functiondef(procs.oid), '''(origin_[a-z_]+)''', 'g') as matches
       where namespaces.nspname in ('canon', 'ops') and procs.prokind = 'f'
       order by 1`,
    );
    const [check] = await rowsOf<{ definition: string }>(
      db.pool,
      `select pg_catalog.pg_get_constraintdef(constraints.oid) as definition
       from pg_catalog.pg_constraint as constraints
       where constraints.conname = 'identity_origin_history_change_reason_check'`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const { reason } of rows) expect(check!.definition).toContain(`'${reason}'`);
  });
});
