// The end-to-end tests' Node.js function (nodejs*.x). `index.handler` is async,
// `index.callbackHandler` answers through the callback; `esm.handler` (esm.mjs) is the
// same behaviour loaded as an ES module. Each echoes the event, or does what one of the
// special events of e2e/functions/README.md asks, with the Rust and Python functions'
// answer shapes.
'use strict';

const childProcess = require('child_process');
const fs = require('fs');
const net = require('net');

const MARKER = '/tmp/echo-marker';
const FILL = '/tmp/echo-fill';
// Bounds the fork bomb when nothing else does, so it always ends.
const MAX_CHILDREN = 4096;
const MIB = 1 << 20;

class EchoError extends Error {
  constructor(message) {
    super(message);
    this.name = 'EchoError';
  }
}

function attempt(action) {
  try {
    action();
    return { ok: true, error: null };
  } catch (e) {
    return { ok: false, error: e.message };
  }
}

function connect(addr) {
  const i = addr.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = net.connect({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)) });
    socket.setTimeout(3000);
    socket.on('connect', () => {
      socket.destroy();
      resolve({ ok: true, error: null });
    });
    socket.on('timeout', () => {
      socket.destroy();
      resolve({ ok: false, error: 'connect timed out' });
    });
    socket.on('error', (e) => resolve({ ok: false, error: e.message }));
  });
}

function writeTmp(mb) {
  const block = Buffer.alloc(MIB, 7);
  let written = 0;
  let error = null;
  let fd;
  try {
    fd = fs.openSync(FILL, 'w');
    while (written < mb) {
      fs.writeSync(fd, block);
      written += 1;
    }
    // Delayed allocation can report a full disk only here.
    fs.fsyncSync(fd);
  } catch (e) {
    error = e.message;
  } finally {
    if (fd !== undefined) {
      fs.closeSync(fd);
    }
    // The next invocation starts with the same free space.
    fs.rmSync(FILL, { force: true });
  }
  return { written_mb: written, error };
}

function spawnOne() {
  return new Promise((resolve) => {
    const child = childProcess.spawn('/bin/sleep', ['300'], { stdio: 'ignore' });
    child.once('spawn', () => resolve({ child }));
    child.once('error', (e) => resolve({ error: e.message }));
  });
}

async function forkBomb() {
  const children = [];
  let error = null;
  while (children.length < MAX_CHILDREN) {
    const r = await spawnOne();
    if (r.error) {
      error = r.error;
      break;
    }
    children.push(r.child);
  }
  await Promise.all(
    children.map((c) => new Promise((resolve) => {
      c.once('exit', resolve);
      c.kill('SIGKILL');
    })),
  );
  return { spawned: children.length, error };
}

function tmpMarker() {
  const existed = fs.existsSync(MARKER);
  if (!existed) {
    fs.writeFileSync(MARKER, 'x');
  }
  return { existed, pid: process.pid };
}

async function handler(event, context) {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    return event;
  }
  const has = (k) => event[k] !== undefined && event[k] !== null;
  if (has('sleep')) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(Number(event.sleep), 0) * 1000));
    return { slept: event.sleep };
  }
  if (has('alloc_mb')) {
    // Non-zero contents, so every page is really touched.
    Buffer.alloc(Number(event.alloc_mb) * MIB, 1);
    return { allocated_mb: event.alloc_mb };
  }
  if (has('write_tmp_mb')) {
    return writeTmp(Number(event.write_tmp_mb));
  }
  if (event.fork_bomb === true) {
    return forkBomb();
  }
  if (has('read')) {
    return attempt(() => fs.readFileSync(event.read));
  }
  if (has('write')) {
    return attempt(() => fs.writeFileSync(event.write, 'x'));
  }
  if (has('connect')) {
    return connect(event.connect);
  }
  if (event.tmp_marker === true) {
    return tmpMarker();
  }
  if (event.env === true) {
    return { ...process.env };
  }
  if (event.context === true) {
    return {
      request_id: context.awsRequestId,
      function_arn: context.invokedFunctionArn,
      deadline_ms: Date.now() + context.getRemainingTimeInMillis(),
    };
  }
  if (has('log')) {
    console.log(event.log);
    console.error(event.log);
    return { logged: event.log };
  }
  if (has('error')) {
    throw new EchoError(event.error);
  }
  if (has('exit')) {
    process.exit(Number(event.exit));
  }
  return event;
}

function callbackHandler(event, context, callback) {
  handler(event, context).then((result) => callback(null, result), (err) => callback(err));
}

module.exports = { handler, callbackHandler };
