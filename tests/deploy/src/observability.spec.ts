import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { metricsIn } from './support/promql';
import { ROOT, formatErrors, prometheusRulesValidator, readText, yamlDocuments } from './support/schemas';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return entry === 'node_modules' ? [] : sourceFiles(full);
    return /\.ts$/.test(entry) && !/\.spec\.ts$|spec-helper/.test(entry) ? [full] : [];
  });
}

/** Every metric the services register: the names given to prom-client instruments in apps/ and libs/, and its defaults. */
async function exposedMetrics(): Promise<Set<string>> {
  const names = new Set<string>(['up']);
  for (const file of [...sourceFiles(path.join(ROOT, 'apps')), ...sourceFiles(path.join(ROOT, 'libs'))]) {
    const text = readFileSync(file, 'utf8');
    if (!text.includes("from 'prom-client'")) continue;
    for (const match of text.matchAll(/name:\s*'([a-z_:][a-z0-9_:]*)'/g)) names.add(match[1]);
  }
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const metric of await registry.getMetricsAsJSON()) names.add(metric.name);
  return names;
}

describe('alert rules and dashboard', () => {
  const [rules] = yamlDocuments('deploy/prometheus/alerts.yaml') as { groups: { rules: { alert: string; expr: string }[] }[] }[];
  const dashboard = JSON.parse(readText('deploy/grafana/saas-platform.json'));
  const panelExprs: { title: string; expr: string }[] = dashboard.panels.flatMap((p: { title: string; targets?: { expr: string }[] }) =>
    (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })),
  );

  it('when the alert rules are validated against the Prometheus rule-file schema, then they conform', () => {
    const validate = prometheusRulesValidator();
    expect(validate(rules) ? '' : formatErrors(validate.errors)).toBe('');
  });

  it('when the alert rules are read, then dead letters, an open breaker, the outbox backlog and the 5xx rate each have one', () => {
    const byMetric = (metric: string) => rules.groups.flatMap((g) => g.rules).filter((r) => metricsIn(r.expr).includes(metric));
    expect(byMetric('integration_events_failed_total').length).toBeGreaterThan(0);
    expect(byMetric('integration_circuit_state').length).toBeGreaterThan(0);
    expect(byMetric('webhook_outbox_backlog').length).toBeGreaterThan(0);
    expect(rules.groups.flatMap((g) => g.rules).some((r) => /status=~"5\.\."/.test(r.expr) && metricsIn(r.expr).includes('http_request_duration_seconds'))).toBe(true);
  });

  it('when alerts and dashboard panels query metrics, then every metric is one the services expose', async () => {
    const exposed = await exposedMetrics();
    const queries = [...rules.groups.flatMap((g) => g.rules.map((r) => ({ title: r.alert, expr: r.expr }))), ...panelExprs];
    const unknown = queries.flatMap((q) => metricsIn(q.expr).filter((m) => !exposed.has(m)).map((m) => `${q.title}: ${m}`));
    expect(unknown).toEqual([]);
  });

  it('when the dashboard is imported, then panel ids are unique and every query names the Prometheus data source variable', () => {
    const ids = dashboard.panels.map((p: { id: number }) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels.filter((p: { type: string }) => p.type !== 'row')) expect(panel.datasource.uid).toBe('${datasource}');
    expect(dashboard.templating.list.map((v: { name: string }) => v.name)).toContain('datasource');
  });
});

describe('metricsIn', () => {
  it('when an expression mixes functions, labels, ranges and grouping, then only the metric names remain', () => {
    expect(metricsIn('histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket{route!="x"}[5m]))) > 1')).toEqual([
      'http_request_duration_seconds',
    ]);
    expect(metricsIn('count(integration_circuit_state == 2) or vector(0)')).toEqual(['integration_circuit_state']);
  });
});
