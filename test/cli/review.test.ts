import { execFile } from 'node:child_process';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { renderReviewLead } from '../../src/review.js';
import { ensureCliBuilt } from '../support/build.js';
import { useTestDatabase, type TestDatabase } from '../support/db.js';
import { linkOf, resetData } from '../support/fixtures.js';
import { rowsOf } from '../support/gap.js';
import { resetReview, seedReviewCase } from '../support/review.js';

const run = promisify(execFile);

let db: TestDatabase;
beforeAll(async () => {
  await ensureCliBuilt();
  db = await useTestDatabase();
}, 180_000);
beforeEach(async () => {
  await resetData(db.pool);
  await resetReview(db.pool);
});

/** Runs `node bin/idgap.js …` against the test database; never throws, returns the exit code. */
async function idgap(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn', IDGAP_LOG_JSON: '1' };
  try {
    const { stdout, stderr } = await run('node', ['bin/idgap.js', ...args], { cwd: PROJECT_ROOT, env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('idgap review (the real binary)', () => {
  it('lists the queue\'s leads with their best candidate, and as JSON with every candidate', async () => {
    const c = await seedReviewCase(db.pool);
    const text = await idgap('review', 'list', '--limit', '5');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`${c.lead}\\s+REVIEW_BAND\\s+2\\s+${c.unlinked} \\(82\\)`));
    expect(text.stdout).toMatch(/1 of 1 leads in the queue/);
    const json = JSON.parse((await idgap('review', 'list', '--json')).stdout);
    expect(json).toMatchObject({ total_leads: 1, items: [{ lead_id: c.lead, candidates: [{ driver_id: c.unlinked }, { driver_id: c.linked }] }] });
  });

  it('shows a lead and its candidates side by side, marking what agrees and what does not', async () => {
    const c = await seedReviewCase(db.pool);
    const r = await idgap('review', 'show', c.lead);
    expect(r.code).toBe(0);
    const line = (label: string) => r.stdout.split('\n').find((l) => l.startsWith(label)) ?? '';
    expect(line('plate')).toMatch(/ABC 123\s+= ABC-123\s+≠ ABC-128/);
    expect(line('phone')).toMatch(/\*{6}000\s+≠ \*{8}001\s+≠ \*{8}002/);
    expect(line('name')).toMatch(/ROSA QUISPE MAMANI\s+= QUISPE MAMANI ROSA \(1\)/);
    expect(line('lead / hire date')).toMatch(/2026-11-01\s+= 2026-10-20 \(\+12 d\)\s+≠ 2025-01-01/);
    expect(line('person')).toContain(c.personKey);
    expect(line('evidence')).toMatch(/name one_edit, plate exact\s+name one_edit, plate exact/);
    expect(r.stdout).not.toContain('987001000');
    expect(JSON.parse((await idgap('review', 'show', c.lead, '--json')).stdout)).toMatchObject({ lead_id: c.lead });
  });

  it('says so when a lead is not in the queue', async () => {
    const r = await idgap('review', 'show', 'no-such-lead');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/idgap: lead no-such-lead is not in the review queue/);
  });

  it('accepts with the OS user as reviewer by default, and refuses a second decision on the linked lead', async () => {
    const c = await seedReviewCase(db.pool);
    const r = await idgap('review', 'accept', c.lead, c.unlinked, '--note', 'same person');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`accepted: lead ${c.lead} linked to driver ${c.unlinked}'s person .* \\(created\\); job row matched`));
    expect(await rowsOf(db.pool, 'select decision, reviewer, note from ops.review_decisions')).toEqual([{ decision: 'accept', reviewer: userInfo().username, note: 'same person' }]);
    expect(await linkOf(db.pool, c.lead)).toMatchObject({ match_rule: 'MANUAL_REVIEW' });
    const again = await idgap('review', 'reject', c.lead, c.linked, '--reviewer', 'ana');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/idgap: lead .* is already linked .*links are never re-pointed/);
  });

  it('rejects with --reviewer and --json', async () => {
    const c = await seedReviewCase(db.pool);
    const r = await idgap('review', 'reject', c.lead, c.unlinked, '--reviewer', 'luis', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ decision: 'reject', lead_id: c.lead, driver_id: c.unlinked, link_id: null });
    expect(await rowsOf(db.pool, 'select decision, reviewer from ops.review_decisions')).toEqual([{ decision: 'reject', reviewer: 'luis' }]);
  });

  it('refuses an empty reviewer, an unknown driver and a bad --limit with one line each', async () => {
    const c = await seedReviewCase(db.pool);
    expect((await idgap('review', 'accept', c.lead, c.unlinked, '--reviewer', ' ')).stderr).toMatch(/idgap: --reviewer must name who decides/);
    expect((await idgap('review', 'accept', c.lead, 'nobody', '--reviewer', 'ana')).stderr).toMatch(/idgap: driver nobody does not exist/);
    expect((await idgap('review', 'list', '--limit', '0')).stderr).toMatch(/idgap: --limit must be at least 1 \(got "0"\)/);
    expect(await rowsOf(db.pool, 'select * from ops.review_decisions')).toEqual([]);
  });
});

describe('renderReviewLead', () => {
  it('marks a field missing on one side with ?', () => {
    const text = renderReviewLead({
      lead_id: 'L1', queue_reason: 'WEAK_MATCH_ONLY',
      lead: { name: 'EVA PAZ', plate: null, phone_masked: null, date: null, park: null },
      candidates: [{ candidate_rank: 1, driver_id: 'd1', person_key: null, score: 61, match_rule: 'R3B_PLATE_NAME_ANY_DATE', queue_reason: 'WEAK_MATCH_ONLY',
        evidence: {}, driver: { name: 'EVA PAZ', plate: 'X1', phone_masked: null, hire_date: null, park: null },
        compared: { phone_agrees: null, plate_agrees: null, name_similarity: 1, name_agrees: true, days_after_hire: null, hire_date_agrees: null },
        run_id: null, evaluated_at: '2026-12-01T00:00:00Z' }],
    });
    expect(text).toMatch(/^plate\s+-\s+\? X1$/m);
    expect(text).toMatch(/^person\s+none yet \(accept creates it\)$/m);
  });
});
