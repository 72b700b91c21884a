#!/usr/bin/env python3
"""Starts a server process and measures the time from process start to its first 200 on a URL.

usage: start_wait.py URL PIDFILE LOGFILE TIMEOUT_S -- CMD ARGS...
Prints the ready time in milliseconds on stdout. The process keeps running (the caller stops it
by the pid in PIDFILE); on timeout it is killed and the exit code is 1.
"""
import http.client
import os
import subprocess
import sys
import time
import urllib.parse


def main() -> int:
    sep = sys.argv.index("--")
    url, pidfile, logfile, timeout_s = sys.argv[1:sep]
    cmd = sys.argv[sep + 1:]
    parsed = urllib.parse.urlsplit(url)
    log = open(logfile, "ab")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    with open(pidfile, "w") as f:
        f.write(str(proc.pid))
    deadline = t0 + float(timeout_s)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(f"process exited with {proc.returncode} before it was ready", file=sys.stderr)
            return 1
        try:
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=1)
            conn.request("GET", parsed.path or "/")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                print(f"{(time.monotonic() - t0) * 1000:.1f}")
                return 0
        except OSError:
            pass
        time.sleep(0.002)
    proc.kill()
    print(f"not ready after {timeout_s} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
