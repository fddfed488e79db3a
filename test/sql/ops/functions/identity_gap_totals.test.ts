import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { leadAged, linkLead, person, resolvedLead, rowsOf } from '../../../support/gap.js';
import { GAP_DATASET_TOTALS, insertGapDataset, objectsDefining } from '../../../support/gap_dataset.js';

/*
 * Issue 15 item 4: the gap totals have one definition, ops.identity_gap_totals
 * (ops.v_identity_gap_totals over every lead). test/api/gap_totals.test.ts
 * checks that its readers agree.
 */
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../src');
let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

describe('the gap totals', () => {
  it('are computed in one place, ops.identity_gap_totals: no other view, function or TypeScript module computes a percentage of the leads', async () => {
    // ops.v_diag_fail_reasons computes another figure (a reason's share of the failing leads).
    expect(await objectsDefining(db.pool, `100\\.0\\s*\\*`)).toEqual(['ops.identity_gap_totals', 'ops.v_diag_fail_reasons']);
    const sources = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(sources.length).toBeGreaterThan(10);
    expect(sources.filter((f) => /100\.0\s*\*/.test(readFileSync(path.join(SRC, f), 'utf8')))).toEqual([]);
  });

  it('give the figures of the dataset, risk levels counted among the unresolved leads only', async () => {
    await insertGapDataset(db.pool);
    const [totals] = await rowsOf<Record<string, unknown>>(db.pool, `select totals.*, totals.pct_unresolved::float8 as pct_unresolved from ops.v_identity_gap_totals as totals`);
    const { total, ...rest } = GAP_DATASET_TOTALS;
    expect(totals).toMatchObject({ total_leads: total, ...rest });
    const cells = totals!.cells as Array<{ gap_reason: string; risk_level: string; leads: number }>;
    expect(cells).toHaveLength(12);
    expect(cells.reduce((n, c) => n + c.leads, 0)).toBe(total);
    expect(cells.filter((c) => c.gap_reason === 'resolved').map((c) => c.leads)).toEqual([0, 0, GAP_DATASET_TOTALS.resolved]);
  });

  it('of a date window count only the leads dated inside it', async () => {
    await leadAged(db.pool, 30);
    await leadAged(db.pool, null);
    const inside = await leadAged(db.pool, 3);
    await linkLead(db.pool, inside, await person(db.pool));
    await resolvedLead(db.pool, 2);
    const [row] = await rowsOf<Record<string, unknown>>(
      db.pool,
      `select totals.total_leads, totals.unresolved, totals.resolved, totals.pct_unresolved, totals.no_origin, totals.risk_medium
       from ops.identity_gap_totals((now() at time zone 'utc')::date - 5, (now() at time zone 'utc')::date) as totals`,
    );
    expect(row).toEqual({ total_leads: 2, unresolved: 1, resolved: 1, pct_unresolved: '50.00', no_origin: 1, risk_medium: 1 });
  });
});

