"""More than one machine: Unicorn devices served by llama.cpp's own RPC backend (docs/rpc.md).

Two `rpc-server` processes on loopback (127.0.0.1 only), each exposing an emulated
UNICORN_IGPU0 (UNICORN_EMULATE=1 in the servers' environment, not the client's: the client
process has no Unicorn device of its own, only the CPU and the two RPC devices). The client,
llama-completion with `--rpc`, splits the layers between RPC0 and RPC1.

- greedy tokens through the two servers equal the single-process run on UNICORN_IGPU0 with
  the same settings (-ngl 99 -fa on -ctk bf16 -ctv bf16 -nr);
- the bytes that cross the network, measured by a counting TCP relay in front of each server:
  a short and a longer run of the same prompt, the difference divided by the extra tokens is
  the cost of one generated token (the weights' upload and the prompt cancel out);
- a server killed mid-run makes the client stop with a clear error within a bounded time
  instead of hanging.
Every process is bounded in time and killed at teardown.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN, COMMON, IGPU, generated_tokens, key_lines, require_plugin, tool_env

RPC_SERVER = BIN / "rpc-server"
PROMPT = "The capital of France is"
# The same settings on both sides; only the devices differ.
SETTINGS = ["-ngl", "99", "-fa", "on", "-ctk", "bf16", "-ctv", "bf16", "-nr", "--temp", "0", "-no-cnv",
            "-c", "256", "--ignore-eos"]
CLIENT_TIMEOUT = 600
# llama.cpp's RPC client says every op is supported (ggml-rpc.cpp: supports_op returns true), so a
# remote device gets every op of its layers, attention included: the served iGPU must run it.
SERVER_ENV = {"UNICORN_ATTN": "igpu"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """Until the server accepts a TCP connection on `port` (a probe the server closes again)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            pytest.fail(f"rpc-server on port {port} exited ({proc.returncode}) before listening:\n"
                        f"{log.read_text(errors='replace')[-3000:]}", pytrace=False)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"rpc-server on port {port} not listening after {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}",
                pytrace=False)


class RpcServer:
    """build/bin/rpc-server -H 127.0.0.1 -p PORT -d UNICORN_IGPU0, emulated, bounded by `timeout`."""

    def __init__(self, log: Path, device: str = IGPU, max_seconds: int = 900):
        self.port = free_port()
        self.log = log
        env = tool_env(unicorn=True, extra=SERVER_ENV)
        cmd = ["timeout", str(max_seconds), "stdbuf", "-oL", str(RPC_SERVER), "-H", "127.0.0.1", "-p", str(self.port), "-d", device,
               "-t", "2"]
        print(f"$ UNICORN_EMULATE=1 UNICORN_ATTN=igpu {' '.join(cmd)}", flush=True)
        self.fh = open(log, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.fh, stderr=subprocess.STDOUT,
                                     env=env, cwd=str(BIN), start_new_session=True)
        wait_listening(self.port, self.proc, log)
        text = log.read_text(errors="replace")
        assert device in text and "EMULATED" in text.upper(), (
            f"rpc-server does not list the emulated {device}:\n{text[-2000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.fh.close()


class CountingRelay:
    """A TCP relay 127.0.0.1:port -> 127.0.0.1:target that counts the bytes in each direction
    (what the network between client and server would carry)."""

    def __init__(self, target: int):
        self.target = target
        self.to_server = 0
        self.to_client = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(client, upstream, "to_server"), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, "to_client"), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, counter: str) -> None:
        try:
            while True:
                data = src.recv(1 << 20)
                if not data:
                    break
                dst.sendall(data)
                with self.lock:
                    setattr(self, counter, getattr(self, counter) + len(data))
        except OSError:
            pass
        finally:  # one side gone: close both, as a dead link would
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def reset(self) -> tuple[int, int]:
        with self.lock:
            out = (self.to_server, self.to_client)
            self.to_server = self.to_client = 0
            return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def rpc_servers(tmp_path):
    if not RPC_SERVER.exists():
        pytest.fail(f"{RPC_SERVER} not found: scripts/setup-llama.sh builds it (GGML_RPC=ON)", pytrace=False)
    require_plugin()
    servers = []
    try:
        for i in range(2):
            servers.append(RpcServer(tmp_path / f"rpc-server{i}.log"))
        yield servers
    finally:
        for s in servers:
            s.kill()


def client(model: Path, endpoints: list[int], n: int, timeout: float = CLIENT_TIMEOUT) -> subprocess.CompletedProcess:
    """llama-completion through the RPC servers at `endpoints` (ports on 127.0.0.1); the client
    has no UNICORN_EMULATE, so its only devices are the CPU and the RPC ones."""
    rpc = ",".join(f"127.0.0.1:{p}" for p in endpoints)
    devs = ",".join(f"RPC{i}" for i in range(len(endpoints)))
    cmd = [str(BIN / "llama-completion"), "-m", str(model), "-p", PROMPT, "-n", str(n), "--rpc", rpc, "-dev", devs,
           "-ts", ",".join("1" for _ in endpoints)] + SETTINGS + COMMON
    print(f"$ {' '.join(cmd)}", flush=True)
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                       env=tool_env(unicorn=False), cwd=str(BIN), timeout=timeout)
    print(f"  -> exit {r.returncode} in {time.monotonic() - t0:.1f} s", flush=True)
    return r


def single_process(model: Path, n: int) -> subprocess.CompletedProcess:
    cmd = [str(BIN / "llama-completion"), "-m", str(model), "-p", PROMPT, "-n", str(n), "-dev", IGPU] + SETTINGS + COMMON
    print(f"$ UNICORN_EMULATE=1 UNICORN_ATTN=igpu {' '.join(cmd)}", flush=True)
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                          env=tool_env(unicorn=True, extra=SERVER_ENV), cwd=str(BIN), timeout=CLIENT_TIMEOUT)


def ok(r: subprocess.CompletedProcess, n: int, what: str) -> str:
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"{what}: exit {r.returncode}\n{key_lines(out)}{out[-3000:]}"

    class _R:  # generated_tokens reads .output
        output = out
    got = generated_tokens(_R)
    assert got == n, f"{what}: asked for {n} tokens, got {got}\n{out[-2000:]}"
    assert r.stdout.startswith(PROMPT), f"{what}: stdout does not start with the prompt: {r.stdout[:200]!r}"
    return r.stdout[len(PROMPT):]


def test_rpc_two_servers_tokens_and_bytes(model_path, rpc_servers, tmp_path):
    """Greedy tokens through two rpc-servers (emulated UNICORN_IGPU0 each) equal the
    single-process UNICORN_IGPU0 run; the bytes per generated token are measured and printed."""
    n_short, n_long = 4, 20
    relays = [CountingRelay(s.port) for s in rpc_servers]
    try:
        ref = ok(single_process(model_path, n_long), n_long, "single process (UNICORN_IGPU0)")
        long_run = client(model_path, [r.port for r in relays], n_long)
        got = ok(long_run, n_long, "two rpc-servers")
        long_bytes = [r.reset() for r in relays]
        assert got == ref, f"tokens through RPC differ from the single-process run:\n  rpc:    {got!r}\n  single: {ref!r}"
        print(f"same {n_long} tokens through 2 rpc-servers as in one process: {got[:80]!r}")
        # Both servers computed: each one's log shows the client, and each relay carried graphs.
        for i, s in enumerate(rpc_servers):
            assert "Accepted client connection" in s.log.read_text(errors="replace"), f"rpc-server {i} saw no client"
            assert long_bytes[i][0] > 1_000_000, f"rpc-server {i}: only {long_bytes[i][0]} bytes sent to it (no weights?)"
        short_run = client(model_path, [r.port for r in relays], n_short)
        ok(short_run, n_short, "two rpc-servers (short)")
        short_bytes = [r.reset() for r in relays]
    finally:
        for r in relays:
            r.close()
    per_token = []
    for i in range(2):
        up = (long_bytes[i][0] - short_bytes[i][0]) / (n_long - n_short)
        down = (long_bytes[i][1] - short_bytes[i][1]) / (n_long - n_short)
        per_token.append((up, down))
        print(f"rpc-server {i}: run of {n_long} tokens: {long_bytes[i][0]:,} B to the server, {long_bytes[i][1]:,} B back; "
              f"per generated token: {up:,.0f} B to the server, {down:,.0f} B back")
    total = sum(u + d for u, d in per_token)
    print(f"RPC network cost per generated token (2 servers, both directions): {total:,.0f} B")
    # The weights cross once per run, not per token: the per-token cost is far below the model size.
    assert 0 < total < model_path.stat().st_size / 100, f"per-token traffic {total:,.0f} B is implausible"


def test_rpc_server_dies_mid_run(model_path, rpc_servers, tmp_path):
    """A server killed while the client generates: the client stops within 60 s with an error
    that names the RPC server, instead of hanging."""
    rpc = ",".join(f"127.0.0.1:{s.port}" for s in rpc_servers)
    cmd = [str(BIN / "llama-completion"), "-m", str(model_path), "-p", PROMPT, "-n", "2000", "--rpc", rpc,
           "-dev", "RPC0,RPC1", "-ts", "1,1"] + SETTINGS + COMMON
    log = tmp_path / "client.log"
    print(f"$ {' '.join(cmd)}", flush=True)
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                env=tool_env(unicorn=False), cwd=str(BIN), start_new_session=True)
        try:
            # Generating: the prompt echoed, then at least a few more characters.
            t0 = time.monotonic()
            while time.monotonic() - t0 < CLIENT_TIMEOUT:
                text = log.read_text(errors="replace")
                if proc.poll() is not None:
                    pytest.fail(f"client exited ({proc.returncode}) before it generated:\n{text[-3000:]}", pytrace=False)
                i = text.find(PROMPT, text.find("generate"))
                if "generate" in text and i >= 0 and len(text) > i + len(PROMPT) + 20:
                    break
                time.sleep(0.2)
            else:
                pytest.fail("client did not start generating in time", pytrace=False)
            print(f"client generating after {time.monotonic() - t0:.1f} s; killing rpc-server 1 (SIGKILL)", flush=True)
            rpc_servers[1].kill()
            t_kill = time.monotonic()
            try:
                rc = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pytest.fail("the client HANGS: still running 60 s after its rpc-server was killed:\n"
                            + log.read_text(errors="replace")[-2000:], pytrace=False)
            waited = time.monotonic() - t_kill
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    text = log.read_text(errors="replace")
    print(f"client ended {waited:.1f} s after the kill: rc {rc}")
    assert rc != 0, f"the client exited 0 although its rpc-server died:\n{text[-2000:]}"
    err = [line for line in text.splitlines() if re.search(r"RPC|rpc", line) and re.search(r"crash|fail|error|abort", line, re.I)]
    print("client's error lines:\n  " + "\n  ".join(err[-5:]))
    assert err, f"no error line naming RPC in the client's output:\n{text[-3000:]}"
