"""The systemd units in deploy/: what `systemd-analyze verify` says, the keys the README
promises, and that every `monitor` command line in them parses with today's CLI.

The structural checks always run. `systemd-analyze verify` runs on top when it is installed
(it is on the CI image); it needs the `ExecStart` binary to exist, so it runs against a
throwaway root holding the units, the system's own units and a stub `/opt/news-monitor/bin/
monitor`. Nothing here is skipped without saying so.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from monitor.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = ("monitor.service", "monitor-backup.service", "monitor-backup.timer")
BINARY = "/opt/news-monitor/bin/monitor"


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values in order]}}: systemd allows a key more than
    once (ExecStart in a oneshot, SystemCallFilter), which configparser does not."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = pending + raw.strip()
        pending = ""
        if not line or line.startswith(("#", ";")):
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} is outside any section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {line!r} is not KEY=VALUE"
        current.setdefault(key.strip(), []).append(value.strip())
    assert not pending, f"{path.name}: the last line ends with a backslash"
    return sections


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit[section].get(key)
    assert values, f"[{section}] has no {key}="
    return values[-1]


def commented_exec_starts(path: Path) -> list[str]:
    """The alternative command lines the units give in comments (`# ExecStart=...`)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ln.split("=", 1)[1].strip() for ln in lines if ln.startswith("# ExecStart=")]


def check_command_line(command_line: str) -> list[str]:
    """Parse a `monitor ...` command line the way click will, without running it: every
    option must exist on the group or the subcommand, and no argument may be left over.
    Returns the subcommand path (e.g. ["watch"]). Raises click errors on a bad flag."""
    tokens = shlex.split(command_line)
    assert tokens[0] == BINARY, tokens[0]
    command: click.Command = cli
    args = tokens[1:]
    path: list[str] = []
    while True:
        ctx = click.Context(command, info_name=command.name)
        opts, rest, _order = command.make_parser(ctx).parse_args(list(args))
        if not isinstance(command, click.Group):
            assert rest == [], f"{command_line}: unexpected arguments {rest}"
            missing = [
                p.name
                for p in command.params
                if p.required and not isinstance(opts.get(p.name), str | tuple | list)
            ]
            assert not missing, f"{command_line}: missing {missing}"
            return path
        assert rest, f"{command_line}: no subcommand"
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"{command_line}: no command {rest[0]!r}"
        path.append(rest[0])
        command, args = sub, rest[1:]


def flags(command_line: str) -> list[str]:
    return [t.split("=", 1)[0] for t in shlex.split(command_line) if t.startswith("--")]


@pytest.fixture(scope="module")
def units() -> dict[str, dict[str, dict[str, list[str]]]]:
    return {name: parse_unit(DEPLOY / name) for name in UNITS}


WATCHER_SETTINGS = {
    "Type": "exec",  # not notify: the watcher does not call sd_notify
    "ExecReload": "/bin/kill -HUP $MAINPID",
    "KillSignal": "SIGTERM",
    "TimeoutStopSec": "90",
    "Restart": "on-failure",
    "User": "monitor",
    "StateDirectory": "monitor",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "ReadWritePaths": "/var/lib/monitor",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "SystemCallFilter": "@system-service",
    "CapabilityBoundingSet": "",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
}


class TestWatcherUnit:
    def test_required_keys(self, units):
        """Every setting the README describes is there with its value."""
        service = units["monitor.service"]
        for key, value in WATCHER_SETTINGS.items():
            assert one(service, "Service", key) == value, key
        assert one(service, "Install", "WantedBy") == "multi-user.target"
        assert "network-online.target" in one(service, "Unit", "After")

    def test_exec_start_is_the_watcher(self, units):
        """ExecStart runs `monitor --config /etc/monitor/monitor.yaml watch`."""
        line = one(units["monitor.service"], "Service", "ExecStart")
        assert shlex.split(line) == [BINARY, "--config", "/etc/monitor/monitor.yaml", "watch"]

    def test_the_flag_alternative_parses(self):
        """The commented ExecStart with --db/--feeds/--rules is a valid `monitor watch`."""
        (alternative,) = commented_exec_starts(DEPLOY / "monitor.service")
        assert check_command_line(alternative) == ["watch"]
        assert {"--db", "--feeds", "--rules"} <= set(flags(alternative))


class TestBackupUnits:
    def test_service(self, units):
        """A oneshot as the monitor user whose ExecStart is `monitor ... backup --force DEST`
        into its own state directory, which it may write."""
        service = units["monitor-backup.service"]
        assert one(service, "Service", "Type") == "oneshot"
        assert one(service, "Service", "User") == "monitor"
        command = shlex.split(one(service, "Service", "ExecStart"))
        assert command[command.index("backup") :] == [
            "backup",
            "--force",
            "/var/lib/monitor-backup/monitor.db",
        ]
        writable = one(service, "Service", "ReadWritePaths").split()
        assert {"/var/lib/monitor", "/var/lib/monitor-backup"} <= set(writable)
        assert one(service, "Service", "StateDirectory").split() == ["monitor", "monitor-backup"]
        assert "Install" not in service  # started by the timer, not enabled itself

    def test_alternatives_parse(self):
        """The commented command lines (checkpoint, backup without a config file) parse."""
        paths = [
            check_command_line(c) for c in commented_exec_starts(DEPLOY / "monitor-backup.service")
        ]
        assert paths == [["checkpoint"], ["backup"]]

    def test_timer(self, units):
        """Daily, persistent across downtime, spread over half an hour."""
        timer = units["monitor-backup.timer"]
        assert one(timer, "Timer", "OnCalendar") == "daily"
        assert one(timer, "Timer", "Persistent") == "true"
        assert one(timer, "Timer", "RandomizedDelaySec") == "30min"
        assert one(timer, "Install", "WantedBy") == "timers.target"


class TestCommandLines:
    def exec_starts(self, units) -> list[str]:
        return [
            line
            for name in ("monitor.service", "monitor-backup.service")
            for line in units[name]["Service"]["ExecStart"]
        ]

    def test_every_flag_is_accepted(self, units):
        """Each ExecStart parses with the CLI as it is now (group options, subcommand, its
        options and arguments), and `--help` of each subcommand lists the flags used."""
        runner = CliRunner()
        for line in self.exec_starts(units):
            path = check_command_line(line)
            help_text = runner.invoke(cli, [*path, "--help"])
            assert help_text.exit_code == 0, help_text.output
            for flag in flags(line.split(f" {path[-1]}", 1)[1]):
                assert flag in help_text.output, (path, flag)
        group_help = runner.invoke(cli, ["--help"]).output
        for line in self.exec_starts(units):
            for flag in flags(line.split(" backup", 1)[0].split(" watch", 1)[0]):
                assert flag in group_help, flag


class TestSystemdAnalyze:
    def test_verify(self, tmp_path, units):
        """`systemd-analyze verify` prints nothing for the three units (it warns about an
        unknown key or a bad value on stderr and still exits 0, so any output fails)."""
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            # Not skipped: say what stands in for it. The other tests in this file parsed the
            # units, checked their keys, and parsed every command line with the CLI.
            print("systemd-analyze is not installed: checked the units' keys and commands only")
            assert set(units) == set(UNITS)
            return
        root = tmp_path / "root"
        (root / "etc/systemd/system").mkdir(parents=True)
        for name in UNITS:
            shutil.copy(DEPLOY / name, root / "etc/systemd/system" / name)
        system_units = Path("/usr/lib/systemd/system")
        if system_units.is_dir():  # sysinit.target, basic.target... which every unit needs
            (root / "usr/lib/systemd").mkdir(parents=True)
            shutil.copytree(system_units, root / "usr/lib/systemd/system", symlinks=True)
        stub = root / BINARY.lstrip("/")
        stub.parent.mkdir(parents=True)
        stub.write_text(f'#!/bin/sh\nexec {sys.executable} -m monitor "$@"\n')
        stub.chmod(0o755)
        (root / "bin").mkdir()
        shutil.copy("/bin/kill", root / "bin/kill")
        result = subprocess.run(
            [analyze, "verify", f"--root={root}", *UNITS],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stderr

    def test_verify_catches_a_mistake(self, tmp_path):
        """The check above is not vacuous: a misspelt key makes systemd-analyze speak."""
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            print("systemd-analyze is not installed: nothing to calibrate")
            return
        broken = tmp_path / "broken.service"
        text = (DEPLOY / "monitor.service").read_text().replace("ProtectHome=", "ProtectHomee=")
        broken.write_text(text)
        result = subprocess.run(
            [analyze, "verify", str(broken)], capture_output=True, text=True, timeout=120
        )
        assert "ProtectHomee" in result.stderr


# PR_SET_MDWE (65) with PR_MDWE_REFUSE_EXEC_GAIN (1), inherited across fork and execve.
MDWE_WRAPPER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:
    sys.exit("PR_SET_MDWE failed: errno %d" % ctypes.get_errno())
os.execv(sys.argv[1], sys.argv[1:])
"""


def mdwe_supported() -> bool:
    """Whether this kernel has PR_SET_MDWE (Linux 6.3+); probed in a child process, since
    the flag cannot be cleared once set."""
    probe = "import ctypes,sys; sys.exit(ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) != 0)"
    return subprocess.run([sys.executable, "-c", probe], timeout=30).returncode == 0


def test_runs_without_writable_executable_memory(tmp_path):
    """MemoryDenyWriteExecute=yes is safe: under the kernel's PR_SET_MDWE (which refuses the
    same mappings), the watcher polls the sample feeds through the default rules, signs a
    checkpoint and backs up the log."""
    if sys.platform != "linux" or not mdwe_supported():
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3+) to emulate the setting with")
    wrapper = tmp_path / "mdwe.py"
    wrapper.write_text(MDWE_WRAPPER)
    db, keys = tmp_path / "m.db", tmp_path / "keys"
    base = [sys.executable, str(wrapper), sys.executable, "-m", "monitor", "--db", str(db)]

    def run(*args: str) -> str:
        result = subprocess.run(
            [*base, *args], capture_output=True, text=True, cwd=ROOT, timeout=300
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    run("watch", "--once", "--json", "--feeds", "feeds/default.yaml", "--rules", "rules")
    run("keygen", "--out", str(keys))
    run("checkpoint", "--key", str(keys / "checkpoint.key"), "--append")
    assert "verifies" in run("backup", str(tmp_path / "b.db"))
    refused = subprocess.run(
        [sys.executable, str(wrapper), sys.executable, "-c",
         "import mmap; mmap.mmap(-1, 4096, prot=7)"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert refused.returncode != 0 and "Permission denied" in refused.stderr  # it was on
