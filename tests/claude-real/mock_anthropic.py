#!/usr/bin/env python3
"""A loopback mock of the Anthropic Messages API, for running the real Claude Code CLI offline.

    mock_anthropic.py --conversation conversation.json --port-file PORT --log requests.jsonl

Listens on 127.0.0.1 on an ephemeral port (written to --port-file once it is listening) and logs
every request it gets, one JSON object a line, to --log: method, path, the headers that matter,
the parsed body, and what it answered.

POST /v1/messages (with and without "stream": true) plays a scripted conversation:
- A request whose `tools` include `Write` is the agent's main loop. The scenario is chosen by a
  marker (a key of conversation.json's "scenarios", e.g. "[hello]") in the text of the latest
  user prompt (the last user message that is not only tool results); the turn is the number of
  assistant messages after that prompt. A scenario is either a list of turns (each a list of
  content blocks) or {"error": {"status": N, "type": ..., "message": ...}}.
  In a tool_use's input, "{cwd}" is replaced by the working directory the CLI states in its
  system prompt.
- Any other Messages request (titles, summaries, quota probes) gets a short text answer.
- POST /v1/messages/count_tokens gets {"input_tokens": N}.
- Anything else gets a 404 with an Anthropic-shaped error body.

Python standard library only.
"""

import argparse
import json
import os
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOGGED_HEADERS = ("user-agent", "x-api-key", "authorization", "anthropic-version", "anthropic-beta", "x-app")


class Mock:
    def __init__(self, conversation, log_path):
        self.conversation = conversation
        self.log_file = open(log_path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def log(self, entry):
        with self.lock:
            self.log_file.write(json.dumps(entry) + "\n")
            self.log_file.flush()


def blocks_of(message):
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [block for block in content if isinstance(block, dict)]
    return []


def is_prompt(message):
    """A user message that carries the user's words, not only tool results."""
    if message.get("role") != "user":
        return False
    return any(block.get("type") == "text" for block in blocks_of(message)) and not any(
        block.get("type") == "tool_result" for block in blocks_of(message)
    )


def system_text(body):
    system = body.get("system")
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(block.get("text", "") for block in system if isinstance(block, dict))
    return ""


def working_directory(body):
    texts = [system_text(body)]
    for message in body.get("messages", []):
        texts.extend(block.get("text", "") for block in blocks_of(message) if block.get("type") == "text")
    for text in texts:
        found = re.search(r"(?:Primary w|W)orking directory: (\S+)", text)
        if found:
            return found.group(1)
    return None


def is_main_loop(body):
    tools = body.get("tools") or []
    return any(isinstance(tool, dict) and tool.get("name") == "Write" for tool in tools)


def substitute(value, cwd):
    if isinstance(value, str):
        return value.replace("{cwd}", cwd or ".")
    if isinstance(value, list):
        return [substitute(item, cwd) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, cwd) for key, item in value.items()}
    return value


def plan_main_loop(conversation, body):
    """Returns ("error", error) or ("turn", content blocks, scenario name, turn index)."""
    messages = body.get("messages", [])
    prompt_index = max((i for i, m in enumerate(messages) if is_prompt(m)), default=None)
    if prompt_index is None:
        return ("turn", [{"type": "text", "text": "mock: no user prompt in the request"}], None, 0)
    prompt_text = "\n".join(
        block.get("text", "") for block in blocks_of(messages[prompt_index]) if block.get("type") == "text"
    )
    turn = sum(1 for m in messages[prompt_index + 1 :] if m.get("role") == "assistant")
    for marker, scenario in conversation["scenarios"].items():
        if marker in prompt_text:
            if isinstance(scenario, dict) and "error" in scenario:
                return ("error", scenario["error"], marker, turn)
            if turn < len(scenario):
                cwd = working_directory(body)
                return ("turn", substitute(scenario[turn], cwd), marker, turn)
            return ("turn", [{"type": "text", "text": "mock: the scenario has no more turns"}], marker, turn)
    return ("turn", [{"type": "text", "text": "mock: no scenario marker in the prompt"}], None, turn)


def with_ids(blocks):
    out = []
    for block in blocks:
        block = dict(block)
        if block.get("type") == "tool_use" and "id" not in block:
            block["id"] = "toolu_mock_" + uuid.uuid4().hex[:20]
        out.append(block)
    return out


def usage_for(body, blocks):
    size = len(json.dumps(body.get("messages", [])))
    return {
        "input_tokens": 100 + size // 40,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 10 + len(json.dumps(blocks)) // 40,
    }


def message_object(body, blocks):
    stop = "tool_use" if any(b.get("type") == "tool_use" for b in blocks) else "end_turn"
    return {
        "id": "msg_mock_" + uuid.uuid4().hex[:20],
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-mock"),
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage_for(body, blocks),
    }


def sse_events(message):
    """The server-sent events of a streamed answer carrying `message`."""
    start = dict(message, content=[], stop_reason=None)
    start["usage"] = dict(message["usage"], output_tokens=1)
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            yield "content_block_start", {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            }
            text = block["text"]
            middle = len(text) // 2
            for piece in (text[:middle], text[middle:]):
                if piece:
                    yield "content_block_delta", {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    }
        elif block["type"] == "tool_use":
            yield "content_block_start", {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}},
            }
            raw = json.dumps(block["input"])
            middle = len(raw) // 2
            for piece in (raw[:middle], raw[middle:]):
                yield "content_block_delta", {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                }
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield "message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
        "usage": {"output_tokens": message["usage"]["output_tokens"]},
    }
    yield "message_stop", {"type": "message_stop"}


def make_handler(mock):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass

        def read_body(self):
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return None, ""
            try:
                return json.loads(raw), ""
            except ValueError:
                return None, raw.decode("utf-8", "replace")[:2000]

        def entry(self, body, raw):
            headers = {k: self.headers.get(k) for k in LOGGED_HEADERS if self.headers.get(k) is not None}
            return {"method": self.command, "path": self.path, "headers": headers, "body": body, "rawBody": raw}

        def send_json(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("request-id", "req_mock_" + uuid.uuid4().hex[:16])
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def send_error_json(self, status, error_type, message):
            self.send_json(status, {"type": "error", "error": {"type": error_type, "message": message}})

        def send_stream(self, message):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("request-id", "req_mock_" + uuid.uuid4().hex[:16])
            self.send_header("connection", "close")
            self.end_headers()
            for name, data in sse_events(message):
                self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
            self.close_connection = True

        def do_GET(self):
            body, raw = self.read_body()
            entry = self.entry(body, raw)
            entry["answer"] = 404
            mock.log(entry)
            self.send_error_json(404, "not_found_error", f"mock: no route for GET {self.path}")

        def do_HEAD(self):
            mock.log(dict(self.entry(None, ""), answer=200))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def do_POST(self):
            body, raw = self.read_body()
            entry = self.entry(body, raw)
            path = self.path.split("?", 1)[0]
            if path == "/v1/messages/count_tokens" and isinstance(body, dict):
                entry["answer"] = 200
                mock.log(entry)
                self.send_json(200, {"input_tokens": 100 + len(json.dumps(body)) // 40})
                return
            if path != "/v1/messages" or not isinstance(body, dict):
                entry["answer"] = 404
                mock.log(entry)
                self.send_error_json(404, "not_found_error", f"mock: no route for POST {self.path}")
                return
            if is_main_loop(body):
                plan = plan_main_loop(mock.conversation, body)
                entry["role"] = "main"
                entry["scenario"] = plan[2] if len(plan) > 2 else None
                entry["turn"] = plan[3] if len(plan) > 3 else None
                if plan[0] == "error":
                    error = plan[1]
                    entry["answer"] = error["status"]
                    mock.log(entry)
                    self.send_error_json(error["status"], error["type"], error["message"])
                    return
                blocks = with_ids(plan[1])
            else:
                entry["role"] = "side"
                blocks = [{"type": "text", "text": "Mock answer."}]
            message = message_object(body, blocks)
            entry["answer"] = 200
            entry["answered"] = message["content"]
            mock.log(entry)
            if body.get("stream"):
                self.send_stream(message)
            else:
                self.send_json(200, message)

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversation", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    with open(args.conversation, encoding="utf-8") as f:
        conversation = json.load(f)
    mock = Mock(conversation, args.log)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(mock))
    server.daemon_threads = True
    port = server.server_address[1]
    with open(args.port_file + ".tmp", "w") as f:
        f.write(f"{port}\n")
    os.replace(args.port_file + ".tmp", args.port_file)
    print(f"mock Anthropic API on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
