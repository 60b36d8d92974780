import { citrixBrokerSource } from './citrix-broker/index.ts';
import { citrixODataSource } from './citrix-odata/index.ts';
import { commandSource } from './command/index.ts';
import { demoSource } from './demo/index.ts';
import { hostMetricsSource } from './host-metrics/index.ts';
import type { SourcePlugin } from './types.ts';
import { windowsEventsSource } from './windows-events/index.ts';
import { windowsSessionsSource } from './windows-sessions/index.ts';

/** Every source kind this build knows, by `kind`. */
export const builtInSources: ReadonlyMap<string, SourcePlugin<unknown>> = new Map(
  [
    demoSource,
    hostMetricsSource,
    citrixODataSource,
    windowsSessionsSource,
    windowsEventsSource,
    citrixBrokerSource,
    commandSource,
  ].map((p) => [p.kind, p as SourcePlugin<unknown>]),
);
