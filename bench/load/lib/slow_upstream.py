#!/usr/bin/env python3
"""A streaming OpenAI-style upstream that sleeps between chunks, to check a proxy relays each chunk
as it arrives. Every request's send times (CLOCK_MONOTONIC, shared by all processes on the machine)
are appended as one JSON line to SENDLOG, keyed by the request body's "user" field.

usage: slow_upstream.py PORT SENDLOG [CHUNKS] [GAP_MS]
"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
SENDLOG = sys.argv[2]
CHUNKS = int(sys.argv[3]) if len(sys.argv) > 3 else 10
GAP = (int(sys.argv[4]) if len(sys.argv) > 4 else 50) / 1000.0


def chunk(i: int) -> bytes:
    body = {"id": "chatcmpl-slow", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "bench-slow", "choices": [{"index": 0, "delta": {"content": f"tok{i} "}, "finish_reason": None}]}
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        raw = self.rfile.read(length)
        try:
            key = json.loads(raw).get("user", "")
        except ValueError:
            key = ""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        sent = []
        for i in range(CHUNKS):
            if i:
                time.sleep(GAP)
            sent.append(time.monotonic())
            self._write_chunk(chunk(i))
        sent.append(time.monotonic())
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        with open(SENDLOG, "a") as f:
            f.write(json.dumps({"key": key, "sent": sent}) + "\n")


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
