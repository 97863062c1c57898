// A small QMP client for the golden capture scripts: newline-delimited JSON over a unix socket,
// replies in order, events recorded (with the order in which replies and events arrived).
import net from 'node:net';

const CONNECT_TIMEOUT_MS = 20 * 1000;
const EVENT_TIMEOUT_MS = 60 * 1000;

export function hasExited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Qmp {
  #socket;
  #buffer = '';
  #waiters = [];
  #closed = null;
  #eventWaiters = [];
  events = []; // every event since the last takeEvents(), {event, data} (no timestamps)
  log = []; // message kinds in arrival order since the last takeEvents(): event names and "return"/"error"

  constructor(socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => this.#onData(chunk));
    socket.on('close', () => this.#fail(new Error('QMP connection closed')));
    socket.on('error', (err) => this.#fail(err));
  }

  static async connect(sockPath, child) {
    const deadline = Date.now() + CONNECT_TIMEOUT_MS;
    for (;;) {
      if (hasExited(child)) throw new Error(`QEMU exited (${child.exitCode ?? child.signalCode})`);
      try {
        const socket = await new Promise((resolve, reject) => {
          const s = net.createConnection(sockPath);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        const qmp = new Qmp(socket);
        const greeting = await qmp.#next();
        if (!greeting.QMP) throw new Error(`unexpected QMP greeting ${JSON.stringify(greeting)}`);
        return qmp;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`cannot connect to QMP at ${sockPath}: ${err.message}`);
        await sleep(100);
      }
    }
  }

  // full reply message ({return} or {error})
  async request(execute, args) {
    const msg = args === undefined ? { execute } : { execute, arguments: args };
    this.#socket.write(`${JSON.stringify(msg)}\n`);
    return this.#next();
  }

  // several requests written at once; resolves to their replies in order
  async requestBatch(msgs) {
    this.#socket.write(msgs.map((m) => `${JSON.stringify(m)}\n`).join(''));
    return Promise.all(msgs.map(() => this.#next()));
  }

  async command(execute, args) {
    const reply = await this.request(execute, args);
    if (reply.error) throw new Error(`QMP ${execute} failed: ${reply.error.class}: ${reply.error.desc}`);
    return reply.return;
  }

  async hmp(line) {
    return this.command('human-monitor-command', { 'command-line': line });
  }

  takeEvents() {
    const out = { events: this.events, sequence: this.log };
    this.events = [];
    this.log = [];
    return out;
  }

  waitEvent(name, timeoutMs = EVENT_TIMEOUT_MS) {
    const found = this.events.find((e) => e.event === name);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for event ${name}`)), timeoutMs);
      this.#eventWaiters.push({ name, resolve: (e) => { clearTimeout(timer); resolve(e); } });
    });
  }

  close() {
    this.#socket.destroy();
  }

  #next() {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #onData(chunk) {
    this.#buffer += chunk;
    let nl;
    while ((nl = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, nl).trim();
      this.#buffer = this.#buffer.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line);
      if (msg.event) {
        const e = msg.data === undefined ? { event: msg.event } : { event: msg.event, data: msg.data };
        this.events.push(e);
        this.log.push(msg.event);
        for (const w of this.#eventWaiters.filter((x) => x.name === msg.event)) w.resolve(e);
        this.#eventWaiters = this.#eventWaiters.filter((x) => x.name !== msg.event);
        continue;
      }
      if (!msg.QMP) this.log.push(msg.error ? 'error' : 'return');
      const waiter = this.#waiters.shift();
      if (waiter) waiter.resolve(msg);
    }
  }

  #fail(err) {
    this.#closed ??= err;
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }
}
