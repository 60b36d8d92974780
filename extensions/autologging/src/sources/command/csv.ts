/**
 * A small CSV reader (RFC 4180): fields separated by one delimiter character, optionally quoted
 * with `"`, a quote inside quotes written twice, line breaks inside quotes kept, CRLF or LF
 * between records. The first record names the columns.
 */

/** One record of a CSV text, by column name, with the line it starts on (from 1). */
export interface CsvRow {
  line: number;
  values: Record<string, string>;
}

/** A record that could not be read; names the line, never the content. */
export interface CsvProblem {
  line: number;
  reason: string;
}

/** What a CSV text held. */
export interface CsvTable {
  columns: string[];
  rows: CsvRow[];
  problems: CsvProblem[];
}

/**
 * Reads CSV text whose first record names the columns. A record with more or fewer fields than
 * the header, or a quote never closed, becomes a problem; blank lines are skipped. Column names
 * are trimmed; values are kept as written.
 */
export function parseCsv(text: string, delimiter = ','): CsvTable {
  const records = splitRecords(text.replace(/^\uFEFF/, ''), delimiter);
  const table: CsvTable = { columns: [], rows: [], problems: [] };
  const header = records.shift();
  if (!header) return table;
  if ('reason' in header) {
    table.problems.push(header);
    return table;
  }
  table.columns = header.fields.map((c) => c.trim());

  for (const record of records) {
    if ('reason' in record) {
      table.problems.push(record);
    } else if (record.fields.length !== table.columns.length) {
      table.problems.push({
        line: record.line,
        reason: `has ${record.fields.length} fields where the header has ${table.columns.length}`,
      });
    } else {
      const values: Record<string, string> = {};
      table.columns.forEach((column, i) => (values[column] = record.fields[i] ?? ''));
      table.rows.push({ line: record.line, values });
    }
  }
  return table;
}

type RawRecord = { line: number; fields: string[] } | CsvProblem;

/** Splits CSV text into records of fields, keeping the line each starts on. */
function splitRecords(text: string, delimiter: string): RawRecord[] {
  const records: RawRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let wasQuoted = false;
  let line = 1;
  let startLine = 1;
  let badQuote = false;

  const endField = () => {
    fields.push(field);
    field = '';
    wasQuoted = false;
  };
  const endRecord = () => {
    endField();
    const blank = fields.length === 1 && fields[0] === '' && !badQuote;
    if (badQuote) records.push({ line: startLine, reason: 'has a quote in the middle of a field' });
    else if (!blank) records.push({ line: startLine, fields });
    fields = [];
    badQuote = false;
  };

  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"') {
      if (field === '' && !wasQuoted) {
        quoted = true;
        wasQuoted = true;
      } else {
        badQuote = true;
      }
    } else if (c === delimiter) {
      endField();
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      startLine = line;
    } else {
      if (wasQuoted) badQuote = true;
      field += c;
    }
  }

  if (quoted) {
    records.push({ line: startLine, reason: 'has a quote that is never closed' });
  } else if (field !== '' || fields.length > 0 || badQuote) {
    endRecord();
  }
  return records;
}
