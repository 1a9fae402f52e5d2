// axe-core accessibility checks of the page a test is on, and their summary file.
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { artifactsDir } from './browser.mjs';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Impacts that fail a test. */
export const BLOCKING_IMPACTS = new Set(['serious', 'critical']);

/**
 * Runs axe-core on the page as it is and returns a summary.
 *
 * The gateway's pages carry a strict CSP (script-src 'self', no inline scripts), so
 * page.addScriptTag — which inserts an inline <script> — is refused. The axe source is
 * instead evaluated through the DevTools protocol (page.evaluate), which the page's CSP does
 * not govern. That keeps the CSP on while axe runs: `bypassCSP` would switch it off for the
 * whole browser context, i.e. test pages that differ from the ones people get.
 */
export async function runAxe(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(`${axeSource}\n;void 0`);
  }
  const results = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ['violations'] }),
  );
  return {
    url: results.url,
    violations: results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    })),
    passes: results.passes.length,
    incomplete: results.incomplete.length,
  };
}

export function impactCounts(violations) {
  const counts = { minor: 0, moderate: 0, serious: 0, critical: 0 };
  for (const v of violations) counts[v.impact] = (counts[v.impact] || 0) + 1;
  return counts;
}

export function axeVersion() {
  return JSON.parse(readFileSync(require.resolve('axe-core/package.json'), 'utf8')).version;
}

/** Writes artifacts/axe-<prefix>.json: page name → violations and counts. */
export async function writeAxeSummary(prefix, pages, base) {
  await mkdir(artifactsDir, { recursive: true });
  const summary = Object.fromEntries(
    Object.entries(pages).map(([name, s]) => [
      name,
      { ...s, url: s.url.replace(base, ''), counts: impactCounts(s.violations) },
    ]),
  );
  const file = path.join(artifactsDir, `axe-${prefix}.json`);
  await writeFile(file, `${JSON.stringify({ axeVersion: axeVersion(), pages: summary }, null, 2)}\n`);
}

/** The serious or critical violations over every checked page. */
export function blockingViolations(pages) {
  return Object.entries(pages).flatMap(([name, s]) =>
    s.violations.filter((v) => BLOCKING_IMPACTS.has(v.impact)).map((v) => ({ page: name, ...v })),
  );
}
