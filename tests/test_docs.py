"""The generated man pages and shell completions (bin/gen-docs): up to date, well-formed, working."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from wacket.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "bin" / "gen-docs"
COMPLETIONS = ROOT / "completions"


def gen_docs(*args: str, dest: Path | None = None) -> subprocess.CompletedProcess:
    extra = ["--dest", str(dest)] if dest else []
    return subprocess.run(
        [sys.executable, str(GEN), *args, *extra], capture_output=True, text=True, timeout=120
    )


def command_paths(cmd: click.Command = cli, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                paths += command_paths(sub, (*path, name))
    return paths


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A fresh generation into a temporary root (man/ and completions/)."""
    dest = tmp_path_factory.mktemp("docs")
    res = gen_docs(dest=dest)
    assert res.returncode == 0, res.stderr
    return dest


@pytest.fixture
def fleet_env(tmp_path: Path) -> dict[str, str]:
    """An environment where `wacket` is on PATH and the fleet has nas (tags server, backup)."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[hosts.nas]\naddress = "127.0.0.9"\ntags = ["server", "backup"]\n'
        '[hosts.pi1]\naddress = "127.0.0.10"\ntags = ["pi"]\n'
    )
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "wacket"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m wacket "$@"\n')
    wrapper.chmod(0o755)
    env = dict(os.environ)
    env["WACKET_CONFIG"] = str(config)
    env["PATH"] = f"{bindir}:{env['PATH']}"
    return env


# -- up to date ----------------------------------------------------------------------------------


def test_committed_docs_are_up_to_date():
    res = gen_docs("--check")
    assert res.returncode == 0, f"run bin/gen-docs:\n{res.stderr}"


def test_check_names_stale_missing_and_extra_files(generated: Path, tmp_path: Path):
    dest = tmp_path / "root"
    shutil.copytree(generated, dest)
    assert gen_docs("--check", dest=dest).returncode == 0

    page = dest / "man" / "wacket-hosts-status.1"
    page.write_text(page.read_text().replace("Offline hosts", "Offline boxes"))
    (dest / "completions" / "wacket.fish").unlink()
    (dest / "man" / "wacket-gone.1").write_text(".TH X 1\n")
    res = gen_docs("--check", dest=dest)
    assert res.returncode == 1
    assert "man/wacket-hosts-status.1: out of date" in res.stderr
    assert "completions/wacket.fish: missing" in res.stderr
    assert "man/wacket-gone.1: no longer generated" in res.stderr

    # Regenerating repairs all three, and a second run is a no-op (deterministic output).
    assert gen_docs(dest=dest).returncode == 0
    assert gen_docs("--check", dest=dest).returncode == 0
    assert not (dest / "man" / "wacket-gone.1").exists()
    assert page.read_text() == (generated / "man" / "wacket-hosts-status.1").read_text()


def test_output_is_reproducible(generated: Path, tmp_path: Path):
    """Same files whatever the hash seed (click keeps some option names in sets) or the clock."""
    dest = tmp_path / "again"
    env = dict(os.environ, PYTHONHASHSEED="12345")
    res = subprocess.run(
        [sys.executable, str(GEN), "--dest", str(dest)], env=env, capture_output=True, timeout=120
    )
    assert res.returncode == 0
    for sub in ("man", "completions"):
        for path in (generated / sub).iterdir():
            assert (dest / sub / path.name).read_text() == path.read_text(), path.name


def test_one_page_per_command_group_and_leaf(generated: Path):
    pages = {p.name for p in (generated / "man").glob("*.1")}
    expected = {"-".join(("wacket", *path)) + ".1" for path in command_paths()}
    assert pages == expected
    assert {"wacket.1", "wacket-hosts.1", "wacket-hosts-status.1", "wacket-run.1"} <= pages


# -- man pages -----------------------------------------------------------------------------------


def test_man_pages_have_the_sections(generated: Path):
    for page in (generated / "man").glob("*.1"):
        text = page.read_text()
        for section in (
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "EXIT STATUS",
            "ENVIRONMENT",
            "SEE ALSO",
        ):
            assert f"\n.SH {section}\n" in text, (page.name, section)
        assert "WACKET_CONFIG" in text and "WACKET_DATA" in text
        for code in "01234":
            assert f"\\fB{code}\\fR" in text
        assert text.isascii(), page.name


def test_man_page_keeps_example_blocks_verbatim(generated: Path):
    text = (generated / "man" / "wacket-run.1").read_text()
    block = text.split(".nf\n", 1)[1].split("\n.fi", 1)[0]
    assert block.splitlines() == [
        "Examples:",
        "  wacket run all \\-\\- uptime",
        "  wacket run @pi \\-\\- \\(aqdf \\-h / | tail \\-1\\(aq",
        "  wacket run nas,pi[1\\-3] \\-\\-gather \\-\\- cat /etc/debian_version",
        '  wacket run all \\-\\-jsonl \\-\\- ls \\-\\- "\\-odd name.txt"',
    ]


@pytest.mark.skipif(not shutil.which("groff"), reason="groff not installed")
def test_man_pages_render_with_groff(generated: Path):
    for page in sorted((generated / "man").glob("*.1")):
        res = subprocess.run(
            ["groff", "-man", "-Tutf8", "-ww", str(page)], capture_output=True, text=True
        )
        assert res.returncode == 0 and not res.stderr.strip(), (page.name, res.stderr)
        text = re.sub(r".\x08", "", res.stdout)  # groff's overstrike bold
        assert "EXIT STATUS" in text and "SEE ALSO" in text


@pytest.mark.skipif(not shutil.which("mandoc"), reason="mandoc not installed")
def test_man_pages_pass_mandoc_lint(generated: Path):
    pages = sorted(str(p) for p in (generated / "man").glob("*.1"))
    res = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", *pages], capture_output=True)
    # The date is left empty on purpose (no clock dates: the output must be reproducible).
    problems = [
        line
        for line in res.stdout.decode().splitlines() + res.stderr.decode().splitlines()
        if "missing date" not in line
    ]
    assert not problems, "\n".join(problems[:20])


def test_man_page_names_the_structural_parts(generated: Path):
    text = (generated / "man" / "wacket-hosts-status.1").read_text()
    assert text.startswith('.\\" wacket-hosts-status.1 - generated by bin/gen-docs')
    assert '\n.TH "WACKET-HOSTS-STATUS" "1" "" "wacket ' in text
    assert "\\fBwacket hosts status\\fR [OPTIONS] [HOSTSET]" in text
    assert "\\fB\\-\\-connect\\-timeout\\fR \\fISECONDS\\fR" in text
    assert "\\fBwacket\\-hosts\\fR(1)" in text
    group = (generated / "man" / "wacket-hosts.1").read_text()
    assert "\n.SH COMMANDS\n" in group and "\\fBwacket\\-hosts\\-status\\fR(1)" in group
    # Nothing may start a text line with a control character by accident.
    for page in (generated / "man").glob("*.1"):
        for line in page.read_text().splitlines():
            if line.startswith("'"):
                pytest.fail(f"{page.name}: {line}")


# -- help ----------------------------------------------------------------------------------------


def leaf_paths() -> list[tuple[str, ...]]:
    paths = command_paths()
    return [p for p in paths if not any(q[: len(p)] == p and q != p for q in paths)]


@pytest.mark.parametrize("path", [(), *leaf_paths()], ids=lambda p: " ".join(p) or "wacket")
def test_every_command_help_has_an_example(path: tuple[str, ...]):
    res = CliRunner().invoke(cli, [*path, "--help"], prog_name="wacket")
    assert res.exit_code == 0, res.output
    assert "Example" in res.output, f"wacket {' '.join(path)} --help has no example"


# -- completions ---------------------------------------------------------------------------------


def test_completions_do_not_start_python():
    for name in ("wacket.bash", "_wacket", "wacket.fish"):
        text = (COMPLETIONS / name).read_text()
        assert "python" not in text and "_WACKET_COMPLETE" not in text, name
        assert "wacket hosts list --plain" in text, name


def test_bash_completion_syntax(generated: Path):
    res = subprocess.run(["bash", "-n", str(generated / "completions/wacket.bash")])
    assert res.returncode == 0


BASH_PROBE = """
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()
_wacket
printf '%s\\n' "${COMPREPLY[@]}"
"""


def bash_complete(script: Path, words: list[str], env: dict[str, str]) -> set[str]:
    res = subprocess.run(
        ["bash", "-c", BASH_PROBE, "probe", str(script), *words],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    return set(res.stdout.split("\n")) - {""}


def test_bash_completion_works(generated: Path, fleet_env):
    script = generated / "completions/wacket.bash"
    top = {path[0] for path in command_paths() if path}
    assert bash_complete(script, ["wacket", ""], fleet_env) == top
    assert bash_complete(script, ["wacket", "ho"], fleet_env) == {"hosts"}
    assert bash_complete(script, ["wacket", "-q", "hosts", ""], fleet_env) == {
        "list",
        "services",
        "status",
    }
    assert bash_complete(script, ["wacket", "hosts", "status", "--c"], fleet_env) == {
        "--check",
        "--connect-timeout",
    }
    hosts = bash_complete(script, ["wacket", "hosts", "status", ""], fleet_env)
    assert {"all", "local", "nas", "pi1", "@pi", "@server"} <= hosts
    assert bash_complete(script, ["wacket", "run", "nas,p"], fleet_env) == {"nas,pi1"}
    # an option's value is not taken for a subcommand or a positional argument
    after = bash_complete(script, ["wacket", "hosts", "status", "--forks", "3", ""], fleet_env)
    assert "nas" in after
    assert bash_complete(script, ["wacket", "hosts", "status", "--forks", ""], fleet_env) == set()
    assert "echo" in bash_complete(script, ["wacket", "run", "all", "--", "ech"], fleet_env)


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh not installed")
def test_zsh_completion_syntax(generated: Path):
    res = subprocess.run(["zsh", "-n", str(generated / "completions/_wacket")])
    assert res.returncode == 0


# Drives an interactive zsh in a pseudo-terminal, presses TAB, prints what compadd was offered.
ZSH_PROBE = r"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT='' RPROMPT=''"
zpty -w z "rehash"
zpty -w z "fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'compadd () {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  typeset -a __hits
  builtin compadd -A __hits "$@"
  (( $#__hits == 0 )) && return 1
  print -l -- "<CA""ND>"${^__hits}
  builtin compadd -Q -- x
}'
zpty -w z 'comppostfuncs=(__done); __done () { print -- "<DO""NE>" }'
zpty -n -w z "$2"$'\t'
local out
zpty -r z out '*<DONE>*'
zpty -d z
print -r -- ${(F)${(M)${(f)out//$'\r'/}:#*<CAND>*}##*<CAND>}
"""


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh not installed")
def test_zsh_completion_works(generated: Path, fleet_env):
    def complete(line: str) -> set[str]:
        res = subprocess.run(
            ["zsh", "-f", "-c", ZSH_PROBE, "probe", str(generated / "completions"), line],
            capture_output=True,
            text=True,
            env=fleet_env,
            timeout=60,
        )
        return set(res.stdout.split("\n")) - {""}

    assert complete("wacket hosts ") == {"list", "services", "status"}
    assert complete("wacket hosts status --c") == {"--check", "--connect-timeout"}
    assert {"all", "nas", "pi1", "@pi"} <= complete("wacket run ")
    assert complete("wacket hosts status nas,p") == {"pi1"}
    # the command after the host set (and after --) completes as a command name
    assert "echo" in complete("wacket run all -- ech")
    assert "echo" in complete("wacket run all --jsonl ech")


@pytest.mark.skipif(not shutil.which("fish"), reason="fish not installed")
def test_fish_completion_syntax(generated: Path):
    res = subprocess.run(["fish", "-n", str(generated / "completions/wacket.fish")])
    assert res.returncode == 0


@pytest.mark.skipif(not shutil.which("fish"), reason="fish not installed")
def test_fish_completion_works(generated: Path, fleet_env):
    def complete(line: str) -> set[str]:
        script = f'source {generated / "completions/wacket.fish"}; complete -C "{line}"'
        res = subprocess.run(
            ["fish", "--no-config", "-c", script],
            capture_output=True,
            text=True,
            env=fleet_env,
            timeout=60,
        )
        assert res.returncode == 0, res.stderr
        return {ln.split("\t")[0] for ln in res.stdout.splitlines()}

    assert complete("wacket hosts ") == {"list", "services", "status"}
    assert complete("wacket -q hosts st") == {"status"}
    assert complete("wacket hosts status --c") == {"--check", "--connect-timeout"}
    assert {"all", "nas", "pi1", "@pi", "@server"} <= complete("wacket hosts status ")
    assert complete("wacket hosts status nas,p") == {"nas,pi1"}
    assert complete("wacket hosts status nas ") == set()
