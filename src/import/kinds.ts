/**
 * What each import file holds (docs/data-in.md): the table, its columns as CSV
 * header names, their SQL types, which are required in the header, and the
 * upsert key. The validation and upsert SQL is generated from this.
 */
export type ColumnType = 'text' | 'timestamp' | 'date' | 'integer';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** Must be present in the header. */
  required?: boolean;
  /** Part of the upsert key: must be non-empty on every row (and is trimmed). */
  key?: boolean;
}

export interface KindSpec {
  kind: ImportKind;
  table: string;
  columns: ColumnSpec[];
}

export const IMPORT_KINDS = ['leads', 'drivers', 'activity'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

const text = (name: string, extra: Partial<ColumnSpec> = {}): ColumnSpec => ({ name, type: 'text', ...extra });

export const KINDS: Record<ImportKind, KindSpec> = {
  leads: {
    kind: 'leads',
    table: 'public.module_ct_cabinet_leads',
    columns: [
      text('external_id', { required: true, key: true }),
      { name: 'lead_created_at', type: 'timestamp', required: true },
      text('park_phone'),
      text('first_name'),
      text('middle_name'),
      text('last_name'),
      text('asset_plate_number'),
      text('asset_model'),
      text('asset_color'),
      text('activation_city'),
      text('target_city'),
      text('park_name'),
      text('status'),
    ],
  },
  drivers: {
    kind: 'drivers',
    table: 'public.drivers',
    columns: [
      text('driver_id', { required: true, key: true }),
      text('park_id'),
      text('phone'),
      text('license_number'),
      text('license_normalized_number'),
      text('car_number'),
      text('car_normalized_number'),
      text('full_name'),
      text('first_name'),
      text('middle_name'),
      text('last_name'),
      { name: 'hire_date', type: 'date' },
      text('car_brand'),
      text('car_model'),
    ],
  },
  activity: {
    kind: 'activity',
    table: 'public.summary_daily',
    columns: [
      text('driver_id', { required: true, key: true }),
      /* Loaded as-is, garbage included: ops.v_identity_driver_unlinked_activity counts garbage dates. */
      text('date_file', { required: true, key: true }),
      { name: 'count_orders_completed', type: 'integer', required: true },
    ],
  },
};

/** Longest value accepted in any column. */
export const MAX_VALUE_LENGTH = 500;
