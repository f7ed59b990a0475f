/**
 * CPU accounting, from /proc (Linux): on a small machine every process competes for the same
 * cores, so each figure says what the benchmark's processes, the services and everything else
 * spent while it was measured.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fmt } from './format.js';
import { now, sleep } from './options.js';

export interface CpuSample {
  readonly at: number;
  readonly busy: number;
  readonly steal: number;
  readonly ticks: Map<number, { readonly comm: string; readonly ppid: number; readonly ticks: number }>;
}

/** CPU time of every process, from /proc (Linux); undefined elsewhere. */
export function cpuSample(): CpuSample | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  const ticks = new Map<number, { comm: string; ppid: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      ticks.set(Number(name), {
        comm: stat.slice(stat.indexOf('(') + 1, close),
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
      });
    } catch {}
  }
  const [, user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] =
    readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.split(/\s+/).map(Number) ?? [];
  return { at: now(), ticks, busy: user + nice + system + irq + softirq, steal };
}

/** The key under which `cpuSpent` gives the wall time between its samples. */
const wall = '(wall)';
const clockTick = 10; // ms per tick: USER_HZ is 100 on Linux

/** Other processes' CPU and wall time over every measured phase. */
export const loadTotals = { other: 0, wall: 0 };

/** The service a process (by its command name) belongs to, or undefined for other processes. */
export function serviceOf(comm: string): string | undefined {
  if (comm === 'postgres') return 'PostgreSQL';
  if (comm === 'beam.smp' || comm.startsWith('erl') || comm.startsWith('1_scheduler')) return 'RabbitMQ';
  return undefined;
}

/** As `serviceOf`, MariaDB's server too (for benchmarks that run on it: elsewhere its idle work is other load). */
export function serviceOrMariadb(comm: string): string | undefined {
  return comm === 'mariadbd' ? 'MariaDB' : serviceOf(comm);
}

/**
 * CPU milliseconds by consumer between two samples; `mine` names this benchmark's processes,
 * `service` the services' (by their command name).
 */
export function cpuSpent(
  from: CpuSample | undefined,
  to: CpuSample | undefined,
  mine: ReadonlyMap<number, string>,
  service: (comm: string) => string | undefined = serviceOf,
): Record<string, number> {
  if (!from || !to) return {};
  const out: Record<string, number> = {};
  const ours = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 20; p = to.ticks.get(p)?.ppid ?? 0, hops++) {
      if (p === process.pid) return true;
    }
    return false;
  };
  for (const [pid, { comm, ticks }] of to.ticks) {
    const spent = (ticks - (from.ticks.get(pid)?.ticks ?? 0)) * clockTick;
    if (spent <= 0) continue;
    const who =
      mine.get(pid) ?? (pid === process.pid || ours(pid) ? 'coordinator' : (service(comm) ?? 'other processes'));
    if (who !== 'other processes') out[who] = (out[who] ?? 0) + spent;
  }
  // Other processes: the machine's busy time less what the processes above account for.
  const known = Object.values(out).reduce((a, b) => a + b, 0);
  out['other processes'] = Math.max(0, (to.busy - from.busy) * clockTick - known);
  if (to.steal > from.steal) out['stolen by the hypervisor'] = (to.steal - from.steal) * clockTick;
  out[wall] = to.at - from.at;
  loadTotals.other += out['other processes'] ?? 0;
  loadTotals.wall += out[wall] ?? 0;
  return out;
}

/** Cores that processes other than the benchmark's and its services' kept busy, on average. */
export function otherLoad(cpu: Record<string, number>): number {
  return (cpu['other processes'] ?? 0) / Math.max(1, cpu[wall] ?? 0);
}

export function addCpu(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** CPU per unit, by consumer: `subscriber 0.41, PostgreSQL 0.80` (ms). */
export function cpuPer(cpu: Record<string, number>, units: number, scale = 1): string {
  return Object.entries(cpu)
    .filter(([k, v]) => k !== 'coordinator' && k !== wall && (v * scale) / Math.max(1, units) >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${fmt((v * scale) / Math.max(1, units), 2)}`)
    .join(', ');
}

/** Cores each consumer kept busy: `subscriber 0.95, PostgreSQL 0.60`. */
export function coresBusy(cpu: Record<string, number>): string {
  const ms = Math.max(1, cpu[wall] ?? 0);
  return Object.entries(cpu)
    .filter(([k, v]) => k !== wall && v / ms >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${fmt(v / ms, 2)}`)
    .join(', ');
}

/**
 * Waits, up to `maxSeconds`, until the whole machine keeps fewer than `cores` cores busy over a
 * second (between phases this benchmark's own processes are idle, so what is left is other
 * work); returns the seconds waited. On a shared machine, a burst of other work would otherwise
 * fall on one side of a comparison and not the other. With a `label`, says when it gives up.
 */
export async function quiet(maxSeconds: number, options: { cores?: number; label?: string } = {}): Promise<number> {
  const started = now();
  while (maxSeconds > 0) {
    const a = cpuSample();
    await sleep(1000);
    const b = cpuSample();
    if (!a || !b) break;
    const busy = ((b.busy - a.busy) * clockTick) / (b.at - a.at);
    if (busy < (options.cores ?? 0.3)) break;
    if (now() - started >= maxSeconds * 1000) {
      if (options.label)
        console.log(`  ${options.label}: other processes still keep ${fmt(busy, 2)} cores busy; measuring anyway`);
      break;
    }
  }
  return (now() - started) / 1000;
}

export function sumCpu(...all: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of all) addCpu(out, x);
  return out;
}
