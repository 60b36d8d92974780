import { describe, expect, it } from 'vitest';
import { OutputError, readOutput } from './output.ts';

describe('readOutput', () => {
  it('reads a JSON array, an OData { value } page and a single object', () => {
    expect(readOutput('[{"a":1},{"a":2}]', 'json').map((r) => r.where)).toEqual(['row 1', 'row 2']);
    expect(readOutput('{"@odata.context":"x","value":[{"a":1}]}', 'json')).toEqual([
      { row: { a: 1 }, where: 'row 1' },
    ]);
    expect(readOutput('\uFEFF{"a":1}\r\n', 'json')).toEqual([{ row: { a: 1 }, where: 'row 1' }]);
  });

  it('marks JSON list items that are not objects, in place', () => {
    expect(readOutput('[{"a":1},"x",{"a":2}]', 'json')).toEqual([
      { row: { a: 1 }, where: 'row 1' },
      { problem: 'is not a JSON object', where: 'row 2' },
      { row: { a: 2 }, where: 'row 3' },
    ]);
  });

  it('throws OutputError on JSON output that is not JSON or not objects', () => {
    expect(() => readOutput('[{"a":1}', 'json')).toThrow(OutputError);
    expect(() => readOutput('"just text"', 'json')).toThrow(OutputError);
  });

  it('gives no rows for blank output in any format', () => {
    for (const format of ['json', 'ndjson', 'csv'] as const) {
      expect(readOutput(' \r\n', format)).toEqual([]);
    }
  });

  it('keeps CSV problems in line order among the rows', () => {
    expect(readOutput('a,b\n1,2\n3\n4,5\n', 'csv').map((r) => r.where)).toEqual([
      'line 2',
      'line 3',
      'line 4',
    ]);
  });
});
