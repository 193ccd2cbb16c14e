"""A mistyped command or subcommand names the nearest real one and exits 2 (usage)."""

from __future__ import annotations

import pytest

from wacket.cli.main import LazyGroup


def _typo(name: str) -> str:
    """The name with its last two letters swapped (or a letter doubled): a usual slip."""
    return name[:-2] + name[-1] + name[-2] if name[-1] != name[-2] else name + name[-1]


@pytest.mark.parametrize("name", sorted(LazyGroup.COMMANDS))
def test_top_level_typo_suggests_the_command(run_wacket, name):
    res = run_wacket(_typo(name))
    assert res.returncode == 2
    assert f"No such command '{_typo(name)}'. Did you mean '{name}'?" in res.stderr.decode()


@pytest.mark.parametrize(
    "args, meant",
    [
        (["synk", "a/", "b/"], "sync"),
        (["backup", "rnu", "home"], "run"),
        (["hosts", "stauts"], "status"),
        (["gpio", "toggel"], "toggle"),
        (["mail", "archve"], "archive"),
        (["clip", "pastee"], "paste"),
        (["msg", "tial"], "tail"),
        (["links", "merg"], "merge"),
    ],
)
def test_typo_suggests_the_nearest(run_wacket, args, meant):
    res = run_wacket(*args)
    assert res.returncode == 2
    err = res.stderr.decode()
    assert "Did you mean" in err and f"'{meant}'" in err.partition("Did you mean")[2]


def test_no_suggestion_for_nothing_alike(run_wacket):
    res = run_wacket("xyzzy")
    assert res.returncode == 2
    err = res.stderr.decode()
    assert "No such command 'xyzzy'." in err and "Did you mean" not in err
