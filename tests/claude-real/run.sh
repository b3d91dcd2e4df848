#!/usr/bin/env bash
# The real Claude Code CLI, end to end, under lulu's built-in `claude` profile, against a loopback
# mock of the Anthropic Messages API (mock_anthropic.py, scripted by conversation.json): no
# network, no account.
#
#   bash tests/claude-real/run.sh
#
# Uses $LULU_BIN (default target/debug/lulu; this script builds nothing) and installs the pinned
# CLI with install.sh (cached under ${LULU_TEST_CACHE:-$HOME/.cache/lulu-test}/claude-code).
# Cases: a first run that writes hello.txt with the Write tool; `lulu continue` resuming that
# conversation; an API error (400) and an overloaded API (529) ending the session failed;
# `lulu continue` after the CLI's own store lost the conversation (error result, exit 1); and
# approvals.py: approvals, messages and a budget through the protocol (issue 12).
# Prints one line per assertion and closes with `N passed, N failed`; exits non-zero on failure.
# KEEP=1 keeps the scratch folder (state dir, repo, mock log) even when everything passed.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export LULU_BIN=${LULU_BIN:-$root/target/debug/lulu}

passed=0
failed=0
tally() {
    # Counts the `ok - ` / `FAIL - ` lines of a checker's output (already printed).
    local out=$1
    passed=$((passed + $(grep -c '^ok - ' <<<"$out" || true)))
    failed=$((failed + $(grep -c '^FAIL - ' <<<"$out" || true)))
}
record() {
    # record WHAT CONDITION-EXIT-CODE [WHY]
    if [ "$2" -eq 0 ]; then
        echo "ok - $1"
        passed=$((passed + 1))
    else
        echo "FAIL - $1${3:+: $3}"
        failed=$((failed + 1))
    fi
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit $?
}

if [ ! -x "$LULU_BIN" ]; then
    echo "FAIL - the lulu binary: $LULU_BIN is not an executable (cargo build -p lulu, or set LULU_BIN)"
    failed=1
    finish
fi
if ! claude_path=$(bash "$here/install.sh"); then
    record "install the real Claude Code CLI" 1 "tests/claude-real/install.sh failed (output above)"
    finish
fi
record "install the real Claude Code CLI ($("$claude_path" --version 2>&1))" 0

scratch=$(mktemp -d "${TMPDIR:-/tmp}/lulu-claude-real.XXXXXX")
mock_pid=""
cleanup() {
    local status=$?
    if [ -n "$mock_pid" ]; then
        kill "$mock_pid" 2>/dev/null
        wait "$mock_pid" 2>/dev/null
    fi
    if [ "$failed" -eq 0 ] && [ "${KEEP:-0}" != 1 ]; then
        rm -rf "$scratch"
    else
        echo "(scratch folder kept: $scratch; the mock's request log is $scratch/requests.jsonl)" >&2
    fi
    exit "$status"
}
trap cleanup EXIT

mkdir -p "$scratch/bin" "$scratch/home" "$scratch/state"
ln -s "$claude_path" "$scratch/bin/claude"
# The state dir's config.toml overrides nothing: the built-in `claude` profile is under test.
# The built-in `claude` profile is not overridden: it is under test. claude-2s is the same command
# with a 2-second approval timeout (approvals.py's timeout case).
cat > "$scratch/state/config.toml" <<'TOML'
[agents.claude-2s]
command = ["claude", "-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
           "--permission-prompt-tool", "stdio", "--permission-mode", "acceptEdits", "--replay-user-messages"]
format = "claude-stream-json"
input = "stream-json"
approval_timeout = "2s"
TOML
bash "$root/tests/fixtures/make-repo.sh" "$scratch/repo" >/dev/null

export MOCK_LOG=$scratch/requests.jsonl CONVERSATION=$here/conversation.json
python3 "$here/mock_anthropic.py" --conversation "$CONVERSATION" --port-file "$scratch/port" \
    --log "$MOCK_LOG" 2>"$scratch/mock.stderr" &
mock_pid=$!
for _ in $(seq 1 100); do
    [ -s "$scratch/port" ] && break
    kill -0 "$mock_pid" 2>/dev/null || break
    sleep 0.1
done
if [ ! -s "$scratch/port" ]; then
    record "start the mock Anthropic API" 1 "$(cat "$scratch/mock.stderr")"
    finish
fi
port=$(cat "$scratch/port")

# Nothing of the machine leaks in: no user config, no other credentials, no network.
while IFS= read -r name; do
    case "$name" in LULU_BIN | LULU_TEST_CACHE) ;; *) unset "$name" ;; esac
done < <(env | sed -n 's/^\(\(ANTHROPIC\|CLAUDE\|LULU\|XDG\)_[A-Za-z0-9_]*\)=.*/\1/p')
export LULU_BIN MOCK_LOG CONVERSATION
export HOME=$scratch/home
export PATH=$scratch/bin:$PATH
export LULU_HOME=$scratch/state
# A git identity, as a user's machine has one (lulu's branch reflog needs a committer).
printf '[user]\n\tname = Lulu Claude Test\n\temail = claude-real@lulu.invalid\n' > "$HOME/.gitconfig"
export GIT_CONFIG_GLOBAL=$HOME/.gitconfig GIT_CONFIG_NOSYSTEM=1
export ANTHROPIC_BASE_URL=http://127.0.0.1:$port
export ANTHROPIC_API_KEY=sk-ant-lulu-test-mock-key
export DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1
# One retry at most on a retryable API error (529), so the overloaded case ends soon.
export CLAUDE_CODE_MAX_RETRIES=1
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy

check() { python3 "$here/check.py" "$@"; }

# spawn PROMPT: prints the new session's id.
spawn() {
    (cd "$scratch/repo" && "$LULU_BIN" spawn --json "$1") | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}

# run_case WHAT ID CHECK-ARGS...: waits for the session to end, then runs the checker.
run_case() {
    local what=$1 id=$2 out
    shift 2
    out=$(check wait "$id")
    echo "$out"
    tally "$out"
    if ! grep -q '^FAIL - ' <<<"$out"; then
        out=$(check "$@")
        echo "$out"
        tally "$out"
    else
        "$LULU_BIN" cancel "$id" >/dev/null 2>&1
    fi
    if grep -q '^FAIL - ' <<<"$out"; then
        echo "---- $what: lulu show / logs" >&2
        "$LULU_BIN" show "$id" >&2
        "$LULU_BIN" logs "$id" >&2
    fi
}

# 1. A first run: text, a Write of hello.txt, its tool_result, the final text, the result.
if id=$(spawn "[hello] Create hello.txt with a greeting") && [ -n "$id" ]; then
    record "lulu spawn with the built-in claude profile" 0
    run_case "first run" "$id" first "$id"
    # 2. lulu continue resumes the conversation.
    agent_id=$("$LULU_BIN" show "$id" --json | python3 -c 'import json, sys; print(json.load(sys.stdin).get("agentSessionId") or "")')
    if [ -n "$agent_id" ] && "$LULU_BIN" continue "$id" "[again] Is hello.txt still there?" >/dev/null; then
        record "lulu continue" 0
        run_case "continued run" "$id" continued "$id" "$agent_id"
    else
        record "lulu continue" 1 "no agentSessionId ('$agent_id') or lulu continue failed"
    fi
else
    record "lulu spawn with the built-in claude profile" 1 "no session id"
fi

# 3. The API refuses the request (400): the CLI reports is_error and exits non-zero.
if id=$(spawn "[api-error] This request is refused") && [ -n "$id" ]; then
    run_case "API error 400" "$id" failed "$id" "[api-error]" "API Error: 400"
else
    record "lulu spawn (API error 400)" 1 "no session id"
fi

# 4. The API is overloaded (529) on every attempt.
if id=$(spawn "[overloaded] The API is overloaded") && [ -n "$id" ]; then
    run_case "API overloaded 529" "$id" failed "$id" "[overloaded]" "529"
else
    record "lulu spawn (API overloaded 529)" 1 "no session id"
fi

# 5. lulu continue after the CLI's own record of the conversation is gone (deleted from its
#    store under $HOME/.claude): the CLI says so on stderr and in an error result, and exits 1.
if id=$(spawn "[short] Answer briefly") && [ -n "$id" ]; then
    run_case "short run" "$id" completed "$id"
    agent_id=$("$LULU_BIN" show "$id" --json | python3 -c 'import json, sys; print(json.load(sys.stdin).get("agentSessionId") or "")')
    stored=$(find "$HOME/.claude" -name "$agent_id.jsonl" 2>/dev/null)
    if [ -n "$agent_id" ] && [ -n "$stored" ]; then
        record "the CLI stored the conversation under \$HOME/.claude" 0
        rm -f $stored
        if "$LULU_BIN" continue "$id" "[again] Still there?" >/dev/null; then
            run_case "continue with a lost conversation" "$id" lost "$id" "$agent_id"
        else
            record "lulu continue (lost conversation)" 1 "lulu continue failed"
        fi
    else
        record "the CLI stored the conversation under \$HOME/.claude" 1 "agent session '$agent_id', found '$stored'"
    fi
else
    record "lulu spawn (short run)" 1 "no session id"
fi

# 6. Issue 12 through the protocol: approvals (allow, deny, timeout, cancel while waiting, a
#    restarted server), lulu/send, a cost limit.
out=$(python3 "$here/approvals.py" "$scratch/repo")
echo "$out"
tally "$out"

finish
