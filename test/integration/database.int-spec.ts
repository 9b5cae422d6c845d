import { Socket } from 'node:net';
import { Logger } from '@nestjs/common';
import type { Transaction } from '../../src/database/database.types';
import { settleAll } from '../../src/database/settle-all';
import { createTestDatabase, dropDatabase, startTestApp, TestApp } from '../factories/test-app';

describe('DatabaseService transactions, pipelined (real PostgreSQL)', () => {
  let dbUrl: string;
  let api: TestApp;

  beforeAll(async () => {
    dbUrl = await createTestDatabase();
    api = await startTestApp(dbUrl);
    await api.db.query(`CREATE TABLE pipeline_probe (id text PRIMARY KEY, n integer NOT NULL)`);
  });
  afterAll(async () => {
    await api?.close();
    await dropDatabase(dbUrl);
  });

  const ids = async (prefix: string) =>
    (await api.db.query<{ id: string }>(`SELECT id FROM pipeline_probe WHERE id LIKE $1 ORDER BY id`, [`${prefix}%`])).rows.map(
      (r) => r.id,
    );
  const insert = (tx: { query: TestApp['db']['query'] }, id: string) => tx.query(`INSERT INTO pipeline_probe (id, n) VALUES ($1, 1)`, [id]);

  /** The most socket writes any one connection made while fn ran. */
  const writesOf = async (fn: () => Promise<unknown>) => {
    const writes = new Map<Socket, number>();
    const count = (socket: Socket) => writes.set(socket, (writes.get(socket) ?? 0) + 1);
    // Spy without replacing: record which socket wrote, then let Node write as usual.
    const original = { write: Socket.prototype._write, writev: Socket.prototype._writev };
    Socket.prototype._write = function (this: Socket, ...args: Parameters<Socket['_write']>) {
      count(this);
      return original.write.apply(this, args);
    };
    Socket.prototype._writev = function (this: Socket, ...args: Parameters<NonNullable<Socket['_writev']>>) {
      count(this);
      return original.writev?.apply(this, args);
    };
    try {
      await fn();
    } finally {
      Socket.prototype._write = original.write;
      Socket.prototype._writev = original.writev;
    }
    return Math.max(...writes.values());
  };

  it('warns at start when the server keeps no planner statistics (autovacuum off), and only then', async () => {
    const show = jest.spyOn(api.db.reports, 'query');
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      for (const autovacuum of ['on', 'off']) {
        show.mockResolvedValueOnce({ rows: [{ autovacuum }], rowCount: 1 });
        await api.db.onApplicationBootstrap();
      }
      expect(show.mock.calls.map(([sql]) => sql)).toEqual(['SHOW autovacuum', 'SHOW autovacuum']);
      expect(warn.mock.calls).toEqual([[expect.stringMatching(/autovacuum off: run ANALYZE/)]]);
    } finally {
      show.mockRestore();
      warn.mockRestore();
    }
  });

  it('sends BEGIN with the first statements and statements issued together in one socket write', async () => {
    const writes = await writesOf(() =>
      api.db.transaction(async (tx) => {
        await Promise.all([insert(tx, 'batch-1'), insert(tx, 'batch-2'), insert(tx, 'batch-3')]);
      }),
    );
    expect(await ids('batch-')).toEqual(['batch-1', 'batch-2', 'batch-3']);
    // The transaction's connection wrote twice: BEGIN + the three inserts, then COMMIT (not five times).
    expect(writes).toBe(2);
  });

  it('sends COMMIT with the last statements when they are handed over', async () => {
    const writes = await writesOf(() =>
      api.db.transaction(async (tx) => {
        await insert(tx, 'eager-1');
        tx.later(insert(tx, 'eager-2'));
        tx.later(insert(tx, 'eager-3'));
      }),
    );
    expect(await ids('eager-')).toEqual(['eager-1', 'eager-2', 'eager-3']);
    // BEGIN + eager-1, then eager-2 + eager-3 + COMMIT: the answer to the last batch is not waited for.
    expect(writes).toBe(2);
  });

  it('waits for a handed-over chain before COMMIT: it may still send statements', async () => {
    const writes = await writesOf(() =>
      api.db.transaction(async (tx) => {
        tx.later(
          (async () => {
            await insert(tx, 'handed-chain-1');
            await insert(tx, 'handed-chain-2');
          })(),
        );
      }),
    );
    expect(await ids('handed-chain-')).toEqual(['handed-chain-1', 'handed-chain-2']);
    expect(writes).toBe(3);
  });

  it('rolls back when the last handed-over statement fails after COMMIT was sent with it, and reports its error', async () => {
    await insert(api.db, 'last-0');
    const failed = api.db.transaction(async (tx) => {
      await insert(tx, 'last-1');
      tx.later(insert(tx, 'last-0')); // unique violation, COMMIT right behind it
    });
    await expect(failed).rejects.toMatchObject({ code: '23505' });
    expect(await ids('last-')).toEqual(['last-0']);
    await api.db.transaction((tx) => insert(tx, 'last-2')); // the connection went back to the pool clean
    expect(await ids('last-')).toEqual(['last-0', 'last-2']);
  });

  it('refuses a value pg cannot send before anything is sent, so COMMIT cannot go without it', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const failed = api.db.transaction(async (tx) => {
      await insert(tx, 'circular-1');
      tx.later(tx.query(`INSERT INTO pipeline_probe (id, n) VALUES ($1, ($2::jsonb ->> 'n')::int)`, ['circular-2', circular]));
    });
    await expect(failed).rejects.toThrow(/circular/i);
    expect(await ids('circular-')).toEqual([]);
  });

  it('runs afterCommit callbacks once the transaction committed, and never when it rolled back', async () => {
    const ran: string[] = [];
    await api.db.transaction(async (tx) => {
      tx.afterCommit(() => ran.push('committed'));
      await insert(tx, 'hook-1');
      expect(ran).toEqual([]); // not before COMMIT
    });
    await expect(
      api.db.transaction(async (tx) => {
        tx.afterCommit(() => ran.push('rolled back'));
        await tx.query('SELECT 1 / 0');
      }),
    ).rejects.toMatchObject({ code: '22012' });
    expect(ran).toEqual(['committed']);
  });

  it('a failing afterCommit callback does not turn a committed transaction into a failure', async () => {
    const ran: string[] = [];
    await api.db.transaction(async (tx) => {
      tx.afterCommit(() => {
        throw new Error('callback failed');
      });
      tx.afterCommit(() => ran.push('second'));
      // Code that only knows the service (not the transaction) registers on the ambient one.
      api.db.afterCommit(() => ran.push('ambient'));
      await insert(tx, 'hook-2');
    });
    expect(ran).toEqual(['second', 'ambient']);
    expect(await ids('hook-2')).toEqual(['hook-2']);
    api.db.afterCommit(() => ran.push('outside')); // no transaction: at once
    expect(ran).toEqual(['second', 'ambient', 'outside']);
  });

  it('commits a handed-over write that nobody awaited', async () => {
    await api.db.transaction(async (tx) => {
      tx.later(insert(tx, 'later-1'));
      await insert(tx, 'later-2');
    });
    expect(await ids('later-')).toEqual(['later-1', 'later-2']);
  });

  it('rolls everything back when a handed-over write fails, and reports that write error', async () => {
    await insert(api.db, 'dup-0');
    const failed = api.db.transaction(async (tx) => {
      await insert(tx, 'dup-1');
      tx.later(insert(tx, 'dup-0')); // unique violation
      await insert(tx, 'dup-2'); // runs in the aborted transaction
    });
    await expect(failed).rejects.toMatchObject({ code: '23505' });
    expect(await ids('dup-')).toEqual(['dup-0']);
  });

  it('rolls back statements issued together when one of them fails', async () => {
    const failed = api.db.transaction(async (tx) => {
      await Promise.all([insert(tx, 'together-1'), tx.query(`SELECT 1 / 0`), insert(tx, 'together-2')]);
    });
    await expect(failed).rejects.toMatchObject({ code: '22012' });
    expect(await ids('together-')).toEqual([]);
    // The connection went back to the pool clean: the next transaction works.
    await api.db.transaction((tx) => insert(tx, 'together-3'));
    expect(await ids('together-')).toEqual(['together-3']);
  });

  it('refuses the statements a chain sends after its transaction rolled back (a sibling threw in JavaScript)', async () => {
    const chain = async (tx: Transaction) => {
      await insert(tx, 'chain-1');
      await insert(tx, 'chain-2');
      await insert(tx, 'chain-3');
    };
    const checked = async (tx: Transaction) => {
      await tx.query('SELECT 1');
      throw new Error('refused by a check in JavaScript');
    };
    // Promise.all gives up at the first failure while the chain goes on: its later statements must not
    // run autocommitted after the ROLLBACK, nor in the next borrower's transaction.
    let chained: Promise<void> | undefined;
    await expect(api.db.transaction((tx) => Promise.all([(chained = chain(tx)), checked(tx)]))).rejects.toThrow(
      'refused by a check in JavaScript',
    );
    await api.db.transaction((tx) => insert(tx, 'chain-next'));
    // The chain has finished (refused): it can send nothing more.
    await expect(chained).rejects.toThrow('Statement issued after its transaction ended');
    expect(await ids('chain-')).toEqual(['chain-next']);
  });

  it('settleAll lets every chain of a batch finish inside the transaction, then throws the failure', async () => {
    let chainFinished = false;
    const chain = async (tx: Transaction) => {
      await insert(tx, 'settled-1');
      await new Promise((resolve) => setTimeout(resolve, 50)); // still working when its sibling fails
      await insert(tx, 'settled-2');
      chainFinished = true;
    };
    const checked = async (tx: Transaction) => {
      await tx.query('SELECT 1');
      throw new Error('refused by a check in JavaScript');
    };
    await expect(api.db.transaction((tx) => settleAll([chain(tx), checked(tx)]))).rejects.toThrow('refused by a check in JavaScript');
    expect(chainFinished).toBe(true); // with Promise.all its second insert is refused: the transaction was over
    expect(await ids('settled-')).toEqual([]);
  });

  it('settleAll reports the statement that failed, not the "transaction aborted" of those after it', async () => {
    const failed = api.db.transaction((tx) => settleAll([tx.query('SELECT 1 / 0'), insert(tx, 'aborted-1')]));
    await expect(failed).rejects.toMatchObject({ code: '22012' });
    expect(await ids('aborted-')).toEqual([]);
  });

  it('fails when COMMIT finds the transaction aborted by a statement whose error was swallowed', async () => {
    const swallowed = api.db.transaction(async (tx) => {
      await insert(tx, 'swallowed-1');
      await tx.query('SELECT 1 / 0').catch(() => undefined);
    });
    await expect(swallowed).rejects.toThrow(/COMMIT answered ROLLBACK/);
    expect(await ids('swallowed-')).toEqual([]);
  });

  it('commits one statement without waiting for the disk, in one socket write, and leaves the connection synchronous', async () => {
    const setting = `SELECT current_setting('synchronous_commit') AS commit, $1::text AS id`;
    let answer: { commit: string; id: string } | undefined;
    const writes = await writesOf(async () => {
      answer = (await api.db.commitWithoutFlush<{ commit: string; id: string }>(setting, ['unflushed'])).rows[0];
    });
    expect(answer).toEqual({ commit: 'off', id: 'unflushed' });
    // BEGIN, SET LOCAL, the statement and COMMIT leave together.
    expect(writes).toBe(1);
    await api.db.commitWithoutFlush(`INSERT INTO pipeline_probe (id, n) VALUES ($1, 1)`, ['unflushed-1']);
    expect(await ids('unflushed-')).toEqual(['unflushed-1']);
    // SET LOCAL ended with its transaction: every pooled connection commits synchronously again.
    const after = await Promise.all(Array.from({ length: 25 }, () => api.db.query<{ commit: string }>(setting, ['after'])));
    expect(new Set(after.map((r) => r.rows[0].commit))).toEqual(new Set(['on']));
  });

  it('rolls back a statement committed without flush that fails, and refuses to run inside another transaction', async () => {
    await expect(api.db.commitWithoutFlush(`INSERT INTO pipeline_probe (id, n) VALUES ($1, NULL)`, ['nosync-null'])).rejects.toMatchObject({
      code: '23502',
    });
    // Inside a transaction, SET LOCAL would make the outer transaction's commit unflushed: refused.
    await expect(
      api.db.transaction(async (tx) => {
        await insert(tx, 'nosync-outer');
        await api.db.commitWithoutFlush(`INSERT INTO pipeline_probe (id, n) VALUES ($1, 1)`, ['nosync-inner']);
      }),
    ).rejects.toThrow(/not inside a transaction/);
    expect(await ids('nosync-')).toEqual([]);
  });
});
