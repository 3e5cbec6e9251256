// vpclambda's Node.js runtime for the `nodejs*` runtimes: not AWS's aws-lambda-ric (whose
// native addon needs a C++ toolchain on every host) but one dependency-free file for the
// host's node. Shown at /var/runtime; run as `node /var/runtime/bootstrap.js`.
//
// It loads `_HANDLER` (`dir/module.export[.nested]`) from LAMBDA_TASK_ROOT — CommonJS
// `.js`/`.cjs`, ESM `.mjs` or `.js` in a `"type": "module"` package — then loops on the
// Runtime API: async and promise handlers resolve, callback handlers call back (also
// `context.done/succeed/fail`). Errors are posted as Lambda's Node runtime shapes them,
// `{"errorType", "errorMessage", "trace"}`, with `Lambda-Runtime-Function-Error-Type`;
// console lines are `<ISO time>\t<request id>\t<LEVEL>\t<message>` with newlines turned
// into `\r` so one call stays one log line, as on Lambda.
//
// Differences from Lambda's runtime, by design: a callback handler's result is posted
// when it calls back, without waiting for the event loop to drain
// (`callbackWaitsForEmptyEventLoop` is accepted and ignored), and a synchronous handler
// of fewer than three parameters responds with what it returns.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

const API_PREFIX = '/2018-06-01/runtime';
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || '/var/task';
const [API_HOST, API_PORT] = splitHostPort(process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001');
const agent = new http.Agent({ keepAlive: true });

// The request being handled, for console lines and for errors that escape the handler.
let currentRequestId;

function splitHostPort(addr) {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}

function request(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: API_HOST, port: API_PORT, method, path: API_PREFIX + urlPath, agent, headers },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function post(urlPath, body, headers = {}) {
  const data = Buffer.from(body, 'utf8');
  return request('POST', urlPath, data, { ...headers, 'Content-Length': data.length });
}

// A Runtime API failure leaves nothing to talk to: the environment has to go.
async function postOrExit(urlPath, body, headers) {
  try {
    const res = await post(urlPath, body, headers);
    if (res.status !== 202) {
      rawLog(`Runtime API ${urlPath}: HTTP ${res.status} ${res.body.toString('utf8')}`);
    }
  } catch (e) {
    rawLog(`Runtime API ${urlPath}: ${e.message}`);
    process.exit(1);
  }
}

function rawLog(message) {
  process.stderr.write(`${message}\n`);
}

// With `LoggingConfig.LogFormat` JSON (AWS_LAMBDA_LOG_FORMAT), each call is one JSON record
// as Lambda's Node runtime writes it, and calls below AWS_LAMBDA_LOG_LEVEL write nothing.
function patchConsole() {
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE' };
  const order = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
  const json = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  const least = json ? Math.max(0, order.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || 'INFO').toUpperCase())) : 0;
  for (const [method, level] of Object.entries(levels)) {
    if (order.indexOf(level) < least) {
      console[method] = () => {};
      continue;
    }
    console[method] = (...args) => {
      const message = util.format(...args);
      const timestamp = new Date().toISOString();
      if (json) {
        process.stdout.write(`${JSON.stringify({ timestamp, level, requestId: currentRequestId, message })}\n`);
      } else {
        process.stdout.write(`${timestamp}\t${currentRequestId}\t${level}\t${message.replace(/\n/g, '\r')}\n`);
      }
    };
  }
}

// The host's node serves every nodejs*.x runtime; say so when the versions differ.
function versionNote() {
  const wanted = /^AWS_Lambda_nodejs(\d+)\.x$/.exec(process.env.AWS_EXECUTION_ENV || '');
  const have = process.versions.node.split('.')[0];
  if (wanted && wanted[1] !== have) {
    rawLog(`nodejs${wanted[1]}.x is not installed; running with node v${process.versions.node}`);
  }
}

class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

// Lambda's Node error object.
function errorPayload(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || 'Error',
      errorMessage: err.message,
      trace: typeof err.stack === 'string' ? err.stack.split('\n') : [],
    };
  }
  if (typeof err === 'string') {
    return { errorType: 'string', errorMessage: err, trace: [] };
  }
  let message;
  try {
    message = JSON.stringify(err);
  } catch {
    message = util.inspect(err);
  }
  return { errorType: typeof err, errorMessage: String(message), trace: [] };
}

async function postError(urlPath, err) {
  const payload = errorPayload(err);
  const body = JSON.stringify(payload);
  console.error(`${urlPath.startsWith('/init') ? 'Init' : 'Invoke'} Error `, body);
  await postOrExit(urlPath, body, {
    'Content-Type': 'application/json',
    'Lambda-Runtime-Function-Error-Type': payload.errorType,
  });
}

async function loadModule(base, moduleName) {
  const exists = (ext) => fs.existsSync(base + ext);
  try {
    if (exists('.mjs')) {
      return await import(pathToFileURL(`${base}.mjs`).href);
    }
    if (exists('.cjs')) {
      return require(`${base}.cjs`);
    }
    if (exists('.js')) {
      try {
        return require(`${base}.js`);
      } catch (e) {
        if (e && e.code === 'ERR_REQUIRE_ESM') {
          return await import(pathToFileURL(`${base}.js`).href);
        }
        throw e;
      }
    }
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new RuntimeError('Runtime.UserCodeSyntaxError', `${e.name}: ${e.message}`);
    }
    if (e && e.code === 'MODULE_NOT_FOUND') {
      throw new RuntimeError('Runtime.ImportModuleError', `Error: ${e.message}`);
    }
    throw e;
  }
  throw new RuntimeError('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'`);
}

async function loadHandler(handlerString) {
  const base = path.basename(handlerString);
  const dir = handlerString.slice(0, handlerString.length - base.length);
  const dot = base.indexOf('.');
  if (dot <= 0 || dot === base.length - 1) {
    throw new RuntimeError('Runtime.MalformedHandlerName', 'Bad handler');
  }
  const moduleName = dir + base.slice(0, dot);
  const mod = await loadModule(path.resolve(TASK_ROOT, moduleName), moduleName);
  let fn = mod;
  for (const key of base.slice(dot + 1).split('.')) {
    fn = fn == null ? undefined : fn[key];
  }
  if (fn === undefined) {
    throw new RuntimeError('Runtime.HandlerNotFound', `${handlerString} is undefined or not exported`);
  }
  if (typeof fn !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${handlerString} is not a function`);
  }
  return fn;
}

function parseJsonHeader(value) {
  if (!value) {
    return undefined;
  }
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

function makeContext(headers, settle) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  return {
    callbackWaitsForEmptyEventLoop: true,
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context']),
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity']),
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    done: (err, result) => settle(err, result),
    succeed: (result) => settle(null, result),
    fail: (err) => settle(err == null ? new Error('handled') : err),
  };
}

// Runs the handler once; resolves to `{ error }` or `{ result }`, whichever way the
// handler finishes first (callback, context methods, promise, or return value).
function runHandler(fn, event, headers) {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (err, result) => {
      if (!settled) {
        settled = true;
        resolve(err != null ? { error: err } : { result });
      }
    };
    const context = makeContext(headers, settle);
    let returned;
    try {
      returned = fn(event, context, settle);
    } catch (e) {
      settle(e);
      return;
    }
    if (returned && typeof returned.then === 'function') {
      returned.then((r) => settle(null, r), (e) => settle(e == null ? new Error('rejected') : e));
    } else if (fn.length < 3) {
      settle(null, returned);
    }
  });
}

async function invokeLoop(fn) {
  for (;;) {
    currentRequestId = undefined;
    let next;
    try {
      next = await request('GET', '/invocation/next');
    } catch (e) {
      rawLog(`Runtime API /invocation/next: ${e.message}`);
      process.exit(1);
    }
    if (next.status !== 200) {
      rawLog(`Runtime API /invocation/next: HTTP ${next.status}`);
      process.exit(1);
    }
    const headers = next.headers;
    const id = headers['lambda-runtime-aws-request-id'];
    currentRequestId = id;
    if (headers['lambda-runtime-trace-id']) {
      process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
    } else {
      delete process.env._X_AMZN_TRACE_ID;
    }
    let event;
    try {
      event = JSON.parse(next.body.toString('utf8'));
    } catch (e) {
      await postError(`/invocation/${id}/error`, new RuntimeError('Runtime.UnmarshalError', `Unable to parse the event: ${e.message}`));
      continue;
    }
    const outcome = await runHandler(fn, event, headers);
    if ('error' in outcome) {
      await postError(`/invocation/${id}/error`, outcome.error);
      continue;
    }
    let body;
    try {
      body = JSON.stringify(outcome.result);
    } catch (e) {
      await postError(`/invocation/${id}/error`, new RuntimeError('Runtime.MarshalError', `Unable to stringify response body: ${e.message}`));
      continue;
    }
    await postOrExit(`/invocation/${id}/response`, body === undefined ? 'null' : body, { 'Content-Type': 'application/json' });
  }
}

// An error that escapes the handler fails the request in flight, then the environment,
// as on Lambda.
function onEscapedError(err) {
  const id = currentRequestId;
  const done = () => process.exit(129);
  if (id === undefined) {
    postError('/init/error', err).then(done, done);
  } else {
    postError(`/invocation/${id}/error`, err).then(done, done);
  }
}

async function main() {
  patchConsole();
  versionNote();
  process.on('uncaughtException', onEscapedError);
  process.on('unhandledRejection', (reason) => {
    const err = reason instanceof Error ? reason : new RuntimeError('Runtime.UnhandledPromiseRejection', String(reason));
    onEscapedError(err);
  });
  let fn;
  try {
    fn = await loadHandler(process.env._HANDLER || '');
  } catch (e) {
    await postError('/init/error', e);
    process.exit(129);
  }
  await invokeLoop(fn);
}

main();
