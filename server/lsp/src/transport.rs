//! The stdio transport in front of `tower-lsp-server`'s `LspService`.
//!
//! `tower_lsp_server::Server` is not used, because docs/protocol.md asks for things it does not do:
//! - a broken frame must never stop the server: its codec loops forever on a body that is not
//!   UTF-8 and on headers `httparse` refuses, and tokio-util's `FramedRead` ends the stream
//!   after the first decode error;
//! - every request before `initialize` gets `-32002`, unknown methods included (its router
//!   answers those `-32601` whatever the state);
//! - a panic in a handler must become an error response, not a dead server;
//! - after `exit` the process must end promptly even when stdin stays open and the client has
//!   stopped reading stdout: tokio's stdin and stdout run on the blocking pool, and a blocked
//!   read there keeps the runtime from shutting down.
//!
//! So stdin is read and framed on a thread of its own, stdout written on another, both with
//! bounded queues; this module dispatches the messages to the `LspService` in between.

use std::{
    io::{BufRead, BufReader, Read, Write},
    sync::Arc,
    time::Duration,
};

use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use tower_lsp_server::{
    ClientSocket, LanguageServer, LspService,
    jsonrpc::{Error as RpcError, ErrorCode, Id, Request, Response},
};
use tower_service::Service;

use crate::protocol::code;

/// The largest frame read; a bigger one is skipped (its bytes read and dropped, never held).
pub const MAX_FRAME_BYTES: usize = 32 * 1024 * 1024;
/// The longest header line; a longer one is skipped.
const MAX_HEADER_LINE: usize = 8 * 1024;
/// The most header bytes one message may have (lines before the blank line). Past it the
/// headers are dropped unread-further and reported, so memory stays bounded whatever arrives
/// (header lines that never end in a blank line, say).
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Bad header lines kept to show in the log, per message.
const BAD_LINES_SHOWN: usize = 4;
/// Requests served at once (beyond this, the reader waits: the queues stay bounded).
const MAX_CONCURRENT_REQUESTS: usize = 16;
/// Frames waiting to be written to stdout.
const OUTPUT_QUEUE: usize = 64;
/// Messages read ahead of the dispatcher.
const INPUT_QUEUE: usize = 8;

/// Methods served in the order they arrive, one at a time, before the next message is read.
/// The rest run concurrently.
const ORDERED_METHODS: &[&str] = &[
    "initialize",
    "initialized",
    "shutdown",
    "exit",
    "lulu/watch",
    "lulu/unwatch",
];

/// What the reader thread hands the dispatcher.
enum Incoming {
    Request(Request),
    Response(Response),
    /// An error response to send as it is (bad JSON, a bad message shape, a frame too big).
    Reply(Response),
}

/// A frame that could not be read. Logged, never fatal.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("a frame's headers have no valid Content-Length (lines: {lines:?}); skipped them")]
    BadHeaders { lines: Vec<String> },
    #[error("a frame of {length} bytes is over the limit of {limit} bytes; skipped it")]
    TooLarge { length: usize, limit: usize },
    #[error("a header line is longer than {MAX_HEADER_LINE} bytes; skipped it")]
    LongHeaderLine,
    #[error(
        "a frame's headers run past {MAX_HEADER_BYTES} bytes without a blank line (first lines: {lines:?}); skipped them"
    )]
    HeadersTooLong { lines: Vec<String> },
    #[error("could not read stdin")]
    Read(#[source] std::io::Error),
}

/// Reads one frame's body. `Ok(None)` at the end of input.
fn read_frame(input: &mut impl BufRead) -> Result<Option<Vec<u8>>, FrameError> {
    let mut content_length: Option<usize> = None;
    let mut bad_lines: Vec<String> = Vec::new();
    let mut seen_header = false;
    let mut header_bytes = 0_usize;
    let mut line = Vec::new();
    loop {
        line.clear();
        if header_bytes > MAX_HEADER_BYTES {
            return Err(FrameError::HeadersTooLong { lines: bad_lines });
        }
        let read = input
            .take(MAX_HEADER_LINE as u64 + 2)
            .read_until(b'\n', &mut line)
            .map_err(FrameError::Read)?;
        if read == 0 {
            if seen_header {
                tracing::warn!("stdin ended in the middle of a frame's headers");
            }
            return Ok(None);
        }
        if !line.ends_with(b"\n") && read > MAX_HEADER_LINE {
            // Drop the rest of the overlong line.
            skip_line(input)?;
            return Err(FrameError::LongHeaderLine);
        }
        header_bytes += read;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if !seen_header {
                continue;
            }
            break;
        }
        seen_header = true;
        // Resynchronise: garbage before a header on the same line (the tail of a body sent
        // with a wrong length, say) is dropped.
        let header = match find_ignore_case(text, "content-length:") {
            Some(start) if start > 0 => {
                keep_bad_line(&mut bad_lines, &text[..start]);
                &text[start..]
            }
            _ => text,
        };
        match header.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                match value.trim().parse::<usize>() {
                    Ok(length) => content_length = Some(length),
                    Err(_) => keep_bad_line(&mut bad_lines, header),
                }
            }
            Some((name, _)) if name.trim().eq_ignore_ascii_case("content-type") => {}
            _ => keep_bad_line(&mut bad_lines, header),
        }
    }
    let Some(length) = content_length else {
        return Err(FrameError::BadHeaders { lines: bad_lines });
    };
    if !bad_lines.is_empty() {
        tracing::warn!(lines = ?bad_lines, "ignored lines that are not headers before a frame");
    }
    if length > MAX_FRAME_BYTES {
        let skipped = std::io::copy(&mut input.take(length as u64), &mut std::io::sink())
            .map_err(FrameError::Read)?;
        if skipped < length as u64 {
            return Ok(None);
        }
        return Err(FrameError::TooLarge {
            length,
            limit: MAX_FRAME_BYTES,
        });
    }
    let mut body = vec![0; length];
    match input.read_exact(&mut body) {
        Ok(()) => Ok(Some(body)),
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
            tracing::warn!(length, "stdin ended in the middle of a frame's body");
            Ok(None)
        }
        Err(error) => Err(FrameError::Read(error)),
    }
}

/// Keeps the first few bad header lines of a message (for the log), never all of them.
fn keep_bad_line(bad_lines: &mut Vec<String>, line: &str) {
    if bad_lines.len() < BAD_LINES_SHOWN {
        bad_lines.push(line.chars().take(200).collect());
    }
}

fn skip_line(input: &mut impl BufRead) -> Result<(), FrameError> {
    loop {
        let buffer = input.fill_buf().map_err(FrameError::Read)?;
        if buffer.is_empty() {
            return Ok(());
        }
        match buffer.iter().position(|byte| *byte == b'\n') {
            Some(at) => {
                input.consume(at + 1);
                return Ok(());
            }
            None => {
                let len = buffer.len();
                input.consume(len);
            }
        }
    }
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .to_ascii_lowercase()
        .find(&needle.to_ascii_lowercase())
}

fn error_response(id: Id, code: i64, message: impl Into<String>) -> Response {
    Response::from_error(
        id,
        RpcError {
            code: ErrorCode::from(code),
            message: message.into().into(),
            data: None,
        },
    )
}

/// Turns a frame's body into a message, or into the error response it deserves.
fn classify(body: &[u8]) -> Incoming {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => {
            return Incoming::Reply(error_response(
                Id::Null,
                code::PARSE_ERROR,
                format!("the message is not valid JSON: {error}"),
            ));
        }
    };
    let Value::Object(object) = &value else {
        let what = if value.is_array() {
            "a batch (an array); lulu takes one JSON-RPC message per frame"
        } else {
            "not a JSON object"
        };
        return Incoming::Reply(error_response(
            Id::Null,
            code::INVALID_REQUEST,
            format!("the message is {what}"),
        ));
    };
    let id = match object.get("id") {
        Some(Value::Number(number)) => number.as_i64().map(Id::Number),
        Some(Value::String(text)) => Some(Id::String(text.clone())),
        _ => None,
    };
    let invalid = |message: String| {
        Incoming::Reply(error_response(
            id.clone().unwrap_or(Id::Null),
            code::INVALID_REQUEST,
            message,
        ))
    };
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return invalid("the message's `jsonrpc` must be \"2.0\"".to_owned());
    }
    if let Some(method) = object.get("method") {
        if !method.is_string() {
            return invalid("the message's `method` must be a string".to_owned());
        }
        if let Some(params) = object.get("params")
            && !(params.is_object() || params.is_array() || params.is_null())
        {
            return invalid("the message's `params` must be an object or an array".to_owned());
        }
        if let Some(raw_id) = object.get("id")
            && id.is_none()
            && !raw_id.is_null()
        {
            return invalid("the message's `id` must be an integer or a string".to_owned());
        }
        return match serde_json::from_value::<Request>(value) {
            Ok(request) => Incoming::Request(request),
            Err(error) => invalid(format!("the request is not valid: {error}")),
        };
    }
    if object.contains_key("result") || object.contains_key("error") {
        return match serde_json::from_value::<Response>(value) {
            Ok(response) => Incoming::Response(response),
            Err(error) => invalid(format!("the response is not valid: {error}")),
        };
    }
    invalid("the message has neither a `method` nor a `result` or `error`".to_owned())
}

/// Reads stdin on a thread of its own: a blocked read there never holds up the runtime.
fn spawn_reader(input: impl Read + Send + 'static, incoming: mpsc::Sender<Incoming>) {
    let spawned = std::thread::Builder::new()
        .name("lulu-stdin".to_owned())
        .spawn(move || {
            let mut input = BufReader::with_capacity(64 * 1024, input);
            loop {
                let message = match read_frame(&mut input) {
                    Ok(Some(body)) => classify(&body),
                    Ok(None) => return,
                    Err(FrameError::Read(error)) => {
                        tracing::error!(%error, "could not read stdin; stopping");
                        return;
                    }
                    Err(error @ FrameError::TooLarge { .. }) => {
                        tracing::warn!("{error}");
                        Incoming::Reply(error_response(
                            Id::Null,
                            code::INVALID_REQUEST,
                            error.to_string(),
                        ))
                    }
                    Err(error) => {
                        tracing::warn!("{error}");
                        continue;
                    }
                };
                if incoming.blocking_send(message).is_err() {
                    return;
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "could not start the stdin thread");
    }
}

/// Writes frames to stdout on a thread of its own. The oneshot fires when every queued frame
/// is written (all senders dropped) or writing failed.
fn spawn_writer(
    output: impl Write + Send + 'static,
) -> (mpsc::Sender<Vec<u8>>, tokio::sync::oneshot::Receiver<()>) {
    let (sender, mut receiver) = mpsc::channel::<Vec<u8>>(OUTPUT_QUEUE);
    let (done_tx, done) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("lulu-stdout".to_owned())
        .spawn(move || {
            let _done = DropSignal(Some(done_tx));
            let mut output = std::io::BufWriter::with_capacity(64 * 1024, output);
            while let Some(frame) = receiver.blocking_recv() {
                let mut result = output.write_all(&frame);
                // Flush when nothing else is waiting, so bursts go out in few writes.
                while result.is_ok() {
                    match receiver.try_recv() {
                        Ok(frame) => result = output.write_all(&frame),
                        Err(_) => break,
                    }
                }
                if let Err(error) = result.and_then(|()| output.flush()) {
                    tracing::error!(%error, "could not write to stdout; stopping output");
                    return;
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "could not start the stdout thread");
    }
    (sender, done)
}

struct DropSignal(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(signal) = self.0.take() {
            let _ = signal.send(());
        }
    }
}

fn frame(message: &impl Serialize) -> Option<Vec<u8>> {
    match serde_json::to_vec(message) {
        Ok(body) => {
            let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
            framed.extend_from_slice(&body);
            Some(framed)
        }
        Err(error) => {
            tracing::error!(%error, "could not serialise a message");
            None
        }
    }
}

async fn send(output: &mpsc::Sender<Vec<u8>>, message: &impl Serialize) {
    if let Some(framed) = frame(message) {
        // A closed output means the client is gone; the reader will see the end of stdin.
        let _ = output.send(framed).await;
    }
}

/// Serves `service` over `input`/`output` until `exit` or the end of input.
/// Returns the process exit code LSP asks for: 0 after `shutdown` then `exit`, else 1.
pub async fn serve<S: LanguageServer>(
    input: impl Read + Send + 'static,
    output: impl Write + Send + 'static,
    mut service: LspService<S>,
    socket: ClientSocket,
) -> i32 {
    let (incoming_tx, mut incoming) = mpsc::channel(INPUT_QUEUE);
    spawn_reader(input, incoming_tx);
    let (output, written) = spawn_writer(output);

    let (mut client_requests, mut client_responses) = socket.split();
    let notifications = {
        let output = output.clone();
        tokio::spawn(async move {
            while let Some(request) = client_requests.next().await {
                send(&output, &request).await;
            }
        })
    };

    let mut lifecycle = Lifecycle::default();
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_REQUESTS));
    let mut exit_code = 1;

    while let Some(message) = incoming.recv().await {
        let request = match message {
            Incoming::Reply(response) => {
                send(&output, &response).await;
                continue;
            }
            Incoming::Response(response) => {
                use futures::SinkExt;
                if let Err(error) = client_responses.send(response).await {
                    tracing::warn!(%error, "dropped a response from the client");
                }
                continue;
            }
            Incoming::Request(request) => request,
        };
        let method = request.method().to_owned();
        let id = request.id().cloned();

        if method == "exit" {
            if let Err(error) = call(&mut service, request).await {
                tracing::debug!(%error, "exit");
            }
            exit_code = if lifecycle.shut_down { 0 } else { 1 };
            break;
        }
        match lifecycle.refusal(&method, id.clone()) {
            Refusal::None => {}
            Refusal::Answer(response) => {
                send(&output, &response).await;
                continue;
            }
            Refusal::Drop => continue,
        }
        let request = with_default_params(request);
        if ORDERED_METHODS.contains(&method.as_str()) {
            let response = guarded(&method, id.clone(), call(&mut service, request)).await;
            if let Some(response) = response {
                lifecycle.answered(&method, &response);
                send(&output, &response).await;
            }
            continue;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let future = call(&mut service, request);
        let output = output.clone();
        tokio::spawn(async move {
            if let Some(response) = guarded(&method, id, future).await {
                send(&output, &response).await;
            }
            drop(permit);
        });
    }

    notifications.abort();
    drop(output);
    // Give the writer a moment to send what is queued (the `shutdown` answer, say) without
    // ever waiting on a client that stopped reading or on a handler still at work.
    let _ = tokio::time::timeout(Duration::from_millis(200), written).await;
    exit_code
}

/// Where the conversation with the client stands.
#[derive(Debug, Default)]
struct Lifecycle {
    initialized: bool,
    shut_down: bool,
}

/// What to do with a message the lifecycle refuses.
enum Refusal {
    /// Not refused: run it.
    None,
    Answer(Response),
    /// A notification that cannot be answered: dropped.
    Drop,
}

impl Lifecycle {
    /// Whether a message with this method (and id, for a request) may run now.
    fn refusal(&self, method: &str, id: Option<Id>) -> Refusal {
        if !self.initialized && method != "initialize" {
            let Some(id) = id else {
                tracing::debug!(%method, "dropped a notification that came before initialize");
                return Refusal::Drop;
            };
            return Refusal::Answer(error_response(
                id,
                code::NOT_INITIALIZED,
                format!("the server is not initialized: send `initialize` before `{method}`"),
            ));
        }
        match id.and_then(|id| refused_request(method, id, self.shut_down)) {
            Some(response) => Refusal::Answer(response),
            None => Refusal::None,
        }
    }

    /// Notes a successful `initialize` or `shutdown`.
    fn answered(&mut self, method: &str, response: &Response) {
        if !response.is_ok() {
            return;
        }
        match method {
            "initialize" => self.initialized = true,
            "shutdown" => self.shut_down = true,
            _ => {}
        }
    }
}

/// The answer to a request that is refused whatever its method: after `shutdown` every request
/// is `-32600` (LSP: "requests after a shutdown request should error with InvalidRequest"),
/// unknown methods included; a `$/` request (an optional protocol lulu does not implement) is
/// `-32601` (LSP: "must error the request with MethodNotFound"). Notifications are not answered.
fn refused_request(method: &str, id: Id, shut_down: bool) -> Option<Response> {
    if shut_down {
        return Some(error_response(id, code::INVALID_REQUEST, "Invalid request"));
    }
    if method.starts_with("$/") {
        return Some(Response::from_error(
            id,
            RpcError {
                code: ErrorCode::MethodNotFound,
                message: "Method not found".into(),
                data: Some(Value::String(method.to_owned())),
            },
        ));
    }
    None
}

type CallFuture =
    futures::future::BoxFuture<'static, Result<Option<Response>, tower_lsp_server::ExitedError>>;

fn call<S: LanguageServer>(service: &mut LspService<S>, request: Request) -> CallFuture {
    // `LspService` is always ready (it only refuses after `exit`, which ends the loop).
    let waker = futures::task::noop_waker();
    let mut context = std::task::Context::from_waker(&waker);
    if let std::task::Poll::Ready(Err(error)) = service.poll_ready(&mut context) {
        return Box::pin(async move { Err(error) });
    }
    Box::pin(service.call(request))
}

/// Runs a handler's future on a task of its own, so that a panic in it becomes an error
/// response instead of a dead server.
async fn guarded(method: &str, id: Option<Id>, future: CallFuture) -> Option<Response> {
    match tokio::spawn(future).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => id.map(|id| error_response(id, code::INVALID_REQUEST, error.to_string())),
        Err(join_error) => {
            let what = if join_error.is_panic() {
                "panicked"
            } else {
                "was cancelled"
            };
            tracing::error!(%method, "the handler {what}: {join_error}");
            id.map(|id| {
                error_response(
                    id,
                    code::INTERNAL_ERROR,
                    format!("internal error: the handler of {method} {what}"),
                )
            })
        }
    }
}

/// `lulu/*` methods take an object; a request that sends none gets `{}` (so `lulu/agents`
/// works with or without `params`). `shutdown` takes none: a `null` or `[null]` that some
/// clients send (vscode-jsonrpc's `sendRequest("shutdown")`) is dropped.
fn with_default_params(request: Request) -> Request {
    if request.method() == "shutdown" {
        let (method, id, params) = request.into_parts();
        let builder = Request::build(method);
        let keep = params.filter(|params| {
            !(params.is_null() || *params == json!([null]) || *params == json!([]))
        });
        let builder = match keep {
            Some(params) => builder.params(params),
            None => builder,
        };
        return match id {
            Some(id) => builder.id(id).finish(),
            None => builder.finish(),
        };
    }
    if !request.method().starts_with("lulu/") {
        return request;
    }
    let (method, id, params) = request.into_parts();
    let params = match params {
        None | Some(Value::Null) => json!({}),
        Some(params) => params,
    };
    let builder = Request::build(method).params(params);
    match id {
        Some(id) => builder.id(id).finish(),
        None => builder.finish(),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;

    use tower_lsp_server::{
        jsonrpc::Result as RpcResult,
        ls_types::{InitializeParams, InitializeResult},
    };

    use super::*;

    struct Panicky;

    impl LanguageServer for Panicky {
        async fn initialize(&self, _: InitializeParams) -> RpcResult<InitializeResult> {
            Ok(InitializeResult::default())
        }

        async fn shutdown(&self) -> RpcResult<()> {
            Ok(())
        }
    }

    impl Panicky {
        #[allow(clippy::unused_async)]
        async fn boom(&self, params: Value) -> RpcResult<Value> {
            if params["panic"] == json!(true) {
                panic!("a bug in a handler");
            }
            Ok(params)
        }
    }

    fn write_message(stream: &mut UnixStream, message: Value) {
        let body = serde_json::to_vec(&message).expect("json");
        stream
            .write_all(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes())
            .expect("write");
        stream.write_all(&body).expect("write");
    }

    fn read_message(reader: &mut BufReader<UnixStream>) -> Value {
        let body = read_frame(reader).expect("a frame").expect("not the end");
        serde_json::from_slice(&body).expect("json")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_in_a_handler_is_an_error_response_and_the_server_carries_on() {
        let (server_in, mut client_out) = UnixStream::pair().expect("pair");
        let (server_out, client_in) = UnixStream::pair().expect("pair");
        let (service, socket) = LspService::build(|_| Panicky)
            .custom_method("lulu/boom", Panicky::boom)
            .finish();
        let served = tokio::spawn(serve(server_in, server_out, service, socket));
        let mut client_in = BufReader::new(client_in);
        let exchange = tokio::task::spawn_blocking(move || {
            let mut answers = Vec::new();
            write_message(
                &mut client_out,
                json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
            );
            answers.push(read_message(&mut client_in));
            write_message(
                &mut client_out,
                json!({"jsonrpc": "2.0", "id": 2, "method": "lulu/boom", "params": {"panic": true}}),
            );
            answers.push(read_message(&mut client_in));
            write_message(
                &mut client_out,
                json!({"jsonrpc": "2.0", "id": 3, "method": "lulu/boom", "params": {"panic": false}}),
            );
            answers.push(read_message(&mut client_in));
            write_message(&mut client_out, json!({"jsonrpc": "2.0", "id": 4, "method": "shutdown"}));
            answers.push(read_message(&mut client_in));
            write_message(&mut client_out, json!({"jsonrpc": "2.0", "method": "exit"}));
            // Stdin stays open: `client_out` lives on until the server has ended.
            (answers, client_out)
        })
        .await
        .expect("client");
        let (answers, _still_open) = exchange;
        pretty_assertions::assert_eq!(
            answers,
            vec![
                json!({"jsonrpc": "2.0", "id": 1, "result": {"capabilities": {}}}),
                json!({"jsonrpc": "2.0", "id": 2, "error": {"code": -32603, "message": "internal error: the handler of lulu/boom panicked"}}),
                json!({"jsonrpc": "2.0", "id": 3, "result": {"panic": false}}),
                json!({"jsonrpc": "2.0", "id": 4, "result": null}),
            ]
        );
        assert_eq!(served.await.expect("served"), 0);
    }

    fn frames(input: &[u8]) -> Vec<Result<String, String>> {
        let mut reader = BufReader::new(input);
        let mut out = Vec::new();
        loop {
            match read_frame(&mut reader) {
                Ok(Some(body)) => out.push(Ok(String::from_utf8_lossy(&body).into_owned())),
                Ok(None) => return out,
                Err(error) => out.push(Err(error.to_string())),
            }
        }
    }

    fn check(input: &[u8], expected: &[Result<&str, &str>]) {
        let expected: Vec<Result<String, String>> = expected
            .iter()
            .map(|item| item.map(str::to_owned).map_err(str::to_owned))
            .collect();
        pretty_assertions::assert_eq!(frames(input), expected);
    }

    #[test]
    fn frames_are_read_and_broken_ones_skipped() {
        check(b"Content-Length: 2\r\n\r\n{}", &[Ok("{}")]);
        check(
            b"Content-Length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}Content-Length: 3\r\n\r\n[1]",
            &[Ok("{}"), Ok("[1]")],
        );
        // Garbage, a bad length, a missing length: each skipped, the next frame read.
        check(
            b"garbage\r\n\r\nContent-Length: x\r\n\r\nContent-Length: 2\r\n\r\n{}",
            &[
                Err(
                    r#"a frame's headers have no valid Content-Length (lines: ["garbage"]); skipped them"#,
                ),
                Err(
                    r#"a frame's headers have no valid Content-Length (lines: ["Content-Length: x"]); skipped them"#,
                ),
                Ok("{}"),
            ],
        );
        // The tail of a body sent with a wrong length, glued to the next header.
        check(
            b"Content-Length: 1\r\n\r\n{}}Content-Length: 2\r\n\r\n{}",
            &[Ok("{"), Ok("{}")],
        );
        // A body that is not UTF-8 is still a frame (the JSON parser refuses it).
        check(
            b"Content-Length: 2\r\n\r\n\xff\xfe",
            &[Ok("\u{fffd}\u{fffd}")],
        );
        // Too big: skipped without holding it.
        let big = format!("Content-Length: {}\r\n\r\n", MAX_FRAME_BYTES + 1);
        let mut input = big.into_bytes();
        input.extend(std::iter::repeat_n(b' ', MAX_FRAME_BYTES + 1));
        input.extend_from_slice(b"Content-Length: 2\r\n\r\n{}");
        check(
            &input,
            &[
                Err("a frame of 33554433 bytes is over the limit of 33554432 bytes; skipped it"),
                Ok("{}"),
            ],
        );
        // Truncated at the end: no frame.
        check(b"Content-Length: 10\r\n\r\n{}", &[]);
        // Header lines that never end in a blank line: dropped 64 KiB at a time, never all
        // held; the next frame is read.
        let mut input = b"a\r\n".repeat(30_000);
        input.extend_from_slice(b"Content-Length: 2\r\n\r\n{}");
        check(
            &input,
            &[
                Err(
                    r#"a frame's headers run past 65536 bytes without a blank line (first lines: ["a", "a", "a", "a"]); skipped them"#,
                ),
                Ok("{}"),
            ],
        );
    }

    fn check_classify(body: &str, expected: Value) {
        let got = match classify(body.as_bytes()) {
            Incoming::Request(request) => serde_json::to_value(request),
            Incoming::Response(response) => serde_json::to_value(response),
            Incoming::Reply(reply) => serde_json::to_value(reply),
        }
        .expect("json");
        pretty_assertions::assert_eq!(got, expected);
    }

    #[test]
    fn messages_are_classified() {
        check_classify(
            r#"{"jsonrpc":"2.0","id":1,"method":"lulu/list"}"#,
            json!({"jsonrpc":"2.0","id":1,"method":"lulu/list"}),
        );
        check_classify(
            r#"{"jsonrpc":"2.0","id":1,"method""#,
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the message is not valid JSON: EOF while parsing an object at line 1 column 32"}}),
        );
        check_classify(
            r#"[{"jsonrpc":"2.0","id":1,"method":"lulu/list"}]"#,
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"the message is a batch (an array); lulu takes one JSON-RPC message per frame"}}),
        );
        check_classify(
            r#"{"jsonrpc":"2.0","id":7,"method":5}"#,
            json!({"jsonrpc":"2.0","id":7,"error":{"code":-32600,"message":"the message's `method` must be a string"}}),
        );
        check_classify(
            r#"{"id":7,"method":"lulu/list"}"#,
            json!({"jsonrpc":"2.0","id":7,"error":{"code":-32600,"message":"the message's `jsonrpc` must be \"2.0\""}}),
        );
        check_classify(
            r#"{"jsonrpc":"2.0","id":[1],"method":"lulu/list"}"#,
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"the message's `id` must be an integer or a string"}}),
        );
        check_classify(
            r#"{"jsonrpc":"2.0","id":"a","method":"lulu/list","params":3}"#,
            json!({"jsonrpc":"2.0","id":"a","error":{"code":-32600,"message":"the message's `params` must be an object or an array"}}),
        );
        check_classify(
            r#"{"jsonrpc":"2.0","id":3,"result":null}"#,
            json!({"jsonrpc":"2.0","id":3,"result":null}),
        );
    }
}
