// CPU profile of GET /users/me under load: identity-service and api-gateway run with --cpu-prof, load goes through
// the gateway, and each profile is summarised (self time by function, and by package) on stdout.
//
//   node -r ./libs/testing/src/register-ts.cjs bench/identity/profile.ts [profile.cpuprofile … to only summarise those]
//
// PROFILE_DIR (default $TMPDIR/identity-profile), BENCH_DURATION (seconds, default 10), BENCH_CONNECTIONS (16),
// PROFILE_TARGET (gateway | direct, default gateway), plus bench/lib's variables.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runLoad } from '../lib';
import { withOneAccountStack } from './fixture';

const DURATION = Number(process.env['BENCH_DURATION'] ?? 10);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 16);
const PROFILE_DIR = process.env['PROFILE_DIR'] ?? path.join(os.tmpdir(), 'identity-profile');
const TARGET = process.env['PROFILE_TARGET'] ?? 'gateway';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
}

/** Where a frame comes from: the package under node_modules, node's own code, or our source. */
function origin(url: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url;
  return url ? path.relative(process.cwd(), url.replace('file://', '')) : '(native)';
}

function summarise(file: string, top = 25): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const count = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  const byFunction = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  const inclusiveByOrigin = new Map<string, number>();
  for (const id of profile.samples) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    count(byFunction, `${functionName || '(anonymous)'} ${origin(url)}:${lineNumber + 1}`);
    count(byOrigin, origin(url));
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) onStack.add(origin(byId.get(at)!.callFrame.url));
    for (const name of onStack) count(inclusiveByOrigin, name);
  }
  const total = profile.samples.length;
  const table = (counts: Map<string, number>) =>
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, n]) => `  ${((100 * n) / total).toFixed(1).padStart(5)} %  ${name}`)
      .join('\n');
  return `${path.basename(file)} (${total} samples)\n self time by function:\n${table(byFunction)}\n self time by origin:\n${table(byOrigin)}\n inclusive time by origin:\n${table(inclusiveByOrigin)}`;
}

async function main(): Promise<void> {
  const summariseOnly = process.argv.slice(2);
  if (summariseOnly.length) {
    for (const file of summariseOnly) process.stdout.write(`${summarise(file)}\n`);
    return;
  }
  const dirs = { identity: path.join(PROFILE_DIR, 'identity-service'), gateway: path.join(PROFILE_DIR, 'api-gateway') };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  const profiled = (dir: string) => ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  await withOneAccountStack(async ({ identity, gateway, token, stopping }) => {
    const result = await runLoad({
      url: `${TARGET === 'direct' ? identity.url : gateway.url}/users/me`,
      headers: { authorization: `Bearer ${token}` },
      duration: DURATION,
      connections: CONNECTIONS,
    });
    process.stdout.write(`GET /users/me ${TARGET}: ${JSON.stringify(result)}\n`);
    // a profile is written on a graceful exit
    for (const stop of stopping.splice(0).reverse()) await stop();
    for (const dir of Object.values(dirs)) {
      const latest = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort().at(-1);
      if (latest) process.stdout.write(`\n${summarise(path.join(dir, latest))}\n`);
    }
  }, { identity: profiled(dirs.identity), gateway: profiled(dirs.gateway) });
}

main().catch((err) => {
  process.stderr.write(`bench/identity/profile failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
