#!/bin/sh
# A shell child for the process executor. Plain lines become `log` steps; JSON lines are
# protocol messages. It reads its task from stdin (one JSON document) and needs no JSON tool:
# the TASKS_* variables say which task and attempt this is.
set -eu

task=$(cat)  # the invocation; a real script would hand it to `jq` or a program
echo "starting task $TASKS_TASK_ID (attempt $TASKS_ATTEMPT of $TASKS_MAX_ATTEMPTS), ${#task} bytes of input"

for part in 1 2 3 4; do
    percent=$((part * 25))
    echo "{\"type\":\"progress\",\"percent\":$percent,\"label\":\"part $part of 4\"}"
    echo "working on part $part"
done

echo '{"type":"step","message":"all parts done","kind":"checkpoint","level":"success"}'
echo '{"type":"result","output":{"parts":4}}'
