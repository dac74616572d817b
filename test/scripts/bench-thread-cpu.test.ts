// The bench's split of a process's CPU into its main thread and the others
// (scripts/bench/measure.ts threadCpu), which "Where the CPU went" reports
// for the gateway: a child that spins in one place and idles in the other
// must be charged on the side that spun.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import t from 'tap';
import { threadCpu } from '../../scripts/bench/measure.js';

const SPIN_MS = 1500;

/** A Node child that spins ~SPIN_MS of CPU on its main thread or in a worker thread, then says "done" and waits to be killed. */
function spinner(where: 'main' | 'worker'): ChildProcess {
  // Spins until the process has spent SPIN_MS more CPU (not wall time, which a loaded machine stretches).
  const spin = `const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; }; const end = cpu() + ${SPIN_MS}; while (cpu() < end) {}`;
  const program =
    where === 'main'
      ? `${spin}; process.stdout.write('done\\n'); setInterval(() => {}, 1000);`
      : `const { Worker } = require('node:worker_threads');
         const w = new Worker(${JSON.stringify(spin)}, { eval: true });
         w.on('exit', () => { process.stdout.write('done\\n'); setInterval(() => {}, 1000); });`;
  return spawn(process.execPath, ['-e', program], { stdio: ['ignore', 'pipe', 'inherit'] });
}

async function spun(where: 'main' | 'worker'): Promise<{ main: number; others: number }> {
  const child = spinner(where);
  const exited = once(child, 'exit');
  try {
    // "done", or the child's early end as a failure (not a wait until tap's timeout).
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (d: string) => (out += d).includes('done') && resolve());
      void exited.then(([code, signal]) => reject(new Error(`the spinner exited early (${String(code ?? signal)})`)));
    });
    return await threadCpu(child.pid!);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

t.test('CPU spent on the main thread is charged to the main thread', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const cpu = await spun('main');
  t.ok(cpu.main >= (SPIN_MS / 1000) * 0.7, `main thread ${cpu.main} s`);
  t.ok(cpu.others < cpu.main / 2, `other threads ${cpu.others} s`);
});

t.test('CPU spent in a worker thread is charged to the other threads, also after the worker exited', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const cpu = await spun('worker');
  t.ok(cpu.others >= (SPIN_MS / 1000) * 0.7, `other threads ${cpu.others} s`);
  t.ok(cpu.main < cpu.others / 2, `main thread ${cpu.main} s`);
});
