import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { PROJECT_ROOT } from '../../paths.js';

const DASHBOARD_DIR = path.join(PROJECT_ROOT, 'src', 'dashboard');

/** Chart.js's UMD build from node_modules: the dashboard needs no network beyond this server. */
function chartJsFile(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
}

interface Asset {
  body: Buffer;
  type: string;
  cache: string;
}

/** The dashboard (docs/api.md, Dashboard): static files read once at start-up; the page reads the JSON API. */
export function registerDashboardRoutes(app: FastifyInstance): void {
  const file = (name: string, type: string, cache = 'no-cache'): Asset => ({ body: readFileSync(path.join(DASHBOARD_DIR, name)), type, cache });
  const assets: Record<string, Asset> = {
    '/': file('index.html', 'text/html; charset=utf-8'),
    '/review': file('review.html', 'text/html; charset=utf-8'),
    '/assets/app.js': file('app.js', 'text/javascript; charset=utf-8'),
    '/assets/review.js': file('review.js', 'text/javascript; charset=utf-8'),
    '/assets/app.css': file('app.css', 'text/css; charset=utf-8'),
    '/assets/favicon.svg': file('favicon.svg', 'image/svg+xml'),
    '/assets/chart.js': { body: readFileSync(chartJsFile()), type: 'text/javascript; charset=utf-8', cache: 'public, max-age=86400' },
  };
  for (const [url, asset] of Object.entries(assets)) {
    app.get(url, async (_req, reply) => reply.type(asset.type).header('cache-control', asset.cache).send(asset.body));
  }
}
