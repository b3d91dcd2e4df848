// An independent client for `lulu serve`: Microsoft's vscode-jsonrpc (the library under
// vscode-languageclient), nothing of ours, driving the real binary over stdio, against real
// git repositories and the scripted fake agents. The same scenario as server/lulu/tests/it/protocol.rs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import jsonrpc from 'vscode-jsonrpc/node';

const { createMessageConnection, StreamMessageReader, StreamMessageWriter, ResponseError } = jsonrpc;

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const lulu = process.env.LULU_BIN ?? path.join(root, 'target/debug/lulu');
const fixtures = path.join(root, 'tests/fixtures');
// A guard against a hang, not a timing assertion.
const PATIENCE_MS = 120_000;

function git(repo, ...args) {
  return execFileSync('git', ['-C', repo, ...args], {
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
  }).toString().trim();
}

const everyTmp = [];

function setup() {
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'lulu-node-')));
  everyTmp.push(tmp);
  const repo = path.join(tmp, 'repo');
  execFileSync(path.join(fixtures, 'make-repo.sh'), [repo, 'basic']);
  return { tmp, repo, state: path.join(tmp, 'state') };
}

function initOptions(state) {
  const agent = (name, format, args) => ({ command: [path.join(fixtures, 'agents', name), ...args], format });
  return {
    stateDir: state,
    defaultAgent: 'text',
    agents: {
      text: agent('fake-text', 'text', ['{prompt}']),
      claude: agent('fake-claude', 'claude-stream-json', ['-p', '{prompt}', '--output-format', 'stream-json', '--verbose']),
    },
  };
}

/** Replaces session ids, times, commit hashes and the temp dir with placeholders. */
class Normalizer {
  constructor(tmp) {
    this.tmp = tmp;
    this.ids = new Map();
  }
  id(id) {
    if (!this.ids.has(id)) this.ids.set(id, `<id${this.ids.size + 1}>`);
    return this.ids.get(id);
  }
  apply(value) {
    if (typeof value === 'string') {
      if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)) return this.id(value);
      if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value)) return '<time>';
      if (/^[0-9a-f]{40}$/.test(value)) return '<commit>';
      let text = value.split(this.tmp).join('<tmp>');
      for (const [id, placeholder] of this.ids) {
        text = text.split(id).join(placeholder).split(id.slice(-6)).join(placeholder.replace('id', 'tail'));
      }
      return text;
    }
    if (Array.isArray(value)) return value.map((item) => this.apply(item));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.keys(value).sort().map((key) => [key, this.apply(value[key])]));
    }
    return value;
  }
}

const everyClient = [];

class Client {
  constructor(tmp) {
    everyClient.push(this);
    const log = fs.openSync(path.join(tmp, `serve-${Date.now()}-${Math.random()}.log`), 'w');
    this.process = spawn(lulu, ['serve'], { stdio: ['pipe', 'pipe', log] });
    this.connection = createMessageConnection(
      new StreamMessageReader(this.process.stdout),
      new StreamMessageWriter(this.process.stdin),
    );
    this.notifications = [];
    this.waiters = [];
    for (const method of ['lulu/sessionChanged', 'lulu/sessionRemoved', 'lulu/output']) {
      this.connection.onNotification(method, (params) => this.#arrived({ method, params }));
    }
    this.connection.listen();
    this.exited = new Promise((resolve) => this.process.on('exit', (code) => resolve(code)));
  }

  #arrived(message) {
    const waiter = this.waiters.find((candidate) => candidate.pick(message));
    if (waiter) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      clearTimeout(waiter.timer);
      waiter.resolve(message);
    } else {
      this.notifications.push(message);
    }
  }

  /** The next notification `pick` accepts (kept ones first). */
  next(what, pick) {
    const at = this.notifications.findIndex(pick);
    if (at >= 0) return Promise.resolve(this.notifications.splice(at, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what}; kept: ${JSON.stringify(this.notifications)}`)), PATIENCE_MS);
      this.waiters.push({ pick, resolve, timer });
    });
  }

  async status(id, status) {
    const message = await this.next(`sessionChanged ${status}`, (m) =>
      m.method === 'lulu/sessionChanged' && m.params.session.id === id && m.params.session.status === status);
    return message.params.session;
  }

  async outputUntil(id, last) {
    const events = [];
    for (;;) {
      const message = await this.next(`output of ${id}`, (m) => m.method === 'lulu/output' && m.params.id === id);
      events.push(...message.params.events);
      if (message.params.events.some(last)) return events;
    }
  }

  request(method, params) {
    return this.connection.sendRequest(method, params);
  }

  /** The error of a request that must fail, as `{code, message}` (and `data` if any). */
  async failure(method, params) {
    try {
      const result = await this.request(method, params);
      assert.fail(`${method} ${JSON.stringify(params)} succeeded: ${JSON.stringify(result)}`);
    } catch (error) {
      assert.ok(error instanceof ResponseError, String(error));
      return error.data === undefined
        ? { code: error.code, message: error.message }
        : { code: error.code, message: error.message, data: error.data };
    }
  }

  async initialize(repo, state) {
    const result = await this.request('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: {},
      workspaceFolders: [{ uri: `file://${repo}`, name: 'repo' }],
      initializationOptions: initOptions(state),
    });
    await this.connection.sendNotification('initialized', {});
    return result;
  }

  async shutdown() {
    assert.equal(await this.request('shutdown'), null);
    await this.connection.sendNotification('exit');
    const code = await this.exited;
    this.connection.dispose();
    return code;
  }
}

// A failed test must not leave its servers behind.
after(() => {
  for (const client of everyClient) {
    if (client.process.exitCode === null) client.process.kill('SIGKILL');
  }
  for (const tmp of everyTmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const row = (name, id, status, extra = {}) => ({
  createdAt: '<time>', id, lastActivityAt: '<time>', name, repo: '<tmp>/repo', status, ...extra,
});
const seqs = (events) => events.map((event) => event.seq);
const range = (from, count) => Array.from({ length: count }, (_, index) => from + index);

test('lifecycle and error codes', { timeout: 300_000 }, async () => {
  const { tmp, repo, state } = setup();
  const client = new Client(tmp);
  assert.deepEqual(await client.failure('lulu/list', {}), {
    code: -32002, message: 'the server is not initialized: send `initialize` before `lulu/list`',
  });
  const n = new Normalizer(tmp);
  const result = n.apply(await client.initialize(repo, state));
  assert.deepEqual(result.capabilities.experimental.lulu.protocolVersion, 2);
  assert.deepEqual(result.capabilities.experimental.lulu.repos, ['<tmp>/repo']);
  assert.deepEqual(await client.failure('lulu/nope', {}), { code: -32601, message: 'Method not found', data: 'lulu/nope' });
  assert.deepEqual(await client.failure('lulu/session', { id: 5 }), {
    code: -32602, message: 'invalid params for lulu/session: `id`: invalid type: integer `5`, expected a string',
  });
  assert.deepEqual(await client.failure('lulu/session', { id: 'ffff' }), { code: -32001, message: 'no session with id "ffff"' });
  assert.deepEqual(n.apply(await client.failure('lulu/spawn', { prompt: 'x', agent: 'nobody' })), {
    code: -32013, message: 'unknown agent "nobody" (known agents: claude, codex, text)',
    data: { reason: 'unknownAgent', agent: 'nobody' },
  });
  const badRef = n.apply(await client.failure('lulu/spawn', { prompt: 'x', baseRef: 'nope' }));
  assert.deepEqual([badRef.code, badRef.message], [-32014, '"nope" does not name a commit in the repository at <tmp>/repo']);
  const badRepo = n.apply(await client.failure('lulu/spawn', { prompt: 'x', repo: tmp }));
  assert.deepEqual([badRepo.code, badRepo.message], [-32012, '<tmp> is not inside a git repository']);
  assert.equal(await client.shutdown(), 0);
});

test('a session through its whole life', { timeout: 300_000 }, async () => {
  const { tmp, repo, state } = setup();
  const n = new Normalizer(tmp);
  const client = new Client(tmp);
  await client.initialize(repo, state);

  const agents = await client.request('lulu/agents', {});
  assert.equal(agents.defaultAgent, 'text');
  assert.deepEqual(agents.agents.map((agent) => [agent.name, agent.available]),
    [['claude', true], ['codex', false], ['text', true]]);

  const spawned = await client.request('lulu/spawn', { prompt: 'take notes [edit] [lines 3]', name: 'notes' });
  assert.deepEqual(n.apply(spawned), row('notes', '<id1>', 'starting'));
  const id = spawned.id;
  assert.deepEqual(n.apply(await client.status(id, 'completed')), row('notes', '<id1>', 'completed'));
  assert.deepEqual(n.apply(await client.request('lulu/list', {})), { next: null, sessions: [row('notes', '<id1>', 'completed')] });

  const detail = n.apply(await client.request('lulu/session', { id }));
  assert.deepEqual(detail, {
    ...row('notes', '<id1>', 'completed'),
    agent: 'text', agentSessionId: null, baseCommit: '<commit>', branch: 'lulu/notes-<tail1>',
    command: [path.join(fixtures, 'agents/fake-text'), 'take notes [edit] [lines 3]'],
    costUsd: null, endedAt: '<time>', exitCode: 0, failureDetail: null, inputTokens: null,
    outcome: 'exited', outputTokens: null, prompt: 'take notes [edit] [lines 3]', signal: null,
    startedAt: '<time>', worktreePath: '<tmp>/repo/.lulu/worktrees/notes-<tail1>',
    pendingApprovals: [], maxCostUsd: null, maxMinutes: null,
    runs: [{
      run: 1, prompt: 'take notes [edit] [lines 3]', queuedAt: '<time>', status: 'completed',
      startedAt: '<time>', endedAt: '<time>', outcome: 'exited', failureReason: null,
      costUsd: null, inputTokens: null, outputTokens: null,
    }],
    ports: [], worktreeGone: false,
    baseBranch: 'main', ahead: 1, behind: 0, landed: null,
  });

  const transcript = await client.request('lulu/transcript', { id });
  assert.equal(transcript.lastSeq, 8);
  assert.deepEqual(seqs(transcript.events), range(1, 8));
  assert.deepEqual(transcript.events.slice(2, 7).map((event) => [event.stream, event.kind, event.text]), [
    ['stdout', 'text', 'starting: take notes [edit] [lines 3]'],
    ['stdout', 'text', 'line 1'], ['stdout', 'text', 'line 2'], ['stdout', 'text', 'line 3'],
    ['stdout', 'text', 'done'],
  ]);
  const page = await client.request('lulu/transcript', { id, afterSeq: 3, limit: 2 });
  assert.deepEqual(page, { events: transcript.events.slice(3, 5), lastSeq: 8 });

  // watch replays from afterSeq; unwatch.
  assert.deepEqual(await client.request('lulu/watch', { id, afterSeq: 5 }), {});
  const replayed = await client.outputUntil(id, (event) => event.seq === 8);
  assert.deepEqual(replayed, transcript.events.slice(5));
  assert.deepEqual(await client.request('lulu/unwatch', { id }), {});

  assert.deepEqual(n.apply(await client.request('lulu/diff', { id })), {
    baseCommit: '<commit>', files: [{ additions: 3, deletions: 0, path: 'notes/text.md', status: 'added' }],
  });
  assert.equal((await client.request('lulu/diff', { id })).baseCommit, git(repo, 'rev-parse', 'HEAD'));

  // continue, watched live.
  assert.deepEqual(await client.request('lulu/watch', { id, afterSeq: 8 }), {});
  assert.deepEqual(n.apply(await client.request('lulu/continue', { id, prompt: 'more [lines 200]' })),
    row('notes', '<id1>', 'starting'));
  const live = await client.outputUntil(id, (event) => event.kind === 'status' && event.text === 'completed');
  assert.deepEqual(seqs(live), range(9, live.length));
  assert.deepEqual(live.filter((event) => event.stream === 'stdout').map((event) => event.text),
    ['starting: more [lines 200]', ...range(1, 200).map((line) => `line ${line}`), 'done']);
  await client.request('lulu/unwatch', { id });

  // cancel and the refusals of remove.
  const sleeper = await client.request('lulu/spawn', { prompt: '[sleep 60]', name: 'sleeper' });
  n.id(sleeper.id);
  await client.status(sleeper.id, 'running');
  assert.deepEqual(n.apply(await client.failure('lulu/remove', { id: sleeper.id })), {
    code: -32010, message: 'session <id2> is still running; cancel it first or remove it with force',
  });
  assert.deepEqual(n.apply(await client.failure('lulu/continue', { id: sleeper.id, prompt: 'again' })), {
    code: -32010, message: 'session <id2> is still running; continue it once it has ended',
  });
  const cancelled = await client.request('lulu/cancel', { id: sleeper.id });
  assert.deepEqual(n.apply(cancelled), row('sleeper', '<id2>', 'failed', { failureReason: 'cancelled by the user' }));
  assert.deepEqual(await client.status(sleeper.id, 'failed'), cancelled);

  const dirty = await client.request('lulu/spawn', { prompt: '[dirty]', name: 'dirty' });
  await client.status(dirty.id, 'completed');
  assert.equal((await client.failure('lulu/remove', { id: dirty.id })).code, -32011);
  assert.equal((await client.failure('lulu/remove', { id, deleteBranch: true })).code, -32011);
  assert.deepEqual(await client.request('lulu/remove', { id: dirty.id, force: true }), {});
  const removed = await client.next('sessionRemoved', (m) => m.method === 'lulu/sessionRemoved');
  assert.deepEqual(removed.params, { id: dirty.id });
  assert.equal((await client.failure('lulu/session', { id: dirty.id })).code, -32001);

  assert.equal(await client.shutdown(), 0);
});

test('two clients on one state dir: one spawns, the other sees it run and streams it', { timeout: 300_000 }, async () => {
  const { tmp, repo, state } = setup();
  const a = new Client(tmp);
  const b = new Client(tmp);
  await a.initialize(repo, state);
  await b.initialize(repo, state);
  const spawned = await a.request('lulu/spawn', { prompt: '[lines 50]', name: 'shared' });
  await b.request('lulu/watch', { id: spawned.id });
  const events = await b.outputUntil(spawned.id, (event) => event.kind === 'status' && event.text === 'completed');
  assert.deepEqual(seqs(events), range(1, events.length));
  assert.equal((await b.status(spawned.id, 'completed')).name, 'shared');
  assert.equal(await a.shutdown(), 0);
  assert.equal(await b.shutdown(), 0);
});
