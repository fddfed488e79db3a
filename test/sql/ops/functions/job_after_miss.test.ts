import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../support/db.js';

const db = await useTestDatabase();

describe('ops.job_after_miss', () => {
  it('is pending with backoff below max attempts and failed from max attempts on, with no next attempt', async () => {
    const { rows } = await db.pool.query(`
      select attempts, after.status, round(extract(epoch from after.next_attempt_at - now()) / 60) as minutes
      from generate_series(1, 6) as attempts cross join lateral ops.job_after_miss(attempts, 5, 60, 1440) as after order by attempts`);
    expect(rows).toEqual([
      { attempts: 1, status: 'pending', minutes: '60' },
      { attempts: 2, status: 'pending', minutes: '120' },
      { attempts: 3, status: 'pending', minutes: '240' },
      { attempts: 4, status: 'pending', minutes: '480' },
      { attempts: 5, status: 'failed', minutes: null },
      { attempts: 6, status: 'failed', minutes: null },
    ]);
  });
});
