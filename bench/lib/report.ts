import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LoadResult } from './load';
import { memoryOf, WORKSPACE, type MemoryReading } from './services';

export const RESULTS_DIR = path.join(WORKSPACE, 'bench/results');

/** Issue 7: "RSS ≤ 150 MB per service after load". */
const RSS_GOAL_MB = 150;

export function median(values: number[]): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of raw samples. */
export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface LoadRow {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  runs: number;
  non2xx: number;
  errors: number;
  samples: LoadResult[];
  note?: string;
}

export interface ValueRow {
  name: string;
  value: number;
  unit: string;
  /** e.g. `<= 100` */
  goal?: string;
  met?: boolean;
  note?: string;
}

export interface RatioRow {
  name: string;
  numerator: string;
  denominator: string;
  metric: 'rps' | 'p50' | 'p99';
  value: number;
  goal?: number;
  met?: boolean;
}

export interface Scenario {
  name: string;
  run: () => Promise<LoadResult>;
  note?: string;
}

const round = (n: number, digits = 2) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);

/** Figures of one bench run: load rows (medians of several runs), single values, ratios, memory; written as JSON + Markdown. */
export class BenchReport {
  readonly loads: LoadRow[] = [];
  readonly values: ValueRow[] = [];
  readonly ratios: RatioRow[] = [];
  memory: Record<string, MemoryReading | null> = {};
  readonly startedAt = new Date();

  constructor(
    readonly bench: string,
    readonly settings: Record<string, unknown> = {},
  ) {}

  addLoad(name: string, samples: LoadResult[], note?: string): LoadRow {
    const row: LoadRow = {
      name,
      rps: round(median(samples.map((s) => s.rps)), 1),
      p50: round(median(samples.map((s) => s.p50))),
      p99: round(median(samples.map((s) => s.p99))),
      runs: samples.length,
      non2xx: samples.reduce((n, s) => n + s.non2xx, 0),
      errors: samples.reduce((n, s) => n + s.errors + s.timeouts, 0),
      samples,
      note,
    };
    this.loads.push(row);
    return row;
  }

  /**
   * Runs every scenario `rounds` times, interleaved (A B C, A B C, …) so that drift of the machine affects all of
   * them alike, and records the medians.
   */
  async measure(scenarios: Scenario[], rounds = Number(process.env['BENCH_RUNS'] ?? 3)): Promise<LoadRow[]> {
    const samples = new Map<string, LoadResult[]>(scenarios.map((s) => [s.name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const scenario of scenarios) {
        const result = await scenario.run();
        samples.get(scenario.name)!.push(result);
        process.stderr.write(`  [${this.bench}] ${scenario.name} #${round}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, non-2xx ${result.non2xx}\n`);
      }
    }
    return scenarios.map((s) => this.addLoad(s.name, samples.get(s.name)!, s.note));
  }

  addValue(row: ValueRow): void {
    this.values.push({ ...row, value: round(row.value) });
  }

  /** numerator / denominator of a metric of two load rows; `goal` is a lower bound for rps, an upper bound for latency. */
  ratio(name: string, numerator: string, denominator: string, goal?: number, metric: RatioRow['metric'] = 'rps'): RatioRow {
    const find = (n: string) => {
      const row = this.loads.find((l) => l.name === n);
      if (!row) throw new Error(`no load row named ${n}`);
      return row;
    };
    const value = round(find(numerator)[metric] / find(denominator)[metric]);
    const met = goal === undefined ? undefined : metric === 'rps' ? value >= goal : value <= goal;
    const row: RatioRow = { name, numerator, denominator, metric, value, goal, met };
    this.ratios.push(row);
    return row;
  }

  /** Reads each process's resident memory now (call it right after the load): peak and current RSS. */
  setMemory(pids: Record<string, number>): void {
    for (const [name, pid] of Object.entries(pids)) this.memory[name] = memoryOf(pid);
  }

  private meta() {
    let commit = 'unknown';
    try {
      commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: WORKSPACE, encoding: 'utf8' }).trim();
    } catch {
      /* not a git checkout */
    }
    return {
      bench: this.bench,
      started_at: this.startedAt.toISOString(),
      finished_at: new Date().toISOString(),
      commit,
      node: process.version,
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model,
      load_average: os.loadavg().map((l) => round(l)),
      settings: this.settings,
    };
  }

  markdown(): string {
    const meta = this.meta();
    const lines = [
      `# ${this.bench}`,
      '',
      `${meta.finished_at} · commit ${meta.commit} · Node ${meta.node} · ${meta.cpus} CPUs · load average ${meta.load_average.join(' ')}`,
      Object.keys(meta.settings).length ? `\nSettings: ${Object.entries(meta.settings).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}` : '',
      '',
    ];
    if (this.loads.length) {
      lines.push('| scenario | req/s (median) | p50 ms | p99 ms | runs | non-2xx | errors | note |', '|---|---:|---:|---:|---:|---:|---:|---|');
      for (const l of this.loads) lines.push(`| ${l.name} | ${l.rps} | ${l.p50} | ${l.p99} | ${l.runs} | ${l.non2xx} | ${l.errors} | ${l.note ?? ''} |`);
      lines.push('');
    }
    if (this.values.length) {
      lines.push('| figure | value | goal | met | note |', '|---|---:|---|---|---|');
      for (const v of this.values) lines.push(`| ${v.name} | ${v.value} ${v.unit} | ${v.goal ?? ''} | ${v.met === undefined ? '' : v.met ? 'yes' : '**no**'} | ${v.note ?? ''} |`);
      lines.push('');
    }
    if (this.ratios.length) {
      lines.push('| ratio | value | goal | met |', '|---|---:|---|---|');
      for (const r of this.ratios) {
        const goal = r.goal === undefined ? '' : `${r.metric === 'rps' ? '≥' : '≤'} ${r.goal}`;
        lines.push(`| ${r.name} (${r.metric}: ${r.numerator} / ${r.denominator}) | ${r.value}× | ${goal} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`);
      }
      lines.push('');
    }
    const memory = Object.entries(this.memory);
    if (memory.length) {
      lines.push(`| process | RSS after load (VmRSS) MB | peak RSS (VmHWM) MB | goal (after load) | met |`, '|---|---:|---:|---|---|');
      for (const [name, m] of memory) lines.push(`| ${name} | ${m?.now_mb ?? 'n/a'} | ${m?.peak_mb ?? 'n/a'} | ≤ ${RSS_GOAL_MB} | ${m ? (m.now_mb <= RSS_GOAL_MB ? 'yes' : '**no**') : ''} |`);
      lines.push('');
    }
    return lines.join('\n');
  }

  /** Writes bench/results/<bench>.json and .md (the latest run) and returns their paths. */
  write(): { json: string; markdown: string } {
    mkdirSync(RESULTS_DIR, { recursive: true });
    const json = path.join(RESULTS_DIR, `${this.bench}.json`);
    const markdown = path.join(RESULTS_DIR, `${this.bench}.md`);
    const data = { ...this.meta(), loads: this.loads, values: this.values, ratios: this.ratios, memory_mb: this.memory };
    writeFileSync(json, `${JSON.stringify(data, null, 2)}\n`);
    writeFileSync(markdown, `${this.markdown()}\n`);
    return { json, markdown };
  }
}
