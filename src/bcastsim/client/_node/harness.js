// Runs a subscriber manager's JavaScript (the seed's BroadcastManager, or a user's file with the same API)
// against a fake Realtime client that follows realtime-js: bindings, statuses, rejoin and reconnect timers,
// the {type, event, payload, meta} envelope, and removal of a channel after CLOSED.
// Input (stdin, JSON): {mode: "hash", code, strings} or {mode: "ops", code, cases: [[op, ...], ...]}.
// Output (fd 3, after the nonce; see contain.js): {hashes: [...]} or {cases: [[observation, ...], ...]}.
'use strict';
const contain = require('./contain.js');
const INPUT = contain.readInput();
contain.lockDown();
const vm = require('vm');

const SOCKET_DELAYS = [1000, 2000, 5000, 10000];
const REJOIN_DELAYS = [1000, 2000, 5000];

function makeClock() {
  const clock = { now: 0, seq: 0, queue: [], scheduled: [] };
  clock.setTimeout = (fn, delay = 0, label = 'app') => {
    const timer = { due: clock.now + Math.max(0, delay), seq: clock.seq++, fn, cancelled: false };
    clock.queue.push(timer);
    clock.scheduled.push([label, delay]);
    return timer;
  };
  clock.clearTimeout = (timer) => { if (timer) timer.cancelled = true; };
  clock.advance = (ms) => {
    const target = clock.now + ms;
    for (;;) {
      clock.queue.sort((a, b) => a.due - b.due || a.seq - b.seq);
      const next = clock.queue[0];
      if (!next || next.due > target) break;
      clock.queue.shift();
      clock.now = Math.max(clock.now, next.due);
      if (!next.cancelled) next.fn();
    }
    clock.now = target;
  };
  return clock;
}

function makeRealtime(clock) {
  const client = { connected: true, channels: [], reconnectTries: 0, nextId: 1, opened: false, idleSince: 0 };

  class FakeChannel {
    constructor(name, params) {
      this.name = name;
      this.topic = `realtime:${name}`;
      this.private = Boolean(params && params.config && params.config.private);
      this.bindings = [];
      this.state = 'closed';
      this.statusCallback = null;
      this.rejoinTries = 0;
      this.rejoinTimer = null;
    }
    on(type, filter, callback) {
      this.bindings.push({ type, event: (filter && filter.event) || '*', callback });
      return this;
    }
    subscribe(callback) {
      if (this.state !== 'closed') return this;
      client.opened = true;
      this.statusCallback = callback || null;
      this.state = 'joining';
      if (client.connected) this._join();
      return this;
    }
    unsubscribe() {
      if (this.rejoinTimer) clock.clearTimeout(this.rejoinTimer);
      if (['joined', 'joining', 'errored'].includes(this.state)) {
        this.state = 'closed';
        this._status('CLOSED');
      }
      this.state = 'closed';
      return Promise.resolve('ok');
    }
    _status(status) { if (this.statusCallback) this.statusCallback(status); }
    _join() { this.state = 'joined'; this.rejoinTries = 0; this._status('SUBSCRIBED'); }
    _scheduleRejoin() {
      if (!client.connected) return;
      this.rejoinTries += 1;
      const delay = REJOIN_DELAYS[this.rejoinTries - 1] || 10000;
      this.rejoinTimer = clock.setTimeout(() => {
        this.rejoinTimer = null;
        if (this.state === 'errored' && client.connected) this._join();
      }, delay, 'rejoin');
    }
    _error() {
      if (['joined', 'joining'].includes(this.state)) {
        this.state = 'errored';
        this._status('CHANNEL_ERROR');
        this._scheduleRejoin();
      }
    }
    _serverClose() {
      if (['joined', 'joining', 'errored'].includes(this.state)) {
        this.state = 'closed';
        if (this.rejoinTimer) clock.clearTimeout(this.rejoinTimer);
        this._status('CLOSED');
        forget(this);
      }
    }
    _deliver(envelope) {
      if (this.state !== 'joined') return;
      for (const b of this.bindings.slice()) {
        if (b.type !== 'broadcast') continue;
        const want = String(b.event).toLowerCase();
        if (want === '*' || want === String(envelope.event).toLowerCase()) b.callback(envelope);
      }
    }
    _system(payload) {
      if (this.state !== 'joined') return;
      for (const b of this.bindings.slice()) if (b.type === 'system') b.callback(payload);
    }
  }

  const supabase = {
    channel(name, params) {
      // realtime-js returns the channel it already has for the topic.
      const existing = client.channels.find((c) => c.name === name);
      if (existing) return existing;
      const channel = new FakeChannel(name, params);
      client.channels.push(channel);
      return channel;
    },
    removeChannel(channel) {
      channel.unsubscribe();
      forget(channel);
      return Promise.resolve('ok');
    },
    getChannels() { return client.channels.slice(); },
  };

  const server = {
    send(name, event, payload) {
      const id = client.nextId++;
      const envelope = { type: 'broadcast', event, payload, meta: { id: String(id) } }; // Realtime's id is a string
      if (!client.connected) return id;
      for (const ch of client.channels.slice()) if (ch.name === name && !ch.private) ch._deliver(envelope);
      return id;
    },
    peekId() { return client.nextId; },
    system(name, status) {
      for (const ch of client.channels.slice()) {
        if (ch.name === name) ch._system({ extension: 'broadcast', status, message: '', channel: name });
      }
    },
    channelError(name) { for (const ch of client.channels.slice()) if (ch.name === name) ch._error(); },
    closeChannel(name) { for (const ch of client.channels.slice()) if (ch.name === name) ch._serverClose(); },
    drop() {
      // realtime-js connects at the first subscribe() and disconnects 50 s after its last channel.
      const open = client.channels.length ? client.opened : client.opened && clock.now - client.idleSince < 50000;
      if (!client.connected || !open) return;
      client.connected = false;
      for (const ch of client.channels.slice()) ch._error();
      scheduleReconnect();
    },
  };

  function forget(channel) {
    const i = client.channels.indexOf(channel);
    if (i >= 0) {
      client.channels.splice(i, 1);
      if (!client.channels.length) client.idleSince = clock.now;
    }
  }

  function scheduleReconnect() {
    client.reconnectTries += 1;
    const delay = SOCKET_DELAYS[client.reconnectTries - 1] || 10000;
    clock.setTimeout(() => {
      if (client.connected) return;
      client.connected = true;
      client.reconnectTries = 0;
      for (const ch of client.channels.slice()) {
        if (ch.state === 'errored' || ch.state === 'joining') {
          if (ch.rejoinTimer) clock.clearTimeout(ch.rejoinTimer);
          ch.rejoinTries = 0;
          ch._join();
        }
      }
    }, delay, 'reconnect');
  }

  return { supabase, server };
}

function sortedJson(value) {
  if (Array.isArray(value)) return value.map(sortedJson);
  if (value && typeof value === 'object') {
    const out = {};
    for (const key of Object.keys(value).sort()) out[key] = sortedJson(value[key]);
    return out;
  }
  return value === undefined ? null : value;
}

function loadManager(code, clock) {
  const sandbox = {
    console,
    setTimeout: (fn, delay) => clock.setTimeout(fn, delay, 'app'),
    clearTimeout: (t) => clock.clearTimeout(t),
    Math, JSON, Map, Set, Array, Object, Promise, String, Number, Error,
  };
  vm.createContext(sandbox);
  vm.runInContext(`${code}\n;globalThis.__Manager = BroadcastManager;`, sandbox);
  return sandbox.__Manager;
}

function runCase(code, ops) {
  const clock = makeClock();
  const { supabase, server } = makeRealtime(clock);
  const Manager = loadManager(code, clock);
  const manager = new Manager(supabase);
  const listeners = new Map();
  let pending = [];
  const listener = (id) => {
    if (!listeners.has(id)) listeners.set(id, (value) => { pending.push([id, sortedJson(value)]); });
    return listeners.get(id);
  };
  const subscribed = new Map();
  const out = [];
  for (const op of ops) {
    pending = [];
    const before = clock.scheduled.length;
    switch (op.op) {
      case 'Subscribe': {
        // A manager with subscribe(name, event, cb) -> handle is driven through handles; otherwise the
        // seed's API: createChannel(name, event, cb) and unsubscribe(channelName).
        const handle = typeof manager.subscribe === 'function'
          ? manager.subscribe(op.channel, op.event, listener(op.listener))
          : (manager.createChannel(op.channel, op.event, listener(op.listener)), op.channel);
        if (!subscribed.has(op.listener)) subscribed.set(op.listener, []);
        subscribed.get(op.listener).push(handle);
        break;
      }
      case 'Unsubscribe': {
        const names = subscribed.get(op.listener);
        if (names && names.length) manager.unsubscribe(names.pop());
        break;
      }
      case 'UnsubscribeAll': manager.unsubscribeAll(); subscribed.clear(); break;
      case 'Broadcast': server.send(op.channel, op.event, { type: op.event, seq: server.peekId() }); break;
      case 'System': server.system(op.channel, op.status); break;
      case 'ChannelError': server.channelError(op.channel); break;
      case 'ChannelClose': server.closeChannel(op.channel); break;
      case 'SocketDrop': server.drop(); break;
      case 'Advance': clock.advance(op.ms); break;
      default: throw new Error(`unknown op ${op.op}`);
    }
    const stats = typeof manager.getStats === 'function' ? manager.getStats() : {};
    out.push({
      stats: [stats.activeChannels ?? null, stats.totalListeners ?? null],
      deliveries: pending,
      // The manager's own timers; realtime-js's are the port's, compared with the library in realtime.js.
      timers: clock.scheduled.slice(before).filter((t) => t[0] === 'app'),
    });
  }
  return out;
}

// Runs useBroadcastRealtime with stand-ins for React (effects run at once), the DOM (querySelector
// records its selector and finds an element) and applyFlashClass, then sends messages through the fake
// Realtime client. Reports the selectors the flash looked up and what each page callback received.
function runHook(code, messages) {
  const clock = makeClock();
  const { supabase, server } = makeRealtime(clock);
  const selectors = [];
  const flashes = [];
  const cleanups = [];
  const sandbox = {
    console,
    setTimeout: (fn, delay) => clock.setTimeout(fn, delay, 'app'),
    clearTimeout: (t) => clock.clearTimeout(t),
    setInterval: () => 0,
    clearInterval: () => {},
    useState: (initial) => [initial, () => {}],
    useRef: (initial) => ({ current: initial }),
    useEffect: (fn) => { const cleanup = fn(); if (cleanup) cleanups.push(cleanup); },
    document: { querySelector: (selector) => { selectors.push(selector); return { selector }; } },
    applyFlashClass: (element, cls) => { flashes.push([element.selector, cls]); },
    supabase,
    Math, JSON, Map, Set, Array, Object, Promise, String, Number, Error,
  };
  vm.createContext(sandbox);
  vm.runInContext(`${code}\n;globalThis.__hook = useBroadcastRealtime;`, sandbox);
  const hook = sandbox.__hook('E', true);
  const received = { bids: [], event: [], admin: [] };
  hook.subscribeToBids(['A'], (p) => received.bids.push(sortedJson(p)));
  hook.subscribeToEvent((p) => received.event.push(sortedJson(p)));
  hook.subscribeToAdmin((p) => received.admin.push(sortedJson(p)));
  for (const [topic, event, payload] of messages) {
    server.send(topic, event, payload);
    clock.advance(0);
  }
  return { selectors, flashes, received };
}

function main() {
  const input = INPUT;
  let result;
  if (input.mode === 'hash') {
    const sandbox = {
      process: { env: {} }, window: { location: { search: '' } },
      localStorage: { getItem() { return null; }, setItem() {} },
      URLSearchParams, console, Math, Date,
    };
    vm.createContext(sandbox);
    vm.runInContext(`${input.code}\n;globalThis.__hashCode = hashCode;`, sandbox);
    result = { hashes: input.strings.map((s) => sandbox.__hashCode(s)) };
  } else if (input.mode === 'rollout') {
    const decisions = input.cases.map((c) => {
      const sandbox = {
        process: { env: c.env }, window: { location: { search: c.search } },
        localStorage: { getItem() { return c.session; }, setItem() {} },
        URLSearchParams, console, Math, Date,
      };
      vm.createContext(sandbox);
      vm.runInContext(input.code, sandbox);
      return vm.runInContext(`shouldUseBroadcast(${JSON.stringify(c.user)})`, sandbox);
    });
    result = { decisions };
  } else if (input.mode === 'hooks') {
    result = { cases: input.cases.map((messages) => runHook(input.code, messages)) };
  } else {
    result = { cases: input.cases.map((ops) => runCase(input.code, ops)) };
  }
  return result;
}

let answer;
try {
  answer = main();
} catch (error) {
  contain.noteError(error);
  answer = { error: String(error && error.message ? error.message : error) };
}
contain.send(answer);
