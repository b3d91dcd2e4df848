#!/usr/bin/env python3
"""Quiet when idle, flat as history grows: lulu beside a baseline lulu, side by side, one run.

    python3 server/lulu/benches/quiet.py --base OLD_LULU --new NEW_LULU [--only NAME ...]

Each figure is measured for both binaries in the same run, on the same machine, and printed
beside its target (issue 10):

  sleeping   100 sessions whose agents sleep: their runners' (and watchdogs') CPU over 30 s,
             and private memory per session (PSS and USS from /proc/PID/smaps_rollup)
  queued     200 sessions queued behind one slot: their runners' CPU over 30 s
  serve      an idle `lulu serve` (initialized, listing): CPU over 30 s and syscalls per second
             (strace -c -f over 10 s), with 0 and with 10,000 sessions in the database
  first      the first `lulu/list` page after start at 10,000 sessions; `lulu gc` there
  flood      `lulu ls` latency (p50/p99) while a session prints LINES lines, beside a read-only
             `sqlite3` reading the same page at the same moments
  ingest     an agent printing 1,000,000 Claude-shaped lines (328 bytes) under lulu, beside the
             same agent writing to a file, and beside SQLite alone storing as many rows (the
             floor of a row per line)

Not a test: it asserts nothing, it reports. Needs python3, git, sqlite3 and strace. Set
QUIET_SECONDS (30), QUIET_FLOOD_LINES (5,000,000), QUIET_INGEST_LINES (1,000,000) to change sizes.
"""

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MAKE_REPO = os.path.join(ROOT, "tests", "fixtures", "make-repo.sh")
SECONDS = float(os.environ.get("QUIET_SECONDS", "30"))
FLOOD_LINES = int(os.environ.get("QUIET_FLOOD_LINES", "5000000"))
INGEST_LINES = int(os.environ.get("QUIET_INGEST_LINES", "1000000"))
TICK = os.sysconf("SC_CLK_TCK")

GENERATOR = r"""
import sys, json
n = int(sys.argv[1])
out = open(sys.argv[2], "w") if len(sys.argv) > 2 else sys.stdout
out.write(json.dumps({"type": "system", "subtype": "init", "session_id": "bench"}) + "\n")
chunk = []
for i in range(n):
    head = '{"type":"assistant","message":{"id":"msg_%08d","content":[{"type":"text","text":"line %d ' % (i, i)
    tail = '"}]},"session_id":"bench"}'
    # 328 bytes a line with its newline, as measured in the issue.
    chunk.append(head + "x" * (327 - len(head) - len(tail)) + tail + "\n")
    if len(chunk) == 1000:
        out.write("".join(chunk)); chunk = []
out.write("".join(chunk))
out.write(json.dumps({"type": "result", "subtype": "success", "is_error": False, "session_id": "bench", "total_cost_usd": 0.01, "usage": {"input_tokens": 1, "output_tokens": 2}}) + "\n")
out.flush()
"""

FLOODER = r"""
import sys
n = int(sys.argv[1])
out = sys.stdout
chunk = []
for i in range(n):
    chunk.append("line %d\n" % i)
    if len(chunk) == 10000:
        out.write("".join(chunk)); chunk = []
out.write("".join(chunk))
"""


class World:
    """A repository, a state dir and a config, for one binary."""

    def __init__(self, binary, tmp, name):
        self.binary = binary
        self.root = os.path.join(tmp, name)
        os.makedirs(self.root)
        self.repo = os.path.join(self.root, "repo")
        subprocess.run([MAKE_REPO, self.repo, "basic"], check=True, stdout=subprocess.DEVNULL)
        self.state = os.path.join(self.root, "state")
        os.makedirs(self.state)
        gen = os.path.join(self.root, "gen.py")
        with open(gen, "w") as f:
            f.write(GENERATOR)
        flood = os.path.join(self.root, "flood.py")
        with open(flood, "w") as f:
            f.write(FLOODER)
        self.generator = gen
        with open(os.path.join(self.state, "config.toml"), "w") as f:
            f.write('[agents.sleeper]\ncommand = ["sleep", "{prompt}"]\nformat = "text"\n\n')
            f.write('[agents.flood]\ncommand = ["python3", %s, "{prompt}"]\nformat = "text"\n\n' % json.dumps(flood))
            f.write('[agents.claudegen]\ncommand = ["python3", %s, "{prompt}"]\nformat = "claude-stream-json"\n' % json.dumps(gen))

    def env(self):
        env = dict(os.environ)
        env.update({"LULU_HOME": self.state, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"})
        env.pop("XDG_STATE_HOME", None)
        return env

    def lulu(self, *args, check=True):
        return subprocess.run([self.binary, *args], cwd=self.repo, env=self.env(), check=check,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def spawn(self, *args):
        out = self.lulu("spawn", "--json", *args).stdout
        return json.loads(out)["id"]

    def show(self, session):
        return json.loads(self.lulu("show", "--json", session).stdout)

    def processes(self):
        """Runner and watchdog processes of this state dir (old watchdogs: `__watchdog`)."""
        found = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                words = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
            except OSError:
                continue
            if b"__watchdog" in words:
                found.append(int(pid))
            elif b"__run" in words and self.state.encode() in words:
                found.append(int(pid))
        # Old watchdogs carry no state dir: keep those whose parent is one of our runners.
        ours = set(p for p in found if self.state.encode() in open("/proc/%d/cmdline" % p, "rb").read())
        result = []
        for pid in found:
            if pid in ours:
                result.append(pid)
                continue
            try:
                ppid = int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid in ours:
                result.append(pid)
        return result

    def stop_all(self):
        for pid in self.processes():
            try:
                if os.getpgid(pid) == pid:
                    os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 20
        while self.processes() and time.time() < deadline:
            time.sleep(0.2)


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def cpu_percent(pids, seconds):
    before = cpu_ticks(pids)
    time.sleep(seconds)
    after = cpu_ticks(pids)
    return 100.0 * (after - before) / TICK / seconds


KCMP_VM = 1
LIBC = ctypes.CDLL(None, use_errno=True)
SYS_KCMP = {"x86_64": 312, "aarch64": 272}.get(os.uname().machine)


def same_address_space(pid, other):
    """Whether two processes share one address space (a watchdog cloned with CLONE_VM shares
    its runner's): kcmp(2), which needs the right to ptrace both (the bench's own children)."""
    if SYS_KCMP is None:
        return False
    return LIBC.syscall(SYS_KCMP, pid, other, KCMP_VM, 0, 0) == 0


def memory_kib(pids):
    """PSS and USS summed over the processes, each address space counted once: smaps_rollup
    describes an address space, so two processes sharing one report the same pages."""
    pss = uss = 0
    counted = []
    for pid in pids:
        if any(same_address_space(pid, other) for other in counted):
            continue
        counted.append(pid)
        try:
            for line in open("/proc/%d/smaps_rollup" % pid):
                key, _, value = line.partition(":")
                if key == "Pss":
                    pss += int(value.split()[0])
                elif key in ("Private_Clean", "Private_Dirty"):
                    uss += int(value.split()[0])
        except OSError:
            pass
    return pss, uss


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise RuntimeError("timed out waiting for " + what)


def sqlite(world, sql):
    return subprocess.run(["sqlite3", "-cmd", ".timeout 10000", os.path.join(world.state, "lulu.db"), sql], check=True,
                          stdout=subprocess.PIPE, text=True).stdout


def bench_sleeping(world):
    for _ in range(100):
        world.spawn("--max-running", "1000", "--agent", "sleeper", "600")
    wait_for(lambda: int(sqlite(world, "select count(*) from sessions where status='running'")) == 100,
             180, "100 running sessions")
    time.sleep(2)
    pids = world.processes()
    cpu = cpu_percent(pids, SECONDS)
    pss, uss = memory_kib(pids)
    world.stop_all()
    return {"processes": len(pids), "cpu_percent": cpu, "pss_kib_per_session": pss / 100,
            "uss_kib_per_session": uss / 100}


def bench_queued(world):
    world.spawn("--max-running", "1", "--agent", "sleeper", "600")
    wait_for(lambda: int(sqlite(world, "select count(*) from sessions where status='running'")) == 1,
             60, "the slot holder")
    for _ in range(200):
        world.spawn("--max-running", "1", "--agent", "sleeper", "600")
    wait_for(lambda: len(world.processes()) >= 200, 120, "200 queued runners")
    time.sleep(3)
    pids = world.processes()
    cpu = cpu_percent(pids, SECONDS)
    world.stop_all()
    return {"processes": len(pids), "cpu_percent": cpu}


def frame(message):
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class Client:
    """A minimal LSP client over a real `lulu serve`."""

    def __init__(self, world):
        self.world = world
        self.process = subprocess.Popen([world.binary, "serve"], cwd=world.repo, env=world.env(),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.started = time.time()
        self.next_id = 0

    def send(self, message):
        self.process.stdin.write(frame(message))
        self.process.stdin.flush()

    def read(self):
        length = None
        while True:
            line = self.process.stdout.readline()
            if line in (b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.process.stdout.read(length))

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            message = self.read()
            if message.get("id") == self.next_id:
                return message

    def initialize(self):
        uri = "file://" + self.world.repo
        self.request("initialize", {"processId": None, "rootUri": uri,
                                    "workspaceFolders": [{"uri": uri, "name": "repo"}],
                                    "capabilities": {},
                                    "initializationOptions": {"stateDir": self.world.state}})
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})

    def drain_in_background(self):
        def drain():
            try:
                while self.process.stdout.read(65536):
                    pass
            except (OSError, ValueError):
                pass
        threading.Thread(target=drain, daemon=True).start()

    def close(self):
        self.process.kill()
        self.process.wait()


def insert_history(world, count):
    """`count` ended sessions, as many runs of the past would leave them."""
    world.lulu("ls")  # creates the schema
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    root = os.path.join(os.path.dirname(world.repo), ".lulu-worktrees", "repo")
    rows = []
    for n in range(count):
        sid = str(uuid.uuid4())
        rows.append("('%s','old %d','%s','completed','%s','%s',NULL,'p','sleeper','[\"sleep\"]','text','{}','%s/old-%d','lulu/old-%d','HEAD','0000000000000000000000000000000000000000',NULL,NULL,'exited',0,NULL,NULL,NULL,NULL,NULL,NULL,1,4,%d,0,0,0,%d)"
                    % (sid, n, world.repo, now, now, root, n, n, n + 1, n + 1))
    columns = ("id, name, repo, status, created_at, last_activity_at, failure_reason, prompt, agent, command, format, env, "
               "worktree_path, branch, base_ref, base_commit, started_at, ended_at, outcome, exit_code, signal, failure_detail, "
               "agent_session_id, cost_usd, input_tokens, output_tokens, run, max_running, queue_seq, slot_held, "
               "cancel_requested_run, last_seq, change_seq")
    sql = "BEGIN;" + "".join("INSERT INTO sessions (%s) VALUES %s;" % (columns, row) for row in rows)
    sql += "UPDATE counters SET value = %d WHERE name IN ('change', 'queue'); COMMIT;" % (count + 1)
    subprocess.run(["sqlite3", os.path.join(world.state, "lulu.db")], input=sql, text=True, check=True)


def strace_rate(pid, seconds):
    trace = subprocess.Popen(["strace", "-c", "-f", "-p", str(pid)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    trace.send_signal(signal.SIGINT)
    _, err = trace.communicate(timeout=30)
    total = 0
    for line in err.splitlines():
        parts = line.split()
        if parts and parts[-1] == "total":
            total = int(parts[3]) if len(parts) >= 5 else int(parts[2])
    return total / seconds


def bench_serve(world, history):
    if history:
        insert_history(world, history)
    client = Client(world)
    client.initialize()
    client.request("lulu/list", {"limit": 50, "allRepos": True})
    client.drain_in_background()
    time.sleep(3)
    pid = client.process.pid
    cpu = cpu_percent([pid], SECONDS)
    rate = strace_rate(pid, 10)
    rss = int([l for l in open("/proc/%d/status" % pid) if l.startswith("VmRSS")][0].split()[1])
    client.close()
    return {"sessions": history, "cpu_percent": cpu, "syscalls_per_s": rate, "rss_kib": rss}


def bench_first(world):
    insert_history(world, 10000)
    samples = []
    for _ in range(5):
        client = Client(world)
        client.initialize()
        started = time.time()
        client.request("lulu/list", {"limit": 50, "allRepos": True})
        samples.append((time.time() - started) * 1000)
        client.close()
    gc = []
    for _ in range(5):
        started = time.time()
        world.lulu("gc", check=False)
        gc.append((time.time() - started) * 1000)
    samples.sort()
    gc.sort()
    return {"first_list_ms_median": samples[2], "first_list_ms_max": samples[-1],
            "gc_ms_median": gc[2]}


def bench_flood(world):
    session = world.spawn("--max-running", "1000", "--agent", "flood", str(FLOOD_LINES))
    db = os.path.join(world.state, "lulu.db")
    page = "SELECT id, name, status, last_activity_at FROM sessions ORDER BY created_at DESC, id DESC LIMIT 50"
    lulu_ms, sqlite_ms = [], []
    while True:
        started = time.time()
        world.lulu("ls", check=False)
        lulu_ms.append((time.time() - started) * 1000)
        started = time.time()
        subprocess.run(["sqlite3", "-readonly", "-cmd", ".timeout 10000", db, page], stdout=subprocess.DEVNULL, check=False)
        sqlite_ms.append((time.time() - started) * 1000)
        status = sqlite(world, "select status from sessions where id='%s'" % session).strip()
        if status in ("completed", "failed"):
            break
        time.sleep(0.05)
    def pct(samples, p):
        samples = sorted(samples)
        return samples[min(len(samples) - 1, int(round((len(samples) - 1) * p)))]
    return {"samples": len(lulu_ms), "ls_p50_ms": pct(lulu_ms, 0.5), "ls_p99_ms": pct(lulu_ms, 0.99),
            "sqlite3_p50_ms": pct(sqlite_ms, 0.5), "sqlite3_p99_ms": pct(sqlite_ms, 0.99),
            "ls_max_ms": max(lulu_ms)}


def bench_ingest(world):
    started = time.time()
    subprocess.run(["python3", world.generator, str(INGEST_LINES), os.path.join(world.root, "to-a-file.jsonl")], check=True)
    to_file = time.time() - started
    floor = sqlite_floor(world)
    session = world.spawn("--max-running", "1000", "--agent", "claudegen", str(INGEST_LINES))
    db = os.path.join(world.state, "lulu.db")
    wait_for(lambda: sqlite(world, "select status from sessions where id='%s'" % session).strip() in ("completed", "failed"),
             900, "the ingest session")
    row = sqlite(world, "select status, started_at, ended_at from sessions where id='%s'" % session).strip().split("|")
    def parse(text):
        return time.mktime(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) + float(text[19:23] or 0)
    under_lulu = parse(row[2]) - parse(row[1])
    size = os.path.getsize(db) + (os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0)
    return {"status": row[0], "to_file_s": to_file, "under_lulu_s": under_lulu, "ratio": under_lulu / to_file,
            "db_bytes_per_line": size / INGEST_LINES, "sqlite_alone_s": floor, "sqlite_alone_ratio": floor / to_file}


def sqlite_floor(world):
    """SQLite alone storing the same number of lines, one row each, as lulu's events table has
    them (no rendered text), in transactions of 2,000 rows, WAL, synchronous=NORMAL: the rows
    are made inside SQLite (no pipe, no parsing, no process but sqlite3). What any design that
    keeps a row per line in SQLite cannot go under."""
    db = os.path.join(world.root, "floor.db")
    script = ["PRAGMA journal_mode=WAL;", "PRAGMA synchronous=NORMAL;",
              "CREATE TABLE events (session_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, "
              "stream TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL, data TEXT, UNIQUE (session_id, seq));"]
    for first in range(0, INGEST_LINES, 2000):
        last = min(first + 2000, INGEST_LINES) - 1
        script.append("BEGIN; INSERT INTO events SELECT '%s', value, '2026-12-03T15:27:40.106Z', 'stdout', "
                      "'assistant', '', printf('%%.327c', 'x') FROM generate_series(%d, %d); COMMIT;"
                      % (uuid.uuid4(), first, last))
    started = time.time()
    subprocess.run(["sqlite3", db], input="\n".join(script), text=True, check=True, stdout=subprocess.DEVNULL)
    return time.time() - started


BENCHES = {
    "sleeping": (bench_sleeping, "runners' CPU <= 1 % of a core; <= 1,500 KiB per session"),
    "queued": (bench_queued, "runners' CPU <= 1 % of a core"),
    "serve0": (lambda world: bench_serve(world, 0), "<= 0.1 % of a core; < 20 syscalls/s"),
    "serve10k": (lambda world: bench_serve(world, 10000), "<= 0.1 % of a core; < 20 syscalls/s"),
    "first": (bench_first, "first page < 10 ms; gc < 30 ms"),
    "flood": (bench_flood, "ls p99 within 3x sqlite3's"),
    "ingest": (bench_ingest, "<= 1.3x writing to a file"),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--new", required=True)
    parser.add_argument("--only", nargs="*", default=list(BENCHES))
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="lulu-quiet-")
    for name in args.only:
        bench, target = BENCHES[name]
        print("== %s (target: %s)" % (name, target), flush=True)
        for label, binary in (("base", args.base), ("new", args.new)):
            world = World(os.path.abspath(binary), tmp, "%s-%s" % (name, label))
            try:
                result = bench(world)
            except Exception as error:  # a report, not a test: say what failed and go on
                result = {"error": str(error)}
            finally:
                world.stop_all()
            print("   %-4s %s" % (label, json.dumps(result, default=lambda x: round(x, 3))), flush=True)
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(main())
