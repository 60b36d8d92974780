/**
 * The options of a `citrix-odata` source, checked once at start-up. Every message names the
 * option; none repeats a secret.
 */
import { z } from 'zod';
import { backfillHoursOption } from '../shared/options.ts';

/** Three years and a leap day: the longest history the agent is asked to keep. */

function whole(name: string, min: number, max: number, fallback: number) {
  return z
    .int({ error: `${name} must be a whole number from ${min} to ${max}` })
    .min(min, { error: `${name} must be at least ${min}` })
    .max(max, { error: `${name} must be at most ${max}` })
    .default(fallback);
}

function seconds(name: string, fallback: number) {
  return z
    .number({ error: `${name} must be a number of seconds from 0.1 to 3600` })
    .min(0.1, { error: `${name} must be at least 0.1 seconds` })
    .max(3600, { error: `${name} must be at most 3600 seconds` })
    .default(fallback);
}

function text(name: string, what: string) {
  return z
    .string({ error: `${name} must be ${what}` })
    .trim()
    .min(1, { error: `${name} must not be empty` })
    .max(256, { error: `${name} must be at most 256 characters` });
}

/** A secret: its messages never include what was typed. */
function secret(name: string) {
  return z
    .string({ error: `${name} must be text in quotes` })
    .min(1, { error: `${name} must not be empty` })
    .max(1024, { error: `${name} must be at most 1024 characters` });
}

function httpUrl(name: string, example: string) {
  return z
    .string({ error: `${name} must be a URL in quotes, e.g. ${example}` })
    .refine((value) => checkUrl(value) === null, {
      error: (issue) => `${name} ${checkUrl(issue.input as string)}, e.g. ${example}`,
    });
}

/** Why `value` is not a usable http(s) service URL, or null when it is. */
function checkUrl(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return 'must start with http:// or https://';
  if (url.username || url.password) return 'must not hold a user name or password';
  if (url.search || url.hash) return 'must not have a query (?…) or fragment (#…)';
  return null;
}

const common = {
  /** Check the server certificate. Turn off only for a test controller. */
  rejectUnauthorized: z
    .boolean({ error: 'rejectUnauthorized must be true or false' })
    .default(true),
  connectTimeoutSeconds: seconds('connectTimeoutSeconds', 15),
  requestTimeoutSeconds: seconds('requestTimeoutSeconds', 120),
  /** Each capture re-reads this much before the last ModifiedDate seen. */
  overlapMinutes: whole('overlapMinutes', 0, 1440, 5),
  pageSize: whole('pageSize', 1, 10_000, 1000),
  backfillHours: backfillHoursOption().default(24),
};

const onPremOptions = z
  .strictObject({
    mode: z.literal('onprem'),
    url: httpUrl('url', 'https://ddc01.corp.example/Citrix/Monitor/OData/v4/Data'),
    domain: z
      .string({ error: 'domain must be a Windows domain name in quotes' })
      .trim()
      .max(255, { error: 'domain must be at most 255 characters' })
      .regex(/^[^\\/@\s]*$/, { error: 'domain must be a domain name such as CORP' })
      .default(''),
    user: text('user', 'an account name in quotes, e.g. svc-autologging'),
    password: secret('password'),
    ...common,
  })
  .refine((o) => !(o.user.includes('\\') && o.domain !== ''), {
    path: ['user'],
    error: 'user names a domain (DOMAIN\\name) and domain is set too: give the domain once',
  });

const cloudOptions = z.strictObject({
  mode: z.literal('cloud'),
  customerId: text('customerId', 'the Citrix Cloud customer ID in quotes').regex(
    /^[A-Za-z0-9_-]+$/,
    {
      error: "customerId must be letters, digits, '-' or '_' (Citrix Cloud > Account settings)",
    },
  ),
  clientId: text('clientId', 'the API client ID in quotes'),
  clientSecret: secret('clientSecret'),
  /** Default: `<origin of apiUrl>/cctrustoauth2/<customerId>/tokens/clients`. */
  tokenUrl: httpUrl(
    'tokenUrl',
    'https://api.cloud.com/cctrustoauth2/CUSTOMER/tokens/clients',
  ).optional(),
  apiUrl: httpUrl('apiUrl', 'https://api.cloud.com/monitorodata').default(
    'https://api.cloud.com/monitorodata',
  ),
  ...common,
});

/**
 * Options of a `citrix-odata` source; `mode` chooses the shape. Unknown keys are rejected.
 *
 * On-premises (`mode: 'onprem'`): `url` (the Delivery Controller, e.g. `https://ddc01`, or the
 * v4 service root `…/Citrix/Monitor/OData/v4/Data`), `user` (`name`, `DOMAIN\name` or a UPN),
 * `domain` (default empty), `password`.
 *
 * Citrix Cloud (`mode: 'cloud'`): `customerId`, `clientId`, `clientSecret`, `apiUrl` (default
 * `https://api.cloud.com/monitorodata`; regional hosts work), `tokenUrl` (default
 * `<origin of apiUrl>/cctrustoauth2/<customerId>/tokens/clients`).
 *
 * Both: `rejectUnauthorized` (true), `connectTimeoutSeconds` (15), `requestTimeoutSeconds`
 * (120), `overlapMinutes` (5, 0-1440), `pageSize` (1000, 1-10000), `backfillHours` (24,
 * 0-26304: how far back the first capture looks).
 */
export const citrixODataOptionsSchema = z.discriminatedUnion(
  'mode',
  [onPremOptions, cloudOptions],
  {
    error: (issue) =>
      issue.code === 'invalid_union' ? "mode must be 'onprem' or 'cloud'" : undefined,
  },
);

/** Validated `citrix-odata` options, defaults filled in. */
export type CitrixODataOptions = z.output<typeof citrixODataOptionsSchema>;

/** The service root an on-premises `url` stands for: a bare controller gets the v4 path. */
export function onPremServiceRoot(url: string): URL {
  const root = new URL(url);
  const path = root.pathname.replace(/\/+$/, '');
  root.pathname = path === '' ? '/Citrix/Monitor/OData/v4/Data' : path;
  return root;
}

/** The token endpoint of a Cloud source: `tokenUrl`, or the default beside `apiUrl`. */
export function cloudTokenUrl(options: {
  tokenUrl?: string | undefined;
  apiUrl: string;
  customerId: string;
}): URL {
  if (options.tokenUrl) return new URL(options.tokenUrl);
  const api = new URL(options.apiUrl);
  return new URL(
    `/cctrustoauth2/${encodeURIComponent(options.customerId)}/tokens/clients`,
    api.origin,
  );
}
