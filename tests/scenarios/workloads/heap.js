// SPDX-License-Identifier: MIT
// A Node service: "live" keeps LIVE_MB in small objects and churns garbage for SECONDS; "leak" does a
// job of JOB units, each of which leaks about 1 MiB, at up to RATE units per second, keeping its
// progress in STATE across restarts (a SIGTERM saves it). Prints "done: ..." on success.
//
//   node heap.js live LIVE_MB SECONDS
//   node heap.js leak RATE_MB JOB_MB STATE
'use strict';
const fs = require('fs');
const mode = process.argv[2];

function obj(i) {
  // about 1 KiB of JS heap: a string of 512 two-byte characters would be external; use an array
  const a = new Array(120);
  for (let k = 0; k < a.length; k++) a[k] = i + k;
  return a;
}

if (mode === 'live') {
  const liveMb = +process.argv[3], secs = +process.argv[4];
  const n = liveMb * 1024;
  const live = new Array(n);
  for (let i = 0; i < n; i++) live[i] = obj(i);
  const end = Date.now() + secs * 1000;
  let i = 0;
  (function step() {
    for (let r = 0; r < 10 && Date.now() < end; r++, i++) {
      for (let k = 0; k < n / 64; k++) { const j = (i * Math.floor(n / 64) + k) % n; live[j] = obj(j); }
      let g; for (let k = 0; k < 2000; k++) { g = obj(k); }
    }
    if (Date.now() < end) return setImmediate(step);
    let check = 0;
    for (let j = 0; j < n; j++) { if (live[j][0] !== j) { console.log('heap.js: live object corrupted'); process.exit(1); } check += live[j][0]; }
    console.log('done: checksum ' + check);
  })();
} else {
  const rate = +process.argv[3], job = +process.argv[4], state = process.argv[5];
  let progress = 0;
  try { progress = parseInt(fs.readFileSync(state, 'utf8'), 10) || 0; } catch (e) {}
  const save = () => { fs.writeFileSync(state + '.tmp', progress + '\n'); fs.renameSync(state + '.tmp', state); };
  process.on('SIGTERM', () => { save(); console.log(`leak: SIGTERM at ${progress} of ${job} MiB, progress saved`); process.exit(0); });
  console.log(`leak: starting at ${progress} of ${job} MiB`);
  const leaked = [];
  const t0 = Date.now();
  let thisRun = 0, lastSave = Date.now();
  (function step() {
    while (thisRun < (Date.now() - t0) / 1000 * rate && progress < job) {
      const a = []; for (let k = 0; k < 1024; k++) a.push(obj(k)); leaked.push(a); thisRun++; progress++;
    }
    if (Date.now() - lastSave >= 500) { save(); lastSave = Date.now(); }
    if (progress < job) return setTimeout(step, 10);
    save();
    console.log(`done: job of ${job} MiB finished`);
  })();
}
