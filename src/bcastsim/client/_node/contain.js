// What the harnesses do before any manager code runs, so that the manager cannot reach the machine or the
// harness's own channel. Loaded by harness.js and realtime.js (and inlined into replay scripts).
//
// bcastsim starts node with its permission model (--experimental-permission, reads limited to the harness,
// the pinned packages and a private copy of the manager; no writes, child processes, workers, addons or
// inspector), in its own process group, under CPU, heap and wall limits, and in a network namespace of its
// own where the system allows one. Node 20's permission model does not cover the network or signals, so
// this file closes them too: sockets, DNS, fetch and process.kill throw ERR_BCASTSIM_DENIED.
//
// The answer goes to a file descriptor of its own (named in the request), prefixed with a nonce read from stdin before the manager loads: what
// the manager prints (console.log, process.stdout) is captured per step and shown with the finding, and
// cannot be taken for the answer.
'use strict';
const fs = require('fs');
const util = require('util');

const writeSync = fs.writeSync;
const exit = process.exit.bind(process);
const stdoutWrite = process.stdout.write.bind(process.stdout);
const MAX_LINES = 200;
const MAX_LINE = 500;

const state = { nonce: null, fd: 3, denied: [], lines: [], dropped: 0 };

function readInput() {
  if (globalThis.__BCASTSIM_INPUT) return globalThis.__BCASTSIM_INPUT;
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  state.nonce = input.nonce || null;
  state.fd = Number.isInteger(input.answer_fd) ? input.answer_fd : 3;
  delete input.nonce;
  delete input.answer_fd;
  return input;
}

function denied(what) {
  const error = new Error(`${what} is not allowed in check --client`);
  error.code = 'ERR_BCASTSIM_DENIED';
  state.denied.push(what);
  return error;
}

function noteError(error) {
  if (error && error.code === 'ERR_ACCESS_DENIED') {
    const kinds = { FileSystemRead: 'to read', FileSystemWrite: 'to write', ChildProcess: 'to start a process',
      WorkerThreads: 'to start a worker', Inspector: 'to open the inspector', WASI: 'to run WASI' };
    const what = [kinds[error.permission] || error.permission, error.resource].filter(Boolean).join(' ');
    state.denied.push(what || String(error.message));
  }
}

function deny(object, names, what) {
  for (const name of names) {
    if (object && typeof object[name] === 'function') {
      Object.defineProperty(object, name, {
        value() { throw denied(`to call ${what}.${name}`); }, writable: false, configurable: false,
      });
    }
  }
}

function lockDown() {
  const net = require('net');
  deny(net, ['connect', 'createConnection', 'createServer'], 'net');
  deny(net.Socket.prototype, ['connect'], 'net.Socket');
  deny(net.Server.prototype, ['listen'], 'net.Server');
  deny(require('tls'), ['connect', 'createServer'], 'tls');
  deny(require('http'), ['request', 'get', 'createServer'], 'http');
  deny(require('https'), ['request', 'get', 'createServer'], 'https');
  deny(require('http2'), ['connect', 'createServer', 'createSecureServer'], 'http2');
  const dgram = require('dgram');
  deny(dgram, ['createSocket'], 'dgram');
  deny(dgram.Socket.prototype, ['bind', 'send', 'connect'], 'dgram.Socket');
  const dns = require('dns');
  deny(dns, ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'reverse', 'lookupService'], 'dns');
  deny(dns.promises, ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'reverse', 'lookupService'], 'dns');
  deny(process, ['kill', '_kill', 'abort', 'chdir', 'setuid', 'setgid', 'dlopen', '_debugProcess'], 'process');
  for (const name of ['fetch', 'WebSocket', 'EventSource']) {
    if (name in globalThis) {
      Object.defineProperty(globalThis, name, {
        value() { throw denied(`to call ${name}`); }, writable: false, configurable: false,
      });
    }
  }
  require('module').syncBuiltinESMExports();
  // console.* and process.stdout/stderr are the manager's: captured for the step that runs, never the answer.
  const capture = (...args) => {
    if (state.lines.length >= MAX_LINES) { state.dropped += 1; return; }
    const text = util.format(...args);
    const line = text.length > MAX_LINE ? `${text.slice(0, MAX_LINE)}…` : text;
    state.lines.push(line);
    // Also to node's own stdout, which bcastsim keeps (bounded) to show if node ends without an answer.
    if (state.nonce !== null) stdoutWrite(`${line}\n`);
  };
  for (const name of ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir']) console[name] = capture;
  const streamWrite = (chunk, encoding, callback) => {
    capture(String(chunk).replace(/\n$/, ''));
    if (typeof encoding === 'function') encoding();
    else if (typeof callback === 'function') callback();
    return true;
  };
  process.stdout.write = streamWrite;
  process.stderr.write = streamWrite;
}

// The console lines printed since the last call (the harness attaches them to the step that ran).
function takeConsole() {
  const lines = state.lines.splice(0);
  if (state.dropped) {
    lines.push(`… ${state.dropped} more console lines not kept`);
    state.dropped = 0;
  }
  return lines;
}

function send(answer) {
  if (state.denied.length) {
    // Whatever else went wrong, the attempt is the manager's problem to report first.
    answer = { error: `the manager tried ${state.denied[0]}, which check --client does not allow`, denied: state.denied.slice(0, 10) };
  }
  const text = JSON.stringify(answer);
  if (state.nonce === null) {
    // A replay script run by hand: the answer is the script's output.
    stdoutWrite(text, () => exit(0));
    return;
  }
  const data = Buffer.from(`${state.nonce}${text}`, 'utf8');
  let offset = 0;
  while (offset < data.length) offset += writeSync(state.fd, data, offset, data.length - offset);
  exit(0);
}

module.exports = { lockDown, noteError, readInput, send, takeConsole, state };
