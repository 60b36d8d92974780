import { describe, expect, it } from 'vitest';
import { parseCsv } from './csv.ts';

describe('parseCsv', () => {
  it('reads a header and rows, CRLF or LF', () => {
    expect(parseCsv('a,b\r\n1,2\n3,4\r\n')).toEqual({
      columns: ['a', 'b'],
      rows: [
        { line: 2, values: { a: '1', b: '2' } },
        { line: 3, values: { a: '3', b: '4' } },
      ],
      problems: [],
    });
  });

  it('reads quoted fields holding delimiters, doubled quotes and line breaks', () => {
    const text = 'name,note\n"Kim, Minjun","said ""hi""\nand left"\nplain,""\n';
    expect(parseCsv(text).rows).toEqual([
      { line: 2, values: { name: 'Kim, Minjun', note: 'said "hi"\nand left' } },
      { line: 4, values: { name: 'plain', note: '' } },
    ]);
  });

  it('uses another delimiter when told', () => {
    expect(parseCsv('a;b\n1;"x;y"', ';').rows).toEqual([{ line: 2, values: { a: '1', b: 'x;y' } }]);
  });

  it('drops a byte order mark, trims column names and skips blank lines', () => {
    const { columns, rows } = parseCsv('\uFEFF a , b \n\n1,2\n\n');
    expect(columns).toEqual(['a', 'b']);
    expect(rows).toEqual([{ line: 3, values: { a: '1', b: '2' } }]);
  });

  it('reports a record with the wrong number of fields by line, keeping the others', () => {
    const { rows, problems } = parseCsv('a,b\n1,2\n3,4,5\n6,7\n');
    expect(rows.map((r) => r.line)).toEqual([2, 4]);
    expect(problems).toEqual([{ line: 3, reason: 'has 3 fields where the header has 2' }]);
  });

  it('reports a stray quote and a quote never closed', () => {
    const { rows, problems } = parseCsv('a,b\nx"y,2\n"ok",3\n"open,4\n');
    expect(rows).toEqual([{ line: 3, values: { a: 'ok', b: '3' } }]);
    expect(problems).toEqual([
      { line: 2, reason: 'has a quote in the middle of a field' },
      { line: 4, reason: 'has a quote that is never closed' },
    ]);
  });

  it('reads a last record without a line break, and an empty text', () => {
    expect(parseCsv('a\n1').rows).toEqual([{ line: 2, values: { a: '1' } }]);
    expect(parseCsv('')).toEqual({ columns: [], rows: [], problems: [] });
  });
});
