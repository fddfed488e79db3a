import { createReadStream, existsSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';

/**
 * Loads the generator's planted identities (links.csv, origins.csv) after the
 * CSV import: persons linked to a lead and its driver with no origin (the
 * no_origin gap), and persons whose origin points to a lead they are not
 * linked to (inconsistent_origin). Links are not an import kind in the product:
 * this exists for the demo and the benchmarks only. One transaction, set-based.
 */
export async function loadPlantedLinks(client: pg.ClientBase, dir: string): Promise<{ persons: number; links: number; origins: number }> {
  const linksFile = path.join(dir, 'links.csv');
  const originsFile = path.join(dir, 'origins.csv');
  await client.query('begin');
  try {
    await client.query('create temp table planted_links (person_key uuid, source_table text, source_pk text, match_rule text) on commit drop');
    await client.query('create temp table planted_origins (person_key uuid, origin_tag text, origin_source_id text) on commit drop');
    if (existsSync(linksFile)) {
      await pipeline(createReadStream(linksFile), client.query(copyStreams.from('copy planted_links from stdin with (format csv, header)')));
    }
    if (existsSync(originsFile)) {
      await pipeline(createReadStream(originsFile), client.query(copyStreams.from('copy planted_origins from stdin with (format csv, header)')));
    }
    const persons = await client.query(`
      insert into canon.identity_registry (person_key, confidence_level)
      select distinct planted.person_key, 'HIGH' from planted_links as planted
      on conflict (person_key) do nothing`);
    const links = await client.query(`
      insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level, evidence)
      select planted.person_key, planted.source_table, planted.source_pk, planted.match_rule, 100, 'HIGH', '{"planted": true}'::jsonb
      from planted_links as planted
      on conflict (source_table, source_pk) do nothing`);
    const origins = await client.query(`
      insert into canon.identity_origin (person_key, origin_tag, origin_source_id, origin_confidence, decided_by, evidence)
      select planted.person_key, planted.origin_tag, planted.origin_source_id, 100, 'system', '{"planted": true}'::jsonb
      from planted_origins as planted
      on conflict (person_key) do nothing`);
    await client.query('commit');
    return { persons: persons.rowCount ?? 0, links: links.rowCount ?? 0, origins: origins.rowCount ?? 0 };
  } catch (e) {
    await client.query('rollback').catch(() => undefined);
    throw e;
  }
}
