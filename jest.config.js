// Unit tests (src, *.spec.ts) and integration/e2e tests (test/) against real PostgreSQL.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '.*\\.(spec|int-spec|e2e-spec)\\.ts$',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  maxWorkers: 2,
  // A worker that has run the integration files exits on its own, with nothing left open, but not
  // within jest's default 500 ms: Node waits for V8's background GC tasks and then frees a heap of
  // 600-800 MB (garbage from ~20 files of fresh module graphs), which took 0.8-0.9 s on a loaded 2-core
  // machine. Past the timeout jest kills the worker and reports a leak that is not there. A handle that
  // is really left open still keeps a worker past this timeout, so it is still reported.
  workerGracefulExitTimeout: 3_000,
  testTimeout: 60_000,
};
