#!/usr/bin/env node
// The page's proof-of-work solver (web/pow-worker.js) against node:crypto: its SHA-256 on many
// inputs of every length around the block boundaries, the solver's midstate path for challenges
// of every prefix length and nonces across digit-count changes, and solutions at a few bits.
// Counts work, not time. Exits 0 only if every check passed; the last line is `N passed, M failed`.
//
// Usage: node sha256.test.mjs [--worker PATH]   (default: web/pow-worker.js of this tree)
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
let file = path.resolve(HERE, '../../web/pow-worker.js');
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--worker' && i + 1 < process.argv.length) file = process.argv[++i];
  else { console.log(`unknown argument ${process.argv[i]}`); process.exit(2); }
}

// The worker file in a context of its own, without worker globals: only its functions load.
const ctx = vm.createContext({});
vm.runInContext(fs.readFileSync(file, 'utf8'), ctx, { filename: file });
const { sha256, Solver } = ctx.PowSolver;

let passed = 0, failed = 0;
function check(name, fn) {
  try { fn(); passed++; console.log(`ok ${passed + failed} - ${name}`); } catch (e) {
    failed++; console.log(`not ok ${passed + failed} - ${name}\n  ${String(e.stack || e).split('\n').join('\n  ')}`);
  }
}
const node = (buf) => createHash('sha256').update(buf).digest('hex');
function eq(got, want, what) {
  if (got !== want) throw new Error(`${what}: got ${got}, want ${want}`);
}
// A deterministic generator (xorshift32), so a failure repeats.
let seed = 0x9e3779b9;
function rnd(n) { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % n; }
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const word = (n, abc) => Array.from({ length: n }, () => abc[rnd(abc.length)]).join('');

check('sha256 of the standard test vectors', () => {
  eq(sha256(new Uint8Array(0)), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', '""');
  eq(sha256(Buffer.from('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', '"abc"');
  const two = 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq';
  eq(sha256(Buffer.from(two)), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1', 'two blocks');
});

check('sha256 equals node:crypto for every length 0..300 (random bytes)', () => {
  for (let n = 0; n <= 300; n++) {
    for (let k = 0; k < 3; k++) {
      const b = randomBytes(n);
      eq(sha256(new Uint8Array(b)), node(b), `length ${n}`);
    }
  }
});

check('sha256 equals node:crypto for 2,000 random lengths up to 5,000 bytes', () => {
  for (let k = 0; k < 2000; k++) {
    const b = randomBytes(rnd(5001));
    eq(sha256(new Uint8Array(b)), node(b), `length ${b.length}`);
  }
});

// Challenges shaped like the server's, with queue names of every length 1..64: the prefix
// (challenge ":") then ends at every offset of its last block, and the nonce's digits cross into
// a second block for some of them.
check('the solver\'s digest equals node:crypto for every prefix length and nonces across digit counts', () => {
  const nonces = [0, 1, 9, 10, 11, 99, 100, 999, 1000, 9999, 10000, 65535, 99999, 100000, 123456789,
    999999999, 1000000000, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, 9007199254740000];
  let n = 0;
  for (let qlen = 1; qlen <= 64; qlen++) {
    const challenge = `pow1.${word(qlen, 'abcdefghijklmnopqrstuvwxyz0123456789-')}.18.1767225600000.${word(22, B64URL)}.${word(22, B64URL)}`;
    const s = new Solver(challenge);
    const list = nonces.concat(Array.from({ length: 30 }, () => rnd(2 ** 31)));
    for (const x of list) {
      const want = node(Buffer.from(`${challenge}:${x}`));
      eq(s.hex(x), want, `${challenge}:${x}`);
      eq((s.word0(x) >>> 0).toString(16).padStart(8, '0'), want.slice(0, 8), `word0 ${challenge}:${x}`);
      n++;
    }
    // Runs of consecutive nonces (the solver's own order), through 9 → 10 and 99 → 100 digits.
    for (let x = 0; x < 120; x++) eq(s.hex(x), node(Buffer.from(`${challenge}:${x}`)), `${challenge}:${x}`);
  }
  if (n < 64 * 40) throw new Error(`only ${n} digests checked`);
});

check('short and long challenges (prefix of 1 to 200 characters)', () => {
  for (let len = 1; len <= 200; len++) {
    const c = word(len, B64URL + '.');
    const s = new Solver(c);
    for (const x of [0, 7, 42, 12345, 1e12 + 3]) eq(s.hex(x), node(Buffer.from(`${c}:${x}`)), `${c}:${x}`);
  }
});

// A solution at b bits: node:crypto agrees it has b leading zero bits, and no smaller nonce
// from the start has (the solver takes the first one, in order).
function zeroBits(hex) {
  let bits = 0;
  for (const ch of hex) { const v = parseInt(ch, 16); if (v === 0) { bits += 4; continue; } return bits + Math.clz32(v) - 28; }
  return bits;
}
check('search finds the first nonce with enough leading zero bits (bits 0, 1, 4, 8, 12, 16)', () => {
  for (const bits of [0, 1, 4, 8, 12, 16]) {
    const c = `pow1.shop.${bits}.1767225600000.${word(22, B64URL)}.${word(22, B64URL)}`;
    const s = new Solver(c);
    const n = s.search(0, 1 << 24, bits);
    if (n < 0) throw new Error(`no solution at ${bits} bits in 2^24 tries`);
    const h = node(Buffer.from(`${c}:${n}`));
    if (zeroBits(h) < bits) throw new Error(`${c}:${n} → ${h} has ${zeroBits(h)} zero bits, want ${bits}`);
    for (let x = 0; x < n && x < 5000; x++) {
      if (zeroBits(node(Buffer.from(`${c}:${x}`))) >= bits) throw new Error(`${c}:${x} was a solution before ${n}`);
    }
    // Resuming from a later start finds a later solution, never an earlier one.
    const again = s.search(n + 1, 1 << 24, bits);
    if (!(again > n) || zeroBits(node(Buffer.from(`${c}:${again}`))) < bits) throw new Error(`resumed search gave ${again}`);
  }
});

check('search reports -1 when the range has no solution', () => {
  const c = `pow1.shop.32.1767225600000.${word(22, B64URL)}.${word(22, B64URL)}`;
  const s = new Solver(c);
  // 32 bits in 1,000 tries: a solution would be a 1 in 4 million chance.
  eq(s.search(0, 1000, 32), -1, '32 bits in 1,000 tries');
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed || !passed ? 1 : 0);
