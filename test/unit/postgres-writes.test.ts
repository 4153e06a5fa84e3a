import { describe, expect, it } from 'vitest';
import { WfidError } from '../../src/errors.js';
import {
  PostgresWrites,
  type Query,
  retriesAlone,
} from '../../src/executions/stores/postgres-writes.js';
import type { ExecutionRow } from '../../src/executions/stores/rows.js';

/** pg's DatabaseError, as far as the store looks at it. */
class DatabaseError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const unavailable = (cause: unknown) =>
  new WfidError('ERR_STORE_UNAVAILABLE', 'postgres store unavailable', { cause });

function row(executionId: string): ExecutionRow {
  return {
    engine: 'default',
    execution_id: executionId,
    workflow_id: 'wf',
    metadata: '{}',
    status: 'running',
    started_at: 1,
    deadline: 2,
    ended_at: null,
    status_list: null,
    status_idx: null,
  } as ExecutionRow;
}

describe('postgres group commit: which failed groups are retried write by write', () => {
  it('retries an SQL error of the statement and a deadlock, not a lost server', () => {
    expect(
      retriesAlone(new DatabaseError('invalid input syntax for type json', '22P02'), DatabaseError),
    ).toBe(true);
    expect(
      retriesAlone(unavailable(new DatabaseError('deadlock detected', '40P01')), DatabaseError),
    ).toBe(true);
    expect(
      retriesAlone(unavailable(new DatabaseError('canceling statement', '57014')), DatabaseError),
    ).toBe(false);
    expect(retriesAlone(unavailable(new Error('Connection terminated')), DatabaseError)).toBe(
      false,
    );
  });

  it('answers every write of a deadlocked group from its own statement', async () => {
    const statements: string[] = [];
    const query: Query = async (name) => {
      statements.push(name);
      if (name === 'wfid_write_group')
        throw unavailable(new DatabaseError('deadlock detected', '40P01'));
      return { rows: [{ inserted: 1 }] } as never;
    };
    const writes = new PostgresWrites(query, (err) => retriesAlone(err, DatabaseError), true);
    const answers = await Promise.all([
      writes.insert(row('a'), undefined),
      writes.insert(row('b'), undefined),
    ]);
    expect(answers).toEqual([true, true]);
    expect(statements).toEqual(['wfid_write_group', 'wfid_insert', 'wfid_insert']);
  });

  it('fails the whole group when the server is lost', async () => {
    const lost = unavailable(new Error('Connection terminated'));
    const writes = new PostgresWrites(
      async () => {
        throw lost;
      },
      (err) => retriesAlone(err, DatabaseError),
      true,
    );
    const answers = await Promise.allSettled([
      writes.insert(row('a'), undefined),
      writes.insert(row('b'), undefined),
    ]);
    expect(answers).toEqual([
      { status: 'rejected', reason: lost },
      { status: 'rejected', reason: lost },
    ]);
  });
});
