#!/usr/bin/env python3
"""A Python child for the process executor: reads its task on stdin, reports progress and
steps as JSON lines on stdout, stops cleanly on SIGTERM, and writes a result line."""

import json
import signal
import sys
import time

cancelled = False


def on_term(signum, frame):
    global cancelled
    cancelled = True


signal.signal(signal.SIGTERM, on_term)


def send(message):
    # One message per line, flushed at once so the host sees progress as it happens.
    print(json.dumps(message), flush=True)


task = json.load(sys.stdin)
items = task["input"].get("items", 3)
delay = task["input"].get("delayMs", 0) / 1000

print(f"python child for task {task['id']}, attempt {task['attempt']}", flush=True)
for item in range(1, items + 1):
    if cancelled:
        # A plain line, printed here rather than in the signal handler (printing there could
        # interrupt a print in progress): it becomes a log step.
        print("stopping on SIGTERM", flush=True)
        send({"type": "error", "message": "stopped on SIGTERM", "code": "cancelled"})
        sys.exit(0)
    time.sleep(delay)
    percent = item * 100 / items
    send({"type": "progress", "percent": percent, "label": f"item {item} of {items}"})
    send({"type": "step", "message": f"processed item {item}", "percent": percent})

send({"type": "result", "output": {"items": items}})
