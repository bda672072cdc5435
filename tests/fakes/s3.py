"""A local S3-compatible server for the tests: moto's server, run as a separate process on a free port of
127.0.0.1. The code under test talks to it over HTTP with boto3, exactly as production talks to S3 or
another S3-compatible store (only the endpoint in ``STORAGE_URL`` differs)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from urllib.error import HTTPError
from urllib.request import urlopen

ACCESS_KEY, SECRET_KEY, REGION = "linli-test-key", "linli-test-secret", "us-east-1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class S3Server:
    def __init__(self):
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0, tries: int = 3) -> "S3Server":
        for attempt in range(tries):
            if self._start(timeout):
                return self
            self.port = _free_port()  # the port was taken meanwhile: another one
        raise RuntimeError(f"the S3 server (moto) did not start on a free port in {tries} tries")

    def _start(self, timeout: float) -> bool:
        # No credentials or AWS settings of the machine reach the server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urlopen(f"{self.endpoint}/", timeout=2):
                    return True
            except HTTPError:  # an S3 answer, even an error: the server is up
                return True
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the S3 server (moto) did not answer on {self.endpoint} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def url(self, bucket: str, prefix: str = "linli") -> str:
        """A STORAGE_URL for ``bucket`` on this server, credentials included."""
        return f"s3://{ACCESS_KEY}:{SECRET_KEY}@{bucket}/{prefix}?endpoint={self.endpoint}&region={REGION}"
