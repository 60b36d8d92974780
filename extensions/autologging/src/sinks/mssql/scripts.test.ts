/**
 * The T-SQL scripts, checked without a server: re-runnable by construction, and naming the
 * objects and columns the TypeScript code uses.
 */
import { describe, expect, it } from 'vitest';
import { TABLES } from './columns.ts';
import { readScripts } from './embed-sql.ts';
import { MIN_RETENTION_YEARS } from './partition-plan.ts';
import { SCHEMA_SCRIPTS, SCHEMA_VERSION, splitBatches } from './scripts.ts';
import { SQL_SCRIPTS } from './sql-scripts.ts';
import {
  PARTITION_FUNCTION,
  PARTITION_SCHEME,
  PROCEDURES,
  SCHEMA,
  SPLIT_WOULD_MOVE_ROWS,
  STATE_TABLE,
  VERSION_TABLE,
} from './statements.ts';

/** The text with comments removed; string literals are kept (dynamic SQL is checked too). */
function stripComments(sql: string): string {
  let out = '';
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'") {
      const end = findStringEnd(sql, i);
      out += sql.slice(i, end + 1);
      i = end;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && sql[i + 1] === '*') {
      i = sql.indexOf('*/', i + 2) + 1;
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

function findStringEnd(sql: string, start: number): number {
  for (let i = start + 1; i < sql.length; i++) {
    if (sql[i] === "'") {
      if (sql[i + 1] === "'") i++;
      else return i;
    }
  }
  throw new Error(`unterminated string at ${start}`);
}

const scripts = SCHEMA_SCRIPTS.map((s) => ({
  ...s,
  batches: splitBatches(s.text).map(stripComments),
}));
const allBatches = scripts.flatMap((s) =>
  s.batches.map((text, i) => ({ script: s.name, number: i + 1, text })),
);
const everything = allBatches.map((b) => b.text).join('\nGO\n');

const KINDS = [
  'TABLE',
  'INDEX',
  'VIEW',
  'PROCEDURE',
  'PROC',
  'FUNCTION',
  'TRIGGER',
  'SCHEMA',
  'ROLE',
  'USER',
  'TYPE',
  'SEQUENCE',
  'SYNONYM',
  'PARTITION\\s+FUNCTION',
  'PARTITION\\s+SCHEME',
];
/** `CREATE [OR ALTER] [UNIQUE] [[NON]CLUSTERED] <kind> <name>`. */
const CREATE = new RegExp(
  '\\bCREATE\\s+(OR\\s+ALTER\\s+)?(?:UNIQUE\\s+)?(?:(?:NON)?CLUSTERED\\s+)?' +
    `(${KINDS.join('|')})\\s+([\\w.[\\]]+)`,
  'gi',
);

/** `WITH (DATA_COMPRESSION = PAGE) ON <scheme> (<column>)`, as a pattern. */
const onScheme = (column: string) =>
  `\\s+WITH \\(DATA_COMPRESSION = PAGE\\) ON ${PARTITION_SCHEME} \\(${column}\\)`;

/** The body of the CREATE TABLE of `name`, as one line per column or constraint. */
function createTable(name: string): string {
  const start = everything.search(new RegExp(`CREATE TABLE ${name.replace('.', '\\.')} \\(`, 'i'));
  expect(start, `CREATE TABLE ${name}`).toBeGreaterThan(-1);
  const open = everything.indexOf('(', start);
  let depth = 0;
  for (let i = open; i < everything.length; i++) {
    if (everything[i] === '(') depth++;
    if (everything[i] === ')' && --depth === 0) return everything.slice(open + 1, i);
  }
  throw new Error(`unbalanced CREATE TABLE ${name}`);
}

/** Column name → { type, nullable, hasDefault } of a CREATE TABLE body. */
function columnsOf(body: string) {
  const columns = new Map<string, { type: string; nullable: boolean; hasDefault: boolean }>();
  for (const line of body.split(/,\s*\n/)) {
    const m = /^\s*(\w+)\s+([a-z0-9]+(?:\((?:max|\d+)\))?)\s+(NOT NULL|NULL)(.*)$/is.exec(line);
    if (!m || m[1]!.toUpperCase() === 'CONSTRAINT') continue;
    columns.set(m[1]!, {
      type: m[2]!.toLowerCase(),
      nullable: m[3]!.toUpperCase() === 'NULL',
      hasDefault: /\bDEFAULT\b/i.test(m[4]!),
    });
  }
  return columns;
}

describe('schema scripts', () => {
  it('are embedded in the agent exactly as they are in sql/', () => {
    expect(SQL_SCRIPTS).toEqual(readScripts());
  });

  it('are numbered 1, 2, 3... and this agent knows the highest', () => {
    expect(SCHEMA_SCRIPTS.map((s) => s.version)).toEqual(SCHEMA_SCRIPTS.map((_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(SCHEMA_SCRIPTS.length);
  });

  it.each(scripts.map((s) => [s.name, s] as const))(
    '%s records its own version, once, as its last batch',
    (name, script) => {
      const last = script.batches.at(-1)!;
      expect(last).toContain(
        `IF NOT EXISTS (SELECT 1 FROM ${VERSION_TABLE} WHERE version = ${script.version})`,
      );
      expect(last).toContain(`VALUES (${script.version}, N'${name}')`);
    },
  );

  it.each(allBatches.map((b) => [`${b.script} batch ${b.number}`, b.text] as const))(
    '%s can run again: it sets options, grants, checks before it acts, or is CREATE OR ALTER',
    (_name, batch) => {
      const first = /^\s*(\w+(?:\s+OR\s+ALTER)?)/i
        .exec(batch)?.[1]
        ?.toUpperCase()
        .replace(/\s+/g, ' ');
      expect(['SET', 'GRANT', 'IF', 'CREATE OR ALTER']).toContain(first);
      if (first === 'IF') {
        expect(batch).toMatch(
          /^\s*IF\s+(NOT\s+EXISTS\b|\w+\s*\(\s*N'[^']+'(?:\s*,\s*N'\w+')?\s*\)\s+IS\s+NULL)/i,
        );
      }
      if (first !== 'CREATE OR ALTER') {
        expect(batch).not.toMatch(/\bDROP\s/i);
        expect(batch).not.toMatch(/\bALTER\s+(TABLE|PARTITION)/i);
      }
    },
  );

  it('check for each object they create, by its name, or create it with CREATE OR ALTER', () => {
    const unguarded: string[] = [];
    for (const { text } of allBatches) {
      for (const match of text.matchAll(CREATE)) {
        const [, orAlter, kind, name] = match;
        const objectName = name!.replace(/[[\]]/g, '').replace(/^N?'|\($/g, '');
        if (orAlter) {
          if (!/^(VIEW|PROCEDURE|PROC|FUNCTION|TRIGGER)$/i.test(kind!)) unguarded.push(objectName);
          continue;
        }
        const before = text.slice(0, match.index);
        const guard = before.slice(before.search(/\bIF\b(?![\s\S]*\bIF\b)/i));
        const short = objectName.split('.').at(-1)!;
        const named = guard.includes(`N'${objectName}'`) || guard.includes(`N'${short}'`);
        if (!/^IF\b/i.test(guard) || !named || !/IS NULL|NOT EXISTS/i.test(guard)) {
          unguarded.push(`${kind} ${objectName}`);
        }
      }
    }
    expect(unguarded).toEqual([]);
  });

  it('keep every view to blind indexes, never ciphertext, and let readers see each one', () => {
    const views = [...everything.matchAll(/CREATE OR ALTER VIEW ([\w.]+)/gi)].map((m) => m[1]!);
    expect(views.length).toBeGreaterThanOrEqual(6);
    const script3 = scripts.find((s) => s.name === '003-views.sql')!.batches.join('\n');
    expect(script3).not.toMatch(/_enc\b/);
    for (const view of views) {
      expect(everything).toContain(`GRANT SELECT ON ${view} TO autologging_reader;`);
    }
  });
});

describe('schema objects the agent uses', () => {
  it('include the schema, the partition function (RANGE RIGHT on datetime2(3)) and scheme', () => {
    expect(everything).toContain(`SCHEMA_ID(N'${SCHEMA}')`);
    expect(everything).toContain(
      `CREATE PARTITION FUNCTION ${PARTITION_FUNCTION} (datetime2(3)) '\n    + N'AS RANGE RIGHT`,
    );
    expect(everything).toContain(`CREATE PARTITION SCHEME ${PARTITION_SCHEME}`);
  });

  it.each(Object.entries(PROCEDURES))('include the procedure %s (%s)', (_key, name) => {
    expect(everything).toMatch(
      new RegExp(`CREATE OR ALTER PROCEDURE ${name.replace('.', '\\.')}\\b`),
    );
  });

  it('give the procedures the parameters and results the agent uses', () => {
    const proc = (name: string) => {
      const at = everything.indexOf(`CREATE OR ALTER PROCEDURE ${name}`);
      return everything.slice(
        at,
        everything.indexOf('\nGO', at) === -1 ? undefined : everything.indexOf('\nGO', at),
      );
    };
    expect(proc(PROCEDURES.splitYear)).toMatch(/@boundary datetime2\(3\)\s+WITH EXECUTE AS OWNER/);
    expect(proc(PROCEDURES.splitYear)).toContain(`THROW ${SPLIT_WOULD_MOVE_ROWS},`);
    expect(proc(PROCEDURES.removeBefore)).toMatch(
      /@boundary datetime2\(3\),\s+@retention_years int = 3,\s+@now datetime2\(3\) = NULL/,
    );
    expect(proc(PROCEDURES.removeBefore)).toContain(`@retention_years < ${MIN_RETENTION_YEARS}`);
    expect(proc(PROCEDURES.removeBefore)).toContain('SELECT boundary FROM @merged');
    for (const column of [
      'boundary',
      'partition_number',
      'table_name',
      'row_count',
      'range_from',
      'range_to',
    ]) {
      expect(proc(PROCEDURES.partitionStatus)).toMatch(new RegExp(`(?:AS |p\\.)${column}\\b`));
    }
  });

  it('remove years only by TRUNCATE of partitions and MERGE, never by DELETE', () => {
    expect(everything).not.toMatch(/\bDELETE\s+FROM\b/i);
    for (const spec of TABLES) {
      expect(everything).toContain(`TRUNCATE TABLE ${SCHEMA}.${spec.table} WITH (PARTITIONS (`);
    }
  });

  it.each(TABLES.map((t) => [t.table, t] as const))(
    'include the table %s with the columns, types and nullability the agent loads',
    (table, spec) => {
      const columns = columnsOf(createTable(`${SCHEMA}.${table}`));
      for (const c of spec.columns) {
        expect(columns.get(c.name), `${table}.${c.name}`).toMatchObject({
          type: c.type,
          nullable: c.nullable,
        });
      }
      const loaded = new Set(spec.columns.map((c) => c.name));
      for (const [name, c] of columns) {
        if (!loaded.has(name)) expect(c.nullable || c.hasDefault, `${table}.${name}`).toBe(true);
      }
      expect(columns.has('forwarded_at')).toBe(true);
    },
  );

  it.each(TABLES.map((t) => [t.table, t] as const))(
    'partition %s by year on its time column, with aligned keys holding the time',
    (table, spec) => {
      const body = createTable(`${SCHEMA}.${table}`);
      const pk = new RegExp(
        `CONSTRAINT pk_${table} PRIMARY KEY CLUSTERED \\(([^)]*)\\)${onScheme(spec.time)}`,
      ).exec(body);
      expect(pk, `clustered key of ${table}`).not.toBeNull();
      expect(pk![1]!.split(/,\s*/)[0]).toBe(spec.time);

      const uq = new RegExp(
        `CONSTRAINT uq_${table}_identity UNIQUE NONCLUSTERED \\(([^)]*)\\)${onScheme(spec.time)}`,
      ).exec(body);
      expect(uq, `identity key of ${table}`).not.toBeNull();
      expect(new Set(uq![1]!.split(/,\s*/))).toEqual(new Set([...spec.identity, spec.time]));

      const after = everything.slice(
        everything.indexOf(body) + body.length,
        everything.indexOf(body) + body.length + 80,
      );
      expect(after).toMatch(new RegExp(`^\\)\\s+ON ${PARTITION_SCHEME} \\(${spec.time}\\);`));
    },
  );

  it('align every other index of a partitioned table too', () => {
    const indexes = [
      ...everything.matchAll(
        new RegExp(
          'CREATE NONCLUSTERED INDEX (\\w+) ON ([\\w.]+) \\(([^)]*)\\)' +
            '\\s+WITH \\(DATA_COMPRESSION = PAGE\\) ON (\\w+) \\((\\w+)\\)',
          'g',
        ),
      ),
    ];
    expect(indexes.length).toBeGreaterThan(0);
    expect(everything.match(/CREATE NONCLUSTERED INDEX/g)!.length).toBe(indexes.length);
    for (const [, , table, , scheme, column] of indexes) {
      const spec = TABLES.find((t) => `${SCHEMA}.${t.table}` === table)!;
      expect(scheme).toBe(PARTITION_SCHEME);
      expect(column).toBe(spec.time);
    }
  });

  it('include the cursor table with the columns the forwarder reads and writes', () => {
    const columns = columnsOf(createTable(STATE_TABLE));
    for (const name of [
      'agent',
      'journal_rev',
      'runs_after',
      'journal_last_rev',
      'batches',
      'records',
      'updated_at',
    ]) {
      expect(columns.get(name)?.nullable, name).toBe(false);
    }
    expect(columnsOf(createTable(VERSION_TABLE)).has('version')).toBe(true);
  });
});

describe('splitBatches', () => {
  it.each([
    [
      'on GO lines in any case, with spaces or a comment',
      'a\nGO\nb\n  go  \nc\nGo -- next\nd',
      ['a', 'b', 'c', 'd'],
    ],
    [
      'not on GO inside a line or a word',
      'SELECT 1 GO\nGOTO x\nGOTOx',
      ['SELECT 1 GO\nGOTO x\nGOTOx'],
    ],
    ['dropping empty and comment-only batches', 'GO\n-- only a comment\nGO\na\nGO\n', ['a']],
    ['with Windows line ends', 'a\r\nGO\r\nb\r\n', ['a', 'b']],
  ])('splits %s', (_name, script, batches) => {
    expect(splitBatches(script)).toEqual(batches);
  });
});
