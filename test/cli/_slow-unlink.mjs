// Preloaded into a CLI child (NODE_OPTIONS=--import) by test/cli/get-failure.test.ts: a slow
// disk, as seen by `get`'s cleanup. Each unlink waits 500 ms, long enough for the file's stream
// to finish closing, which is when a write stream destroyed by pipeline() emits its error.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const unlink = fs.promises.unlink;
fs.promises.unlink = async (...args) => {
  await new Promise((resolve) => setTimeout(resolve, 500));
  return unlink(...args);
};
syncBuiltinESMExports();
