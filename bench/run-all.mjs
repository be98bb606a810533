#!/usr/bin/env node
// `npm run bench`: builds the apps once, runs every bench (each in its own isolated world, services as separate
// processes from dist/, autocannon in a child process, medians of BENCH_RUNS rounds), then writes
// bench/results/SUMMARY.md: every goal of issue 7 with its measured value, from the benches' JSON results.
//
//   node bench/run-all.mjs                 webhooks, worker, identity, scale
//   node bench/run-all.mjs webhooks scale  only these
//   node bench/run-all.mjs --summary       only rebuild SUMMARY.md from the latest results
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const results = join(root, 'bench/results');
const ALL = ['webhooks', 'worker', 'identity', 'scale'];
const args = process.argv.slice(2);
const summaryOnly = args.includes('--summary');
const chosen = args.filter((a) => !a.startsWith('--'));
const benches = chosen.length ? chosen : ALL;
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', BENCH_SKIP_BUILD: '1' };

const failed = [];
if (!summaryOnly) {
  console.log('→ build');
  if (spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static'], { cwd: root, stdio: 'inherit', env }).status !== 0) process.exit(1);
  for (const bench of benches) {
    const entry = join(root, 'bench', bench, 'run.ts');
    if (!existsSync(entry)) {
      console.error(`✗ no bench/${bench}/run.ts`);
      failed.push(bench);
      continue;
    }
    console.log(`→ bench/${bench}`);
    const started = Date.now();
    const run = spawnSync(process.execPath, ['-r', join(root, 'libs/testing/src/register-ts.cjs'), entry], { cwd: root, stdio: 'inherit', env });
    console.log(`  bench/${bench}: exit ${run.status} after ${Math.round((Date.now() - started) / 1000)} s`);
    if (run.status !== 0) failed.push(bench);
  }
}

const fmt = (v) => (typeof v === 'number' && Number.isFinite(v) ? String(Math.round(v * 100) / 100) : 'n/a');
const mark = (met) => (met === undefined || met === null ? '' : met ? 'yes' : '**no**');
const lines = ['# Bench summary', '', 'Every goal the benches measure, from the latest `bench/results/<bench>.json` (medians of several interleaved runs).', ''];
lines.push('| bench | goal | measured | target | met |', '|---|---|---:|---|---|');
const rss = [];
for (const bench of ALL) {
  const file = join(results, `${bench}.json`);
  if (!existsSync(file)) {
    lines.push(`| ${bench} | (not run) | | | |`);
    continue;
  }
  const data = JSON.parse(readFileSync(file, 'utf8'));
  for (const r of data.ratios ?? []) lines.push(`| ${bench} | ${r.name} (${r.metric}) | ${fmt(r.value)}× | ${r.goal === undefined ? '' : `${r.metric === 'rps' ? '≥' : '≤'} ${r.goal}×`} | ${mark(r.met)} |`);
  for (const v of (data.values ?? []).filter((v) => v.goal)) lines.push(`| ${bench} | ${v.name} | ${fmt(v.value)} ${v.unit} | ${v.goal} | ${mark(v.met)} |`);
  for (const [name, m] of Object.entries(data.memory_mb ?? {})) rss.push(`| ${bench} | ${name} | ${fmt(m?.now_mb)} | ${fmt(m?.peak_mb)} | ≤ 150 | ${m ? mark(m.now_mb <= 150) : ''} |`);
  lines.push(`| ${bench} | _run_ | ${data.finished_at} · commit ${data.commit} · load average ${(data.load_average ?? []).join(' ')} | | |`);
}
if (rss.length) lines.push('', '| bench | process | RSS after load MB (VmRSS) | peak RSS MB (VmHWM) | target (after load) | met |', '|---|---|---:|---:|---|---|', ...rss);
writeFileSync(join(results, 'SUMMARY.md'), `${lines.join('\n')}\n`);
console.log(`summary: ${join(results, 'SUMMARY.md')}`);
if (failed.length) {
  console.error(`✗ failed: ${failed.join(', ')}`);
  process.exit(1);
}
