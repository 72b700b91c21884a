#!/usr/bin/env python3
"""Posts one streaming chat request over a raw socket and records when each SSE event arrives
(CLOCK_MONOTONIC), then pairs them with the upstream's send times from slow_upstream.py's log.

usage: stream_probe.py URL MODEL KEY SENDLOG
Prints one JSON object: {"recv": [...], "sent": [...], "lag_ms": [...], "gaps_ms": [...]}.
"""
import json
import socket
import sys
import time
import urllib.parse

url, model, key, sendlog = sys.argv[1:5]
u = urllib.parse.urlsplit(url)
body = json.dumps({"model": model, "stream": True, "user": key,
                   "messages": [{"role": "user", "content": "stream to me"}]}).encode()
req = (f"POST {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\ncontent-type: application/json\r\n"
       f"authorization: Bearer sk-bench\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body

sock = socket.create_connection((u.hostname, u.port))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
sock.sendall(req)
recv_times = []
seen = b""
while True:
    data = sock.recv(65536)
    now = time.monotonic()
    if not data:
        break
    before = seen.count(b"data: ")
    seen += data
    recv_times.extend([now] * (seen.count(b"data: ") - before))
    if b"[DONE]" in seen:
        break
sock.close()

sent = None
for _ in range(200):  # the upstream logs a request after its last chunk: wait for it
    try:
        with open(sendlog) as f:
            for line in f:
                entry = json.loads(line)
                if entry["key"] == key:
                    sent = entry["sent"]
    except FileNotFoundError:
        pass
    if sent:
        break
    time.sleep(0.01)
if sent is None:
    print(json.dumps({"error": "the upstream did not log this request"}))
    sys.exit(1)

n = min(len(sent), len(recv_times))
lag = [(recv_times[i] - sent[i]) * 1000 for i in range(n)]
# gaps between the content chunks (the last event, [DONE], follows the last chunk at once)
gaps = [(recv_times[i] - recv_times[i - 1]) * 1000 for i in range(1, n - 1)]
print(json.dumps({"events": len(recv_times), "sent": len(sent), "lag_ms": lag, "gaps_ms": gaps}))
