/**
 * plpgsql_check (Debian's postgresql-15-plpgsql-check) over every PL/pgSQL function in canon and ops reports
 * nothing: no error, no warning, with extra warnings on. It runs where the server has the extension — the
 * machine's PostgreSQL 15 of CI, provisioned by scripts/provision-plpgsql-check.sh before the suite — and that is
 * required: on PostgreSQL 15 a missing extension fails this test. The embedded server (another major version,
 * built without the extension) is the only place it may be absent, and there the test asserts that it is the
 * embedded server, so it cannot pass vacuously on PostgreSQL 15.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.js';

const db = await useTestDatabase();

describe('plpgsql_check', () => {
  it('reports nothing for any PL/pgSQL function of canon and ops, trigger functions through their triggers (on PostgreSQL 15; the embedded server has no plpgsql_check)', async () => {
    const { rows: [server] } = await db.pool.query<{ major: number; available: boolean }>(
      `select current_setting('server_version_num')::int / 10000 as major,
              exists (select 1 from pg_available_extensions where name = 'plpgsql_check') as available`);
    if (server!.major === 15 || server!.available) {
      expect(server!.available).toBe(true); // PostgreSQL 15: CI installs postgresql-15-plpgsql-check
      await db.pool.query('create extension if not exists plpgsql_check');
      const { rows } = await db.pool.query<{ fn: string; level: string; message: string; lineno: number | null; statement: string | null }>(`
        select functions.oid::regprocedure::text as fn, report.level, report.message, report.lineno, report.statement
        from pg_catalog.pg_proc as functions
        join pg_catalog.pg_namespace as schemas on schemas.oid = functions.pronamespace
        join pg_catalog.pg_language as languages on languages.oid = functions.prolang
        cross join lateral public.plpgsql_check_function_tb(functions.oid, extra_warnings => true) as report
        where schemas.nspname in ('canon', 'ops') and languages.lanname = 'plpgsql' and functions.prorettype <> 'trigger'::regtype
        order by 1, report.lineno`);
      expect(rows.map((r) => `${r.fn} line ${r.lineno} ${r.statement}: ${r.level}: ${r.message}`)).toEqual([]);
      /*
       * A trigger function is checked against a table it is a trigger of, with the transition tables of that table's
       * trigger that declares the most (one function serving several events branches on TG_OP; plpgsql_check checks
       * every branch, so it needs the old and the new rows of the update trigger).
       */
      const { rows: triggers } = await db.pool.query<{ fn: string; level: string; message: string; lineno: number | null; statement: string | null }>(`
        with richest as (
          select distinct on (triggers.tgfoid) triggers.tgfoid, triggers.tgrelid, triggers.tgoldtable, triggers.tgnewtable
          from pg_catalog.pg_trigger as triggers
          join pg_catalog.pg_proc as functions on functions.oid = triggers.tgfoid
          join pg_catalog.pg_namespace as schemas on schemas.oid = functions.pronamespace
          join pg_catalog.pg_language as languages on languages.oid = functions.prolang
          where schemas.nspname in ('canon', 'ops') and languages.lanname = 'plpgsql' and not triggers.tgisinternal
          order by triggers.tgfoid, (triggers.tgoldtable is not null)::int + (triggers.tgnewtable is not null)::int desc
        )
        select richest.tgfoid::regprocedure::text as fn, report.level, report.message, report.lineno, report.statement
        from richest
        cross join lateral public.plpgsql_check_function_tb(richest.tgfoid, richest.tgrelid, oldtable => richest.tgoldtable,
                                                            newtable => richest.tgnewtable, extra_warnings => true) as report
        order by 1, report.lineno`);
      expect(triggers.map((r) => `${r.fn} line ${r.lineno} ${r.statement}: ${r.level}: ${r.message}`)).toEqual([]);
    } else {
      // Only the embedded server may lack it: not PostgreSQL 15, and not a server given by TEST_DATABASE_URL.
      expect(process.env.TEST_DATABASE_URL).toBeUndefined();
      expect(server!.major).not.toBe(15);
    }
  });
});
