import type { Command } from 'commander';
import { registerMigrate } from './migrate.js';
import { registerStart } from './start.js';
import { registerRecover } from './recover.js';
import { registerRefresh } from './refresh.js';
import { registerEstimateWeights } from './estimate-weights.js';
import { registerSnapshot } from './snapshot.js';
import { registerDiagnose } from './diagnose.js';
import { registerImport } from './import.js';
import { registerGenerate } from './generate.js';
import { registerDemo } from './demo.js';
import { registerPsql } from './psql.js';
import { registerUrl } from './url.js';

/** Every `idgap` subcommand, in the order `idgap --help` lists them. */
export const commands: Array<(program: Command) => void> = [
  registerMigrate,
  registerStart,
  registerRecover,
  registerRefresh,
  registerEstimateWeights,
  registerSnapshot,
  registerDiagnose,
  registerImport,
  registerGenerate,
  registerDemo,
  registerPsql,
  registerUrl,
];
