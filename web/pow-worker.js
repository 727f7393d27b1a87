// The waiting page's proof-of-work solver (web/README.md "Proof of work"), run in a Web Worker so
// the page never stalls. It finds a nonce such that SHA-256(challenge ":" nonce) begins with
// `bits` zero bits (src/pow/challenge.hpp), counting the nonce in decimal from `start`.
//
// SHA-256 is written out here, synchronously: WebCrypto's digest() is one promise per hash,
// far too slow for a loop of a million small hashes, and nothing is fetched from anywhere.
// The challenge is the same for every try, so its full 64-byte blocks are hashed once (the
// "midstate"); each try hashes only the last one or two blocks, with the nonce's digits.
//
// Messages in:  {type: 'solve', challenge, bits, start}   (start: first nonce to try, default 0)
//               {type: 'stop'}                             (stops; the page may also terminate)
// Messages out: {type: 'progress', hashes, expected, next}  about every 100 ms
//               {type: 'found', nonce, hashes, ms}          nonce as a string
//               {type: 'error', message}
// `hashes` counts the tries of this solve; `expected` = 2^bits (the mean number of tries);
// `next` is the nonce the next try would use (a page that stopped may resume from it).
//
// The same file is loaded by tests/browser/sha256.test.mjs in Node (no worker globals there),
// which checks sha256() and Solver against node:crypto.
var PowSolver = (function () {
'use strict';

var K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
var H0 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
  0x5be0cd19];

// One compression: updates the 8 words of `h` (Int32Array) with the 16 words of `w` starting at
// `off` (big-endian words of a 64-byte block). `x` is a 64-word scratch array.
function compress(h, w, off, x) {
  var i, s0, s1, t;
  for (i = 0; i < 16; i++) x[i] = w[off + i];
  for (i = 16; i < 64; i++) {
    t = x[i - 15]; s0 = (t >>> 7 | t << 25) ^ (t >>> 18 | t << 14) ^ (t >>> 3);
    t = x[i - 2]; s1 = (t >>> 17 | t << 15) ^ (t >>> 19 | t << 13) ^ (t >>> 10);
    x[i] = (x[i - 16] + s0 + x[i - 7] + s1) | 0;
  }
  var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (i = 0; i < 64; i++) {
    s1 = (e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7);
    var t1 = (k + s1 + ((e & f) ^ (~e & g)) + K[i] + x[i]) | 0;
    s0 = (a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10);
    var t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
  h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
}

// The bytes of an ASCII string (challenges and nonces are ASCII; other characters are cut to
// their low byte, which no valid challenge has).
function ascii(s) {
  var b = new Uint8Array(s.length);
  for (var i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 255;
  return b;
}

// Big-endian words of `bytes` from `from` (a multiple of 4), into `w` from `at`.
function words(bytes, from, n, w, at) {
  for (var i = 0; i < n; i++) {
    var j = from + 4 * i;
    w[at + i] = bytes[j] << 24 | bytes[j + 1] << 16 | bytes[j + 2] << 8 | bytes[j + 3];
  }
}

// SHA-256 of a byte array (Uint8Array) as 64 hex digits: the plain algorithm, for tests.
function sha256(bytes) {
  var n = bytes.length, blocks = Math.ceil((n + 9) / 64);
  var m = new Uint8Array(blocks * 64);
  m.set(bytes);
  m[n] = 0x80;
  var bitsHi = Math.floor(n / 0x20000000), bitsLo = (n * 8) >>> 0;
  var end = m.length;
  m[end - 8] = bitsHi >>> 24; m[end - 7] = bitsHi >>> 16; m[end - 6] = bitsHi >>> 8; m[end - 5] = bitsHi;
  m[end - 4] = bitsLo >>> 24; m[end - 3] = bitsLo >>> 16; m[end - 2] = bitsLo >>> 8; m[end - 1] = bitsLo;
  var w = new Int32Array(blocks * 16), h = new Int32Array(H0), x = new Int32Array(64);
  words(m, 0, blocks * 16, w, 0);
  for (var b = 0; b < blocks; b++) compress(h, w, b * 16, x);
  var hex = '';
  for (var i = 0; i < 8; i++) hex += ('0000000' + (h[i] >>> 0).toString(16)).slice(-8);
  return hex;
}

// The solver of one challenge. The input is prefix + nonce, prefix = challenge ":"; the
// prefix's full blocks are hashed once here. A nonce is a decimal number (0 .. 2^53).
function Solver(challenge) {
  var p = ascii(challenge + ':');
  var full = p.length - p.length % 64;
  this.mid = new Int32Array(H0);
  this.x = new Int32Array(64);
  var w = new Int32Array(16);
  for (var off = 0; off < full; off += 64) {
    words(p, off, 16, w, 0);
    compress(this.mid, w, 0, this.x);
  }
  this.total = p.length;          // prefix bytes
  this.tail = p.subarray(full);   // prefix bytes after the full blocks (0..63)
  this.len = -1;                  // digits of the nonce the buffers are laid out for
  this.buf = new Uint8Array(128); // last block(s): tail, digits, 0x80, zeros, bit length
  this.w = new Int32Array(32);
  this.h = new Int32Array(8);
}

// Lays out the last block(s) for nonces of `len` digits.
Solver.prototype.layout = function (len) {
  var t = this.tail.length, r = t + len;
  this.len = len;
  this.blocks = r + 9 <= 64 ? 1 : 2;
  var b = this.buf;
  b.fill(0);
  b.set(this.tail);
  b[r] = 0x80;
  var bits = (this.total + len) * 8, end = this.blocks * 64;  // < 2^32: inputs are short
  b[end - 4] = bits >>> 24; b[end - 3] = bits >>> 16; b[end - 2] = bits >>> 8; b[end - 1] = bits;
  words(b, 0, this.blocks * 16, this.w, 0);
  this.first = t >> 2;                 // the first word the digits touch
};

// The first 32 bits of SHA-256(challenge ":" n), as a signed 32-bit integer.
Solver.prototype.word0 = function (n) {
  var s = String(n);
  if (s.length !== this.len) this.layout(s.length);
  var b = this.buf, t = this.tail.length, i;
  for (i = 0; i < s.length; i++) b[t + i] = s.charCodeAt(i);
  var last = (t + s.length) >> 2;
  words(b, this.first * 4, last - this.first + 1, this.w, this.first);
  var h = this.h;
  h.set(this.mid);
  compress(h, this.w, 0, this.x);
  if (this.blocks === 2) compress(h, this.w, 16, this.x);
  return h[0];
};

// The full digest for nonce n as hex (for tests: the same path as word0).
Solver.prototype.hex = function (n) {
  this.word0(n);
  var hex = '';
  for (var i = 0; i < 8; i++) hex += ('0000000' + (this.h[i] >>> 0).toString(16)).slice(-8);
  return hex;
};

// Tries nonces from..from+count-1; returns the first whose hash has `bits` (0..32) leading zero
// bits, or -1.
// The nonce's digits are counted up in place in the block (no string per try); only the words
// they touch are read again.
Solver.prototype.search = function (from, count, bits) {
  var shift = 32 - bits, b = this.buf, w = this.w, h = this.h, x = this.x, mid = this.mid;
  var t = this.tail.length, end = from + count;
  var w0 = this.word0(from);  // lays out the block for `from`'s digits
  for (var n = from; ;) {
    if (bits === 0 || (shift === 0 ? w0 === 0 : (w0 >>> shift) === 0)) return n;
    if (++n >= end) return -1;
    var last = t + this.len - 1, i = last;
    while (i >= t && b[i] === 57) b[i--] = 48;
    if (i < t) { w0 = this.word0(n); continue; }  // one more digit: a new layout
    b[i]++;
    var f = i >> 2;
    words(b, f * 4, (last >> 2) - f + 1, w, f);
    h.set(mid);
    compress(h, w, 0, x);
    if (this.blocks === 2) compress(h, w, 16, x);
    w0 = h[0];
  }
};

return { sha256: sha256, Solver: Solver, compress: compress };
})();

// ---- the worker ------------------------------------------------------------------------------
// The loop runs in slices of a few milliseconds and yields between them through a
// MessageChannel (a setTimeout would be clamped to 4 ms when nested), so a 'stop' is heard at
// once and progress goes out about every 100 ms.
if (typeof self !== 'undefined' && typeof postMessage === 'function' && typeof importScripts === 'function') {
  (function () {
    var run = 0;  // the current solve's number: a stopped or replaced solve's slices end
    var chan = new MessageChannel();
    var next = null;
    chan.port1.onmessage = function () { var f = next; next = null; if (f) f(); };
    function later(f) { next = f; chan.port2.postMessage(0); }
    var now = self.performance && performance.now ? function () { return performance.now(); } : Date.now;

    function solve(challenge, bits, start) {
      var me = ++run, solver = new PowSolver.Solver(challenge), n = start, hashes = 0;
      var t0 = now(), lastReport = t0, slice = 2000;
      function step() {
        if (me !== run) return;
        var s0 = now();
        var found = solver.search(n, slice, bits);
        var done = found >= 0 ? found - n + 1 : slice;
        hashes += done; n += done;
        var t = now();
        if (found >= 0) {
          run++;
          postMessage({ type: 'found', nonce: String(found), hashes: hashes, ms: t - t0 });
          return;
        }
        // About 5 ms of work per slice, whatever the device's speed.
        if (t - s0 < 2) slice = Math.min(slice * 2, 1 << 20); else if (t - s0 > 10) slice = Math.max(slice >> 1, 100);
        if (t - lastReport >= 100) {
          lastReport = t;
          postMessage({ type: 'progress', hashes: hashes, expected: Math.pow(2, bits), next: n });
        }
        if (n > 9007199254740000) { postMessage({ type: 'error', message: 'nonce space exhausted' }); run++; return; }
        later(step);
      }
      later(step);
    }

    self.onmessage = function (e) {
      var m = e.data || {};
      if (m.type === 'stop') { run++; return; }
      if (m.type !== 'solve') return;
      var bits = Math.floor(Number(m.bits)), start = Math.floor(Number(m.start || 0));
      if (typeof m.challenge !== 'string' || !m.challenge || m.challenge.length > 200 || !(bits >= 0 && bits <= 32)) {
        postMessage({ type: 'error', message: 'not a challenge this page can solve' });
        return;
      }
      solve(m.challenge, bits, start >= 0 ? start : 0);
    };
  })();
}
