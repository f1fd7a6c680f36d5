// The real @supabase/realtime-js against a fault-injecting Realtime server, on a virtual clock.
//
// realtime-js connects through FakeWebSocket to an in-process server that speaks the Phoenix/Realtime
// protocol (vsn 2.0.0 text frames: [join_ref, ref, topic, event, payload]): phx_join/phx_reply,
// heartbeat, broadcast envelopes, system messages, phx_close/phx_error, access_token. Timers, Date.now
// and Math.random are replaced before the library is loaded, so a schedule of hours runs in
// milliseconds and one seed gives one run.
//
// Input (stdin, JSON): {mode: "raw" | "manager", module?, code?, nonce, schedules: [{seed, ops: [op, ...]}, ...]}.
// Output (fd 3, after the nonce; see contain.js): {schedules: [[observation, ...], ...]} or {error: "..."}.
'use strict';
const contain = globalThis.__BCASTSIM_CONTAIN || require('./contain.js');
const INPUT = contain.readInput();
contain.lockDown();
const path = require('path');
const fs = require('fs');
const vm = require('vm');

const realSetImmediate = setImmediate;
const flush = () => new Promise((resolve) => realSetImmediate(resolve));

// --- virtual clock ---------------------------------------------------------------------------
const clock = { now: 0, seq: 0, timers: new Map() };
function addTimer(fn, delay, args, every) {
  const id = ++clock.seq;
  const ms = Math.max(0, Number(delay) || 0);
  clock.timers.set(id, { id, due: clock.now + ms, fn, args, every: every ? Math.max(1, ms) : 0 });
  return id;
}
function clearTimer(id) {
  if (id && typeof id === 'object' && 'id' in id) id = id.id;
  clock.timers.delete(id);
}
globalThis.setTimeout = (fn, delay, ...args) => addTimer(fn, delay, args, false);
globalThis.setInterval = (fn, delay, ...args) => addTimer(fn, delay, args, true);
globalThis.clearTimeout = clearTimer;
globalThis.clearInterval = clearTimer;
const EPOCH = 1_700_000_000_000;
Date.now = () => EPOCH + clock.now;

let rngState = 1;
Math.random = () => {
  // mulberry32: small, seedable, good enough for jitter.
  rngState = (rngState + 0x6d2b79f5) | 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

async function advance(ms) {
  const target = clock.now + ms;
  await flush();
  for (;;) {
    let next = null;
    for (const timer of clock.timers.values()) {
      if (timer.due <= target && (next === null || timer.due < next.due || (timer.due === next.due && timer.id < next.id))) {
        next = timer;
      }
    }
    if (next === null) break;
    clock.now = Math.max(clock.now, next.due);
    if (next.every) next.due += next.every;
    else clock.timers.delete(next.id);
    try {
      next.fn(...next.args);
    } catch (error) {
      contain.noteError(error);
      env.errors.push(String(error && error.message ? error.message : error));
    }
    await flush();
  }
  clock.now = target;
}

// --- the page: window and document, as phoenix reads them at load time ----------------------------
const env = { windowListeners: [], errors: [] };
globalThis.window = {
  addEventListener(type, fn) { env.windowListeners.push([type, fn]); },
  removeEventListener() {},
  location: { search: '' },
};
globalThis.document = { visibilityState: 'visible' };
function setHidden(hidden) {
  globalThis.document.visibilityState = hidden ? 'hidden' : 'visible';
  for (const [type, fn] of env.windowListeners.slice()) if (type === 'visibilitychange') fn({});
}

// --- the server --------------------------------------------------------------------------------
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

class Server {
  constructor() {
    this.conns = [];
    this.downUntil = -1;
    this.refuseUntil = -1;
    this.partitioned = false;
    this.pendingConnects = [];
    this.joinFaults = new Map(); // topic -> ['error' | 'timeout', ...]
    this.nextId = 1;
    this.log = [];
    this.tokens = [];
  }
  accepting() { return clock.now >= this.downUntil && clock.now >= this.refuseUntil; }
  connect(ws) {
    if (!this.accepting()) {
      setTimeout(() => ws._fail(1006), 0);
      return;
    }
    if (this.partitioned) {
      this.pendingConnects.push(ws);
      return;
    }
    setTimeout(() => ws._open(this), 0);
  }
  heal() {
    this.partitioned = false;
    const pending = this.pendingConnects.splice(0);
    for (const ws of pending) if (ws.readyState === 0) this.connect(ws);
  }
  push(ws, frame) {
    if (this.partitioned || ws.readyState !== OPEN) return;
    setTimeout(() => { if (ws.readyState === OPEN && ws.onmessage) ws.onmessage({ data: JSON.stringify(frame) }); }, 0);
  }
  receive(ws, data) {
    if (this.partitioned) return;
    if (typeof data !== 'string') return; // binary user broadcasts from the client: not modelled
    const [joinRef, ref, topic, event, payload] = JSON.parse(data);
    const reply = (status, response) => this.push(ws, [joinRef, ref, topic, 'phx_reply', { status, response }]);
    if (topic === 'phoenix' && event === 'heartbeat') {
      reply('ok', {});
    } else if (event === 'phx_join') {
      const isPrivate = Boolean(payload && payload.config && payload.config.private);
      this.log.push(['join', topic, isPrivate, clock.now]);
      const faults = this.joinFaults.get(topic) || [];
      const fault = faults.shift();
      if (fault === 'close') {
        ws.subs.set(topic, { joinRef, private: isPrivate });
        reply('ok', { postgres_changes: [] });
        this.channelCloseOne(ws, topic, null);
        return;
      }
      if (fault === 'timeout') return;
      if (fault === 'error') {
        reply('error', { reason: 'join refused by the fault schedule' });
        return;
      }
      ws.subs.set(topic, { joinRef, private: isPrivate });
      reply('ok', { postgres_changes: [] });
    } else if (event === 'phx_leave') {
      ws.subs.delete(topic);
      this.log.push(['leave', topic]);
      reply('ok', {});
    } else if (event === 'access_token') {
      this.tokens.push(payload && payload.access_token);
    }
  }
  each(topic, fn) {
    for (const ws of this.conns.slice()) {
      if (ws.readyState !== OPEN) continue;
      const sub = ws.subs.get(topic);
      if (sub) fn(ws, sub);
    }
  }
  broadcast(name, event, isPrivate, payload) {
    const id = this.nextId++;
    const topic = `realtime:${name}`;
    this.each(topic, (ws, sub) => {
      if (sub.private !== isPrivate) return;
      this.push(ws, [null, null, topic, 'broadcast', { type: 'broadcast', event, payload, meta: { id: String(id) } }]);
    });
    return id;
  }
  channelError(name) {
    const topic = `realtime:${name}`;
    this.each(topic, (ws, sub) => { ws.subs.delete(topic); this.push(ws, [sub.joinRef, null, topic, 'phx_error', {}]); });
  }
  channelCloseOne(ws, topic, reason) {
    const sub = ws.subs.get(topic);
    if (!sub) return;
    if (reason) {
      const channel = topic.replace(/^realtime:/, '');
      this.push(ws, [null, null, topic, 'system', { extension: 'system', status: 'error', message: reason, channel }]);
    }
    ws.subs.delete(topic);
    this.push(ws, [sub.joinRef, null, topic, 'phx_close', {}]);
  }
  channelClose(name, reason) {
    const topic = `realtime:${name}`;
    this.each(topic, (ws) => this.channelCloseOne(ws, topic, reason));
  }
  drop() { for (const ws of this.conns.slice()) ws._serverClose(1006); }
  restart(ms) {
    this.downUntil = clock.now + ms;
    for (const ws of this.conns.slice()) ws._serverClose(1012);
  }
}

let server = new Server();

class FakeWebSocket {
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.readyState = 0;
    this.bufferedAmount = 0;
    this.subs = new Map();
    this.onopen = null;
    this.onclose = null;
    this.onerror = null;
    this.onmessage = null;
    this.server = server;
    server.log.push(['connect']);
    server.connect(this);
  }
  _open(srv) {
    if (this.readyState !== 0) return;
    this.readyState = OPEN;
    srv.conns.push(this);
    if (this.onopen) this.onopen({});
  }
  _fail(code) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    if (this.onerror) this.onerror({ type: 'error' });
    if (this.onclose) this.onclose({ code, reason: '', wasClean: false });
  }
  _forget() {
    const i = this.server.conns.indexOf(this);
    if (i >= 0) this.server.conns.splice(i, 1);
    this.subs.clear();
  }
  _serverClose(code) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this._forget();
    setTimeout(() => { if (this.onclose) this.onclose({ code, reason: '', wasClean: false }); }, 0);
  }
  send(data) {
    if (this.readyState !== OPEN) return;
    this.server.receive(this, data);
  }
  close(code, reason) {
    if (this.readyState === CLOSED || this.readyState === CLOSING) return;
    const wasPending = this.readyState === 0;
    this.readyState = CLOSING;
    this._forget();
    if (this.server.partitioned && !wasPending) return; // the closing handshake vanishes with the packets
    this.readyState = CLOSED;
    setTimeout(() => { if (this.onclose) this.onclose({ code: code || 1000, reason: reason || '', wasClean: true }); }, 0);
  }
}
FakeWebSocket.CONNECTING = 0;
FakeWebSocket.OPEN = OPEN;
FakeWebSocket.CLOSING = CLOSING;
FakeWebSocket.CLOSED = CLOSED;

const NODE_MODULES = process.env.BCASTSIM_NODE_MODULES || path.join(__dirname, 'node_modules');
const { RealtimeClient } = require(path.join(NODE_MODULES, '@supabase', 'realtime-js'));


// --- a React hook under React's own test renderer --------------------------------------------------
// The hook (e.g. the seed's useBroadcastRealtime(eventId, isAdmin) returning subscribeToEvent, subscribeToBids,
// subscribeToAdmin) is rendered inside a page that subscribes in an effect keyed on its props and leaves the
// cleanup to the hook, as the seed's page does; props change between steps, then the page unmounts.
async function runHookSchedule(code, steps, seed) {
  const React = require(path.join(NODE_MODULES, 'react'));
  const TestRenderer = require(path.join(NODE_MODULES, 'react-test-renderer'));
  globalThis.IS_REACT_ACT_ENVIRONMENT = true;
  reset(seed);
  const client = newClient({ token: 'token-0' });
  const sandbox = {
    console,
    setTimeout, clearTimeout, setInterval, clearInterval, Math, JSON, Map, Set, Array, Object, Promise, String,
    Number, Error, Date, React,
    useEffect: React.useEffect, useState: React.useState, useRef: React.useRef, useCallback: React.useCallback,
    useMemo: React.useMemo,
    supabase: client,
    document: { querySelector: () => null },
    applyFlashClass: () => {},
  };
  vm.createContext(sandbox);
  vm.runInContext(`${code}\n;globalThis.__hook = useBroadcastRealtime;`, sandbox);
  const received = [];
  const seqOf = (p) => (p && p.payload && p.payload.seq !== undefined ? p.payload.seq : p && p.seq);
  function Page({ eventId, isAdmin, artIds }) {
    const hook = sandbox.__hook(eventId, isAdmin);
    React.useEffect(() => {
      hook.subscribeToBids(artIds, (p) => received.push(['bid', seqOf(p)]));
      hook.subscribeToEvent((p) => received.push(['event', seqOf(p)]));
      if (isAdmin) hook.subscribeToAdmin((p) => received.push(['admin', seqOf(p)]));
      return () => {};
    }, [eventId, artIds.length, isAdmin]);
    return null;
  }
  let renderer = null;
  const out = [];
  for (const step of steps) {
    const start = received.length;
    let sent = null;
    if (step.op === 'render') {
      const element = React.createElement(Page, step.props);
      if (renderer === null) TestRenderer.act(() => { renderer = TestRenderer.create(element); });
      else TestRenderer.act(() => { renderer.update(element); });
    } else if (step.op === 'unmount') {
      TestRenderer.act(() => { renderer.unmount(); });
    } else if (step.op === 'broadcast') {
      sent = server.nextId;
      server.broadcast(step.topic, step.event, false, { seq: sent, type: step.event, art_id: step.art_id || null });
    }
    await advance(step.op === 'advance' ? step.ms : 0);
    out.push({ t: clock.now, sent, received: received.slice(start), channels: client.getChannels().map((c) => c.subTopic).sort(),
      errors: env.errors.splice(0), console: contain.takeConsole() });
  }
  return out;
}

// --- one schedule --------------------------------------------------------------------------------
function reset(seed) {
  for (const ws of server.conns) ws.readyState = CLOSED;
  clock.timers.clear();
  clock.now = 0;
  rngState = seed | 0;
  env.windowListeners = [];
  env.errors = [];
  globalThis.document.visibilityState = 'visible';
  server = new Server();
}

function newClient(tokenBox) {
  return new RealtimeClient('ws://realtime.test/socket', {
    params: { apikey: 'anon' },
    transport: FakeWebSocket,
    accessToken: async () => tokenBox.token,
  });
}

// A manager module, loaded once per process: ES module, CommonJS file, or a plan's code block.
async function loadManagerModule(input) {
  if (input.code) {
    const sandbox = { console, setTimeout, clearTimeout,
      setInterval, clearInterval, Math, JSON, Map, Set, WeakMap, Array, Object, Promise, String, Number, Error, Date };
    vm.createContext(sandbox);
    vm.runInContext(`${input.code}\n;globalThis.__exports = { BroadcastManager: typeof BroadcastManager === 'undefined' ? undefined : BroadcastManager };`, sandbox);
    return sandbox.__exports;
  }
  const file = path.resolve(input.module);
  const isEsm = file.endsWith('.mjs') || (!file.endsWith('.cjs') && /^\s*export\s/m.test(fs.readFileSync(file, 'utf8')));
  if (isEsm) {
    const url = require('url').pathToFileURL(file).href;
    return await import(url);
  }
  return require(file);
}

// The adapter: createManager(client) -> {subscribe(topic, event, cb, {private}) -> handle, unsubscribe(handle)},
// or a BroadcastManager class with the same methods; a class with only createChannel/unsubscribe(name) is the
// seed's API and is driven through it.
function makeManager(mod, client, options) {
  const root = mod && mod.default && !mod.createManager && !mod.BroadcastManager ? mod.default : mod;
  if (root && typeof root.createManager === 'function') return root.createManager(client, options);
  const Cls = root && (root.BroadcastManager || (typeof root === 'function' ? root : null));
  if (Cls) return new Cls(client, options);
  throw new Error('the module exports neither createManager(client, options) nor class BroadcastManager');
}

function managerSubscribe(manager, op, cb) {
  if (typeof manager.subscribe === 'function') {
    return manager.subscribe(op.topic, op.event, cb, { private: Boolean(op.private) });
  }
  manager.createChannel(op.topic, op.event, cb);
  return op.topic;
}

async function runSchedule(mode, mod, ops, seed) {
  reset(seed);
  const tokenBox = { token: 'token-0' };
  const client = newClient(tokenBox);
  let manager = null;
  const resyncs = [];
  const options = { resync: (topic) => resyncs.push([String(topic), clock.now]) };
  if (mode === 'manager') manager = makeManager(mod, client, options);
  const channels = new Map(); // listener -> [channel or handle]
  const listeners = new Map();
  const sentKeys = new Map(); // seq -> the payload keys the database sent
  let pending = { statuses: [], deliveries: [], received: [] };
  const listener = (id) => {
    if (!listeners.has(id)) {
      listeners.set(id, (message) => {
        // The application's callback is handed the payload the database sent; realtime-js's own callbacks get
        // the envelope {type, event, payload, meta}. Which of the two arrived is recorded as its shape.
        const isEnvelope = Boolean(message && typeof message === 'object' && message.type === 'broadcast'
          && message.payload && typeof message.payload === 'object' && 'event' in message);
        const payload = isEnvelope ? message.payload : message;
        pending.deliveries.push([id, payload && payload.seq !== undefined ? payload.seq : null]);
        if (mode !== 'manager') return; // raw realtime-js hands its own callbacks the envelope, by design
        if (isEnvelope) {
          pending.received.push([id, 'envelope']);
        } else if (!(message && typeof message === 'object' && message.seq !== undefined)) {
          pending.received.push([id, message === null ? 'null' : typeof message]);
        } else {
          const lost = (sentKeys.get(message.seq) || []).filter((key) => !(key in message));
          if (lost.length) pending.received.push([id, `missing:${lost.join(',')}`]);
        }
      });
    }
    return listeners.get(id);
  };
  const out = [];
  for (const op of ops) {
    pending = { statuses: [], deliveries: [], received: [] };
    const logStart = server.log.length;
    const resyncStart = resyncs.length;
    let sent = null;
    try {
      switch (op.op) {
        case 'subscribe': {
          let handle;
          if (manager) {
            handle = managerSubscribe(manager, op, listener(op.listener));
          } else {
            const ch = client.channel(op.topic, { config: { private: Boolean(op.private) } });
            ch.on('broadcast', { event: op.event }, listener(op.listener));
            ch.subscribe((status) => pending.statuses.push([op.listener, status]));
            handle = ch;
          }
          if (!channels.has(op.listener)) channels.set(op.listener, []);
          channels.get(op.listener).push(handle);
          break;
        }
        case 'unsubscribe': {
          const handles = channels.get(op.listener);
          if (handles && handles.length) {
            const handle = handles.pop();
            if (manager) manager.unsubscribe(handle);
            else client.removeChannel(handle);
          }
          break;
        }
        case 'broadcast':
          sent = server.nextId;
          sentKeys.set(sent, Object.keys(op.payload || {}));
          server.broadcast(op.topic, op.event, Boolean(op.private), { seq: sent, ...(op.payload || {}) });
          break;
        case 'drop': server.drop(); break;
        case 'partition':
          server.partitioned = true;
          setTimeout(() => server.heal(), op.ms);
          break;
        case 'restart': server.restart(op.ms); break;
        case 'refuse': server.refuseUntil = clock.now + op.ms; break;
        case 'flap': {
          // The next n joins on the topic are accepted and closed at once: the manager's retry delays show.
          const topic = `realtime:${op.topic}`;
          if (!server.joinFaults.has(topic)) server.joinFaults.set(topic, []);
          for (let k = 0; k < op.n; k++) server.joinFaults.get(topic).push('close');
          break;
        }
        case 'join_error':
        case 'join_timeout': {
          const topic = `realtime:${op.topic}`;
          if (!server.joinFaults.has(topic)) server.joinFaults.set(topic, []);
          server.joinFaults.get(topic).push(op.op === 'join_error' ? 'error' : 'timeout');
          break;
        }
        case 'channel_error': server.channelError(op.topic); break;
        case 'channel_close': server.channelClose(op.topic, null); break;
        case 'rate_limit': server.channelClose(op.topic, 'Too many messages per second'); break;
        case 'hidden': setHidden(Boolean(op.hidden)); break;
        case 'token': tokenBox.token = `token-${op.n}`; break;
        case 'advance': break;
        default: throw new Error(`unknown op ${op.op}`);
      }
    } catch (error) {
      contain.noteError(error);
      env.errors.push(String(error && error.message ? error.message : error));
    }
    await advance(op.op === 'advance' ? op.ms : 0);
    const log = server.log.slice(logStart);
    out.push({
      t: clock.now,
      connected: client.isConnected(),
      channels: client.getChannels().map((c) => [c.subTopic, c.state]).sort(),
      statuses: pending.statuses,
      deliveries: pending.deliveries,
      joins: log.filter((e) => e[0] === 'join').map((e) => [e[1].replace(/^realtime:/, ''), e[2], e[3]]),
      resyncs: resyncs.slice(resyncStart),
      connects: log.filter((e) => e[0] === 'connect').length,
      sent,
      errors: env.errors.splice(0),
    });
    // Only when there is something to say, so an observation compares equal to the Python model's.
    const printed = contain.takeConsole();
    if (pending.received.length) out[out.length - 1].received = pending.received;
    if (printed.length) out[out.length - 1].console = printed;
  }
  return out;
}

const mode_is_manager = (input) => input.mode === 'manager';

async function main() {
  // A replay script sets __BCASTSIM_INPUT before this file runs; bcastsim writes the input to stdin.
  const input = INPUT;
  let mod = null;
  if (input.mode === 'manager') {
    try {
      mod = await loadManagerModule(input);
    } catch (error) {
      contain.noteError(error);
      return { error: `cannot load the manager: ${error && error.message ? error.message : error}` };
    }
  }
  if (mode_is_manager(input)) {
    reset(0);
    let probe;
    try {
      probe = makeManager(mod, newClient({ token: 'token-0' }), { resync() {} });
    } catch (error) {
      return { error: error && error.message ? error.message : String(error) };
    }
    if (!probe || (typeof probe.subscribe !== 'function' && typeof probe.createChannel !== 'function')) {
      return { error: 'the manager has neither subscribe(topic, event, callback, options) nor createChannel(name, event, callback)' };
    }
    if (typeof probe.unsubscribe !== 'function') {
      return { error: 'the manager has no unsubscribe(handle)' };
    }
  }
  if (input.mode === 'hook') {
    const runs = [];
    for (const schedule of input.schedules) runs.push(await runHookSchedule(input.code, schedule.ops, schedule.seed));
    return { schedules: runs };
  }
  const schedules = [];
  for (let i = 0; i < input.schedules.length; i++) {
    const schedule = input.schedules[i];
    schedules.push(await runSchedule(input.mode, mod, schedule.ops, schedule.seed));
  }
  return { schedules };
}

// A rejection nobody awaits (in the manager's own promises) is an error of the step that runs, not a crash.
process.on('unhandledRejection', (error) => {
  contain.noteError(error);
  env.errors.push(`unhandled rejection: ${error && error.message ? error.message : error}`);
});
main().then(contain.send, (error) => contain.send({ error: String(error && error.message ? error.message : error) }));
