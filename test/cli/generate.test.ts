import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { generate, PLANTED_CASES, type GenerateResult } from '../../src/generate/generate.js';
import { nameSimilarity, nameTokens } from '../../src/generate/rules.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'idgap-generate-'));
const read = (dir: string, file: string) => parse(readFileSync(path.join(dir, file)), { columns: true }) as Array<Record<string, string>>;

describe('idgap generate', () => {
  let a: GenerateResult;
  let b: GenerateResult;
  let c: GenerateResult;
  beforeAll(async () => {
    a = await generate({ leads: 3000, drivers: 3000, seed: 7, out: tmp() });
    b = await generate({ leads: 3000, drivers: 3000, seed: 7, out: tmp() });
    c = await generate({ leads: 3000, drivers: 3000, seed: 8, out: tmp() });
  });

  it('writes the same bytes twice for the same seed', () => {
    const files = readdirSync(a.out).sort();
    expect(files).toEqual(['activity.csv', 'drivers.csv', 'leads.csv', 'links.csv', 'origins.csv', 'truth.csv']);
    for (const f of files) expect(readFileSync(path.join(b.out, f)).equals(readFileSync(path.join(a.out, f)))).toBe(true);
  });

  it('writes different data for another seed', () => {
    for (const f of ['leads.csv', 'drivers.csv', 'truth.csv']) {
      expect(readFileSync(path.join(c.out, f)).equals(readFileSync(path.join(a.out, f)))).toBe(false);
    }
  });

  it('writes the requested numbers of leads and drivers, and one truth row per lead', () => {
    const leads = read(a.out, 'leads.csv');
    const truth = read(a.out, 'truth.csv');
    expect(leads).toHaveLength(3000);
    expect(read(a.out, 'drivers.csv')).toHaveLength(3000);
    expect(truth.map((t) => t.lead_id).sort()).toEqual(leads.map((l) => l.external_id).sort());
    expect(new Set(leads.map((l) => l.external_id)).size).toBe(3000);
    expect(leads.every((l) => /^[0-9a-f]{32}$/.test(l.external_id!))).toBe(true);
  });

  it('plants every case of SPEC 7 with the expected outcome', () => {
    const truth = read(a.out, 'truth.csv');
    const cases = new Set(truth.map((t) => t.planted_case));
    expect([...cases].sort()).toEqual([...PLANTED_CASES].sort());
    const outcome = (planted: string) => new Set(truth.filter((t) => t.planted_case === planted).map((t) => `${t.recoverable}/${t.expected_rule}/${t.expected_reason}`));
    expect(outcome('unique_phone')).toEqual(new Set(['true/R1_PHONE_EXACT/']));
    expect(outcome('phone_other_park')).toEqual(new Set(['true/R1_PHONE_EXACT/']));
    expect(outcome('plate_name')).toEqual(new Set(['true/R3_PLATE_NAME/']));
    expect(outcome('plate_reordered_name')).toEqual(new Set(['true/R3_PLATE_NAME/']));
    expect(outcome('hire_out_of_window')).toEqual(new Set(['true/R3B_PLATE_NAME_ANY_DATE/']));
    expect(outcome('shared_phone')).toEqual(new Set(['false//MULTIPLE_CANDIDATES']));
    expect(outcome('two_drivers_one_plate')).toEqual(new Set(['false//MULTIPLE_CANDIDATES']));
    expect(outcome('rules_disagree')).toEqual(new Set(['false//MULTIPLE_CANDIDATES']));
    expect(outcome('plate_weak_name')).toEqual(new Set(['false//WEAK_MATCH_ONLY']));
    expect(outcome('missing_keys')).toEqual(new Set(['false//MISSING_KEYS']));
    expect(outcome('no_true_driver')).toEqual(new Set(['false//NO_CANDIDATES']));
    expect(outcome('link_without_origin')).toEqual(new Set(['true/ORIGIN_REPAIR/']));
    expect(outcome('origin_wrong_lead')).toEqual(new Set(['true/ORIGIN_REPAIR/']));
    expect(outcome('window_hides_older_driver')).toEqual(new Set(['false//WEAK_MATCH_ONLY']));
    expect(outcome('no_lead_date_weak_name')).toEqual(new Set(['false//INVALID_LEAD_DATE']));
    const repeat = truth.filter((t) => t.planted_case === 'two_leads_one_person');
    expect(new Set(repeat.map((t) => t.driver_id)).size).toBe(repeat.length / 2);
    expect(truth.filter((t) => t.planted_case === 'no_true_driver').every((t) => t.driver_id === '')).toBe(true);
  });

  it('plants links without origin and origins pointing to a lead of another person', () => {
    const links = read(a.out, 'links.csv');
    const origins = read(a.out, 'origins.csv');
    const truth = read(a.out, 'truth.csv');
    const leadLinks = links.filter((l) => l.source_table === 'module_ct_cabinet_leads');
    expect(leadLinks).toHaveLength(truth.filter((t) => t.planted_case === 'link_without_origin' || t.planted_case === 'origin_wrong_lead').length);
    for (const o of origins) {
      const own = leadLinks.find((l) => l.person_key === o.person_key)!;
      expect(own.source_pk).not.toBe(o.origin_source_id);
    }
  });

  it('writes phones in every format of SPEC 3.1, plates in several shapes, surname-first upper-case driver names and garbage activity dates', () => {
    const phones = read(a.out, 'leads.csv').map((l) => l.park_phone!);
    for (const re of [/^\+51 \d{3} \d{3} \d{3}$/, /^51\d{9}$/, /^\d{3}-\d{3}-\d{3}$/, /^\(0051\) \d{9}$/, /^$/]) expect(phones.some((p) => re.test(p))).toBe(true);
    const drivers = read(a.out, 'drivers.csv');
    const plates = drivers.map((d) => d.car_number!);
    for (const re of [/^[A-Z]{3}-\d{3}$/, /^[a-z]{3} \d{3}$/, /^[A-Z]\d[A-Z]\d{3}$/]) expect(plates.some((p) => re.test(p))).toBe(true);
    expect(drivers.some((d) => d.full_name === '' && d.first_name !== '' && d.last_name !== '')).toBe(true);
    expect(drivers.filter((d) => d.full_name).every((d) => d.full_name === d.full_name!.toUpperCase())).toBe(true);
    expect(drivers.some((d) => /[ÁÉÍÓÚÑ]/.test(d.full_name!))).toBe(true);
    expect(new Set(drivers.map((d) => d.park_id)).size).toBeGreaterThan(3);
    const dates = read(a.out, 'activity.csv').map((r) => r.date_file!);
    expect(dates.some((d) => /^\d{2}-\d{2}-\d{4}$/.test(d))).toBe(true);
    expect(dates.some((d) => /^\d{4}-\d{2}-\d{2}$/.test(d))).toBe(true);
    expect(dates.some((d) => !/^\d{2}-\d{2}-\d{4}$|^\d{4}-\d{2}-\d{2}$/.test(d) || d === '31-02-2026' || d === '00-00-0000')).toBe(true);
  });

  it('scores names the way SPEC 3.1 says', () => {
    expect(nameTokens('José de la Cruz-Núñez')).toEqual(['CRUZ', 'JOSE', 'NUNEZ']);
    expect(nameSimilarity(nameTokens('Juan Quispe'), nameTokens('QUISPE MAMANI JUAN'))).toBeCloseTo(2 / 3, 12);
    expect(nameSimilarity(nameTokens('Juan Quispe'), nameTokens('QUISPE MAMANI JUAN'))).toBeGreaterThanOrEqual(0.66);
  });
});
