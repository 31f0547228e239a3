"""`make run`: start the example backend, then `stageway serve` this directory's API, stop both together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    backend = subprocess.Popen([sys.executable, str(HERE / "backend.py"), "--port", "8090"])
    args = [sys.executable, "-m", "stageway", "serve", str(HERE / "api.yaml"), "--watch", *sys.argv[1:]]
    gateway = subprocess.Popen(args)
    # Ctrl-C reaches both children through the terminal; SIGTERM to us is passed on.
    signal.signal(signal.SIGTERM, lambda *_: gateway.send_signal(signal.SIGTERM))
    try:
        return gateway.wait()
    except KeyboardInterrupt:
        return gateway.wait()
    finally:
        backend.terminate()
        backend.wait(timeout=10)


if __name__ == "__main__":
    os.chdir(HERE.parent.parent)
    raise SystemExit(main())
