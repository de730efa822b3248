// Drives js/outbox.js for the Rust tests (mod.rs): one JSON array per line on
// stdin, `[op, ...args]`; one JSON answer per line on stdout.
import { createInterface } from 'node:readline';
import { Outbox, delta } from '../../js/outbox.js';

let o;
const ops = {
  new: (property, viewer, limits) => { o = new Outbox(property, viewer, limits); },
  push: (b) => o.push(b),
  restore: (saved) => o.restore(saved),
  save: () => o.save(),
  batch: (now) => o.batch(now),
  all: () => o.all(),
  finish: (status, now, jitter) => o.finish(status, now, jitter),
  retryAt: () => o.retryAt(),
  len: () => o.length,
  dropped: () => o.dropped,
  delta: (a, b) => {
    const d = delta(a, b);
    return d === undefined ? null : JSON.stringify(d);
  },
};

for await (const line of createInterface({ input: process.stdin })) {
  let answer;
  try {
    const [op, ...args] = JSON.parse(line);
    answer = { ok: ops[op](...args) ?? null };
  } catch (e) {
    answer = { error: String(e?.stack ?? e) };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
