import { setFlagsFromString } from 'node:v8';

/**
 * Keeps WebAssembly on V8's baseline compiler (Liftoff) for the rest of the process, unless
 * the operator chose (`--liftoff`, `--liftoff-only`, `--wasm-tier-up` or their `--no-` forms
 * on the command line or in NODE_OPTIONS). Returns whether it did. Must run before the first
 * WebAssembly module is compiled: undici compiles its HTTP parser (llhttp) on the first
 * connection to the VCS.
 *
 * Why: V8 tiers the parser up to TurboFan once it is hot, and that compilation's memory
 * stays with the process: the agent's peak RSS while streaming 1 GiB was 150 MiB with
 * tier-up and 118 MiB without, for the same throughput within the run-to-run noise
 * (docs/performance.md). The parser is a small share of the agent's work per request.
 * V8 13 (Node 24) ignores the flag once the process runs: there this is a no-op, and
 * `node --liftoff-only` on the command line does the same.
 */
export function keepWasmOnBaselineCompiler(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const chosen = /--(?:no-)?(?:liftoff|liftoff-only|liftoff_only|wasm-tier-up|wasm_tier_up)\b/;
  if (execArgv.some((arg) => chosen.test(arg)) || chosen.test(nodeOptions ?? '')) return false;
  setFlagsFromString('--liftoff-only');
  return true;
}
