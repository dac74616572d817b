/**
 * Reads .cpuprofile files (from `--cpu-prof`) and prints where the samples
 * went: self time by function, and by file (node_modules package, node:
 * internal or project file), as a share of all samples and in seconds.
 *
 *   node --import tsx scripts/bench/profile-top.ts [--top=N] [--callers=NAME] FILE...
 *
 * Several files are summed (e.g. the runs of one tool). `--callers=NAME`
 * adds the call paths (up to five frames) into the functions named NAME.
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
const callersOf = args.find((a) => a.startsWith('--callers='))?.slice(10);
const files = args.filter((a) => !a.startsWith('--'));
if (files.length === 0) {
  process.stderr.write('usage: node --import tsx scripts/bench/profile-top.ts [--top=N] FILE...\n');
  process.exit(2);
}

/** node_modules/<pkg>, node:<module>, or the path below the project. */
function where(url: string): string {
  if (url === '') return '(native / VM)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return url;
  const project = /\/(src|support|scripts|test)\/.*/.exec(url);
  return project ? project[0].slice(1) : url;
}

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
const byPath = new Map<string, number>();
let totalUs = 0;
for (const file of files) {
  const p = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
  // Each sample's time is the delta to the next one (the last sample gets none).
  for (let i = 0; i < p.samples.length; i++) {
    const us = p.timeDeltas[i + 1] ?? 0;
    const n = nodes.get(p.samples[i]!);
    if (!n) continue;
    const f = n.callFrame;
    const name = label(n);
    if (callersOf !== undefined && f.functionName === callersOf) {
      const path: string[] = [];
      for (let id = parent.get(n.id); id !== undefined && path.length < 5; id = parent.get(id)) path.push(label(nodes.get(id)!));
      const key = path.join(' < ');
      byPath.set(key, (byPath.get(key) ?? 0) + us);
    }
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const w = f.functionName === '(idle)' || f.functionName === '(program)' || f.functionName === '(garbage collector)' ? f.functionName : where(f.url);
    byFile.set(w, (byFile.get(w) ?? 0) + us);
    totalUs += us;
  }
}

function print(title: string, m: Map<string, number>): void {
  process.stdout.write(`\n${title} (of ${(totalUs / 1e6).toFixed(2)} s sampled)\n`);
  for (const [k, us] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${(us / 1e6).toFixed(2).padStart(7)} s  ${k}\n`);
  }
}
print('self time by file', byFile);
print('self time by function', byFunction);
if (callersOf !== undefined) print(`call paths into ${callersOf}`, byPath);
