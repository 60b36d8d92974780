import { demoSource } from './demo/index.ts';
import { hostMetricsSource } from './host-metrics/index.ts';
import type { SourcePlugin } from './types.ts';

/** Every source kind this build knows, by `kind`. */
export const builtInSources: ReadonlyMap<string, SourcePlugin<unknown>> = new Map(
  [demoSource, hostMetricsSource].map((p) => [p.kind, p as SourcePlugin<unknown>]),
);
