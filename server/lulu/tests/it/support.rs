//! A small LSP client for the real `lulu serve` binary: real `Content-Length` framing over the
//! child's stdin/stdout, whole-JSON comparisons with ids, times and temp paths normalised.

use std::{
    collections::{HashMap, VecDeque},
    io::{BufRead, BufReader, Read, Write},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

/// How long a test waits for a message before it gives up with a clear story. Not a timing
/// assertion: only a guard against a hang, far above any normal latency.
pub const PATIENCE: Duration = Duration::from_secs(120);

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate is server/lulu in the workspace")
        .to_owned()
}

pub fn fixture(path: &str) -> PathBuf {
    workspace_root().join("tests/fixtures").join(path)
}

/// A real git repository made by the fixture script.
pub fn make_repo(dir: &Path, kind: &str) -> PathBuf {
    let status = Command::new(fixture("make-repo.sh"))
        .arg(dir)
        .arg(kind)
        .status()
        .expect("run make-repo.sh");
    assert!(
        status.success(),
        "make-repo.sh {} {kind} failed",
        dir.display()
    );
    dir.canonicalize().expect("canonical repo path")
}

/// `initializationOptions` for a test: its own state dir and the fake agents.
pub fn init_options(state_dir: &Path) -> Value {
    let agent = |name: &str, format: &str, args: &[&str]| {
        let mut command = vec![json!(fixture(&format!("agents/{name}")))];
        command.extend(args.iter().map(|arg| json!(arg)));
        json!({ "command": command, "format": format })
    };
    json!({
        "stateDir": state_dir,
        "maxRunning": 6,
        "defaultAgent": "text",
        "agents": {
            "text": agent("fake-text", "text", &["{prompt}"]),
            "claude": agent("fake-claude", "claude-stream-json",
                &["-p", "{prompt}", "--output-format", "stream-json", "--verbose"]),
            "codex": agent("fake-codex", "codex-json", &["exec", "--json", "{prompt}"]),
            "missing": { "command": ["lulu-no-such-program"], "format": "text" },
        }
    })
}

pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The running `lulu serve`.
pub struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: mpsc::Receiver<Value>,
    /// Notifications read while waiting for something else.
    notifications: VecDeque<Value>,
    responses: HashMap<String, Value>,
    next_id: i64,
    pub stderr_path: PathBuf,
    /// While set, nothing is read from the server's stdout (a client that stopped reading).
    paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Server {
    /// Starts `lulu serve`; its stderr goes to `log_dir/serve-N.log`.
    pub fn start(log_dir: &Path) -> Server {
        Server::start_with_env(log_dir, &[])
    }

    /// Starts `lulu serve` with these environment variables set.
    pub fn start_with_env(log_dir: &Path, env: &[(&str, &Path)]) -> Server {
        Server::start_with(log_dir, env, &[])
    }

    /// Starts `lulu serve` with these environment variables set and these extra arguments.
    pub fn start_with(log_dir: &Path, env: &[(&str, &Path)], args: &[&str]) -> Server {
        std::fs::create_dir_all(log_dir).expect("log dir");
        let mut n = 0;
        let stderr_path = loop {
            let candidate = log_dir.join(format!("serve-{n}.log"));
            if !candidate.exists() {
                break candidate;
            }
            n += 1;
        };
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_lulu"))
            .arg("serve")
            .args(args)
            .env("RUST_LOG", "lulu=debug")
            .env("LULU_HOME", log_dir.join("default-home-unused"))
            .envs(env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start lulu serve");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (sender, incoming) = mpsc::channel();
        let paused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let gate = paused.clone();
        std::thread::spawn(move || read_frames(stdout, sender, gate));
        Server {
            child,
            stdin,
            incoming,
            notifications: VecDeque::new(),
            responses: HashMap::new(),
            next_id: 1,
            stderr_path,
            paused,
        }
    }

    /// Stops reading the server's stdout (after the frame being read, if any).
    pub fn pause_reading(&self) {
        self.paused.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn resume_reading(&self) {
        self.paused
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// The server process's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Writes raw bytes to the server's stdin.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write to lulu serve");
        stdin.flush().expect("flush");
    }

    /// Frames and sends a message body as it is.
    pub fn send_body(&mut self, body: &[u8]) {
        let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        framed.extend_from_slice(body);
        self.send_raw(&framed);
    }

    pub fn send(&mut self, message: &Value) {
        self.send_body(&serde_json::to_vec(message).expect("json"));
    }

    /// Sends a request and returns its id.
    pub fn send_request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if !params.is_null() {
            message["params"] = params;
        }
        self.send(&message);
        id
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn receive(&mut self, waiting_for: &str) -> Value {
        match self.incoming.recv_timeout(PATIENCE) {
            Ok(message) => message,
            Err(_) => panic!(
                "no message from lulu serve while waiting for {waiting_for}; its stderr:\n{}",
                self.stderr()
            ),
        }
    }

    /// The response (the whole message) with this id; notifications read meanwhile are kept.
    pub fn response(&mut self, id: &Value) -> Value {
        let key = id.to_string();
        loop {
            if let Some(response) = self.responses.remove(&key) {
                return response;
            }
            let message = self.receive(&format!("the response to {key}"));
            self.file(message);
        }
    }

    fn file(&mut self, message: Value) {
        if message.get("method").is_some() {
            self.notifications.push_back(message);
        } else {
            let key = message
                .get("id")
                .cloned()
                .unwrap_or(Value::Null)
                .to_string();
            self.responses.insert(key, message);
        }
    }

    /// Sends a request and returns the whole response message.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params);
        self.response(&json!(id))
    }

    /// Sends a request and returns its `result`, panicking with the error if there is one.
    pub fn result(&mut self, method: &str, params: Value) -> Value {
        let response = self.call(method, params.clone());
        match response.get("result") {
            Some(result) => result.clone(),
            None => panic!("{method} {params} failed: {response}"),
        }
    }

    /// The next notification for which `pick` is true; others read meanwhile are kept in order.
    pub fn notification(&mut self, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
        if let Some(at) = self.notifications.iter().position(&pick) {
            return self.notifications.remove(at).expect("present");
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = match self.incoming.recv_timeout(left) {
                Ok(message) => message,
                Err(_) => panic!(
                    "no {what} from lulu serve; notifications seen: {:#?}\nits stderr:\n{}",
                    self.notifications,
                    self.stderr()
                ),
            };
            if message.get("method").is_some() && pick(&message) {
                return message;
            }
            self.file(message);
        }
    }

    /// Waits for `lulu/sessionChanged` of `id` with this status.
    pub fn wait_status(&mut self, id: &str, status: &str) -> Value {
        let what = format!("sessionChanged of {id} to {status}");
        self.notification(&what, |message| {
            message["method"] == "lulu/sessionChanged"
                && message["params"]["session"]["id"] == id
                && message["params"]["session"]["status"] == status
        })["params"]["session"]
            .clone()
    }

    /// Collects `lulu/output` of `id` until an event satisfies `last`; returns every event.
    pub fn output_until(&mut self, id: &str, last: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let message = self.notification(&format!("lulu/output of {id}"), |message| {
                message["method"] == "lulu/output" && message["params"]["id"] == id
            });
            let batch = message["params"]["events"]
                .as_array()
                .expect("events")
                .clone();
            let done = batch.iter().any(&last);
            events.extend(batch);
            if done {
                return events;
            }
        }
    }

    /// Takes the kept notifications (and any already read).
    // Only `benches/serve.rs` drains notifications wholesale; the tests wait for particular ones.
    #[allow(dead_code)]
    pub fn take_notifications(&mut self) -> Vec<Value> {
        while let Ok(message) = self.incoming.try_recv() {
            self.file(message);
        }
        self.notifications.drain(..).collect()
    }

    /// `initialize` with a workspace folder and options; returns the whole response.
    pub fn initialize(&mut self, folders: &[&Path], options: Value) -> Value {
        let folders: Vec<Value> = folders
            .iter()
            .map(|path| json!({"uri": file_uri(path), "name": "ws"}))
            .collect();
        let response = self.call(
            "initialize",
            json!({
                "processId": null,
                "rootUri": null,
                "capabilities": {},
                "workspaceFolders": folders,
                "initializationOptions": options,
            }),
        );
        if response.get("result").is_some() {
            self.notify("initialized", json!({}));
        }
        response
    }

    /// Closes stdin.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to end.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                panic!("lulu serve did not end; its stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `shutdown` then `exit`, with stdin left open; returns the exit status.
    pub fn shutdown(&mut self) -> ExitStatus {
        let response = self.call("shutdown", Value::Null);
        assert_eq!(response["result"], Value::Null, "{response}");
        self.notify("exit", Value::Null);
        self.wait()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_frames(
    stdout: impl Read,
    sender: mpsc::Sender<Value>,
    paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    // A small buffer, so that a pause stops reading the pipe almost at once.
    let mut reader = BufReader::with_capacity(4096, stdout);
    loop {
        while paused.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut length = None;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("a header line from lulu serve");
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<usize>().expect("a length"));
            }
        }
        let length = length.expect("lulu serve sent a frame without Content-Length");
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let message: Value = serde_json::from_slice(&body).expect("lulu serve sent valid JSON");
        if sender.send(message).is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Normalisation

/// Replaces what changes from run to run: session ids (`<id1>`, `<id2>` by first sight),
/// timestamps (`<time>`), commit hashes (`<commit>`), and the test's temp dir (`<tmp>`).
#[derive(Default)]
pub struct Normalizer {
    ids: HashMap<String, String>,
    pub tmp: Option<String>,
    /// Further literal replacements (a commit's short hash, say).
    pub replacements: Vec<(String, String)>,
}

impl Normalizer {
    pub fn new(tmp: &Path) -> Normalizer {
        Normalizer {
            ids: HashMap::new(),
            tmp: Some(
                tmp.canonicalize()
                    .unwrap_or(tmp.to_owned())
                    .display()
                    .to_string(),
            ),
            replacements: Vec::new(),
        }
    }

    /// The placeholder of a session id (and `<tailN>` for its last six digits, which name
    /// its branch and folder).
    pub fn id(&mut self, id: &str) -> String {
        if let Some(known) = self.ids.get(id) {
            return known.clone();
        }
        let next = self.ids.len() + 1;
        let placeholder = format!("<id{next}>");
        self.ids.insert(id.to_owned(), placeholder.clone());
        self.replacements
            .push((id[id.len() - 6..].to_owned(), format!("<tail{next}>")));
        placeholder
    }

    pub fn replace(&mut self, from: &str, to: &str) {
        self.replacements.push((from.to_owned(), to.to_owned()));
    }

    pub fn apply(&mut self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.text(text)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| self.apply(item)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, value)| (key.clone(), self.apply(value)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn text(&mut self, text: &str) -> String {
        if is_uuid(text) {
            return self.id(text);
        }
        if is_timestamp(text) {
            return "<time>".to_owned();
        }
        if text.len() == 40 && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return "<commit>".to_owned();
        }
        let mut text = text.to_owned();
        for (id, placeholder) in &self.ids {
            if text.contains(id.as_str()) {
                text = text.replace(id.as_str(), placeholder);
            }
        }
        if let Some(tmp) = &self.tmp {
            text = text.replace(tmp.as_str(), "<tmp>");
        }
        for (from, to) in &self.replacements {
            text = text.replace(from.as_str(), to);
        }
        text
    }
}

fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(at, byte)| match at {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

fn is_timestamp(text: &str) -> bool {
    text.len() >= 20
        && text.as_bytes()[4] == b'-'
        && text.as_bytes()[10] == b'T'
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

/// Compares whole JSON after normalisation.
pub fn check(normalizer: &mut Normalizer, actual: &Value, expected: Value) {
    let actual = normalizer.apply(actual);
    pretty_assertions::assert_eq!(actual, expected);
}
