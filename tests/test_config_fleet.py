"""Config file, env variables, the fleet and host sets (no network)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wacket import config, paths
from wacket.errors import ConfigError
from wacket.fleet import Fleet, expand_ranges
from wacket.sshconfig import SSHConfig


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load_fleet(text: str = "", ssh: str = "") -> Fleet:
    cfg_path = write(Path(os.environ["WACKET_CONFIG"]), text)
    ssh_path = write(Path.home() / ".ssh/config", ssh)
    return Fleet.load(config.load(cfg_path), SSHConfig.load(ssh_path))


def test_env_variables_choose_config_and_data(tmp_path, monkeypatch):
    monkeypatch.setenv("WACKET_CONFIG", str(tmp_path / "elsewhere.toml"))
    monkeypatch.setenv("WACKET_DATA", str(tmp_path / "data"))
    assert paths.config_path() == tmp_path / "elsewhere.toml"
    d = paths.data_dir()
    assert d == tmp_path / "data" and (d.stat().st_mode & 0o777) == 0o700


def test_xdg_defaults_when_env_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("WACKET_CONFIG")
    monkeypatch.delenv("WACKET_DATA")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "dat"))
    assert paths.config_path() == tmp_path / "cfg/wacket/config.toml"
    assert paths.data_dir() == tmp_path / "dat/wacket"


def test_no_config_means_only_local():
    fleet = load_fleet()
    assert fleet.names == ["local"]
    local = fleet.get("local")
    assert local.is_local and local.source == "local"


def test_malformed_toml_names_file_and_line():
    with pytest.raises(ConfigError) as err:
        load_fleet('[hosts.nas]\naddress = "nas.lan"\nport = = 22\n')
    msg = str(err.value)
    assert os.environ["WACKET_CONFIG"] + ":3:" in msg


def test_wrong_type_names_line_and_key():
    with pytest.raises(ConfigError) as err:
        load_fleet('[hosts.a]\naddress = "a"\n\n[hosts.nas]\nport = "22"\n')
    assert ":5:" in str(err.value) and "port must be a whole number" in str(err.value)


def test_unknown_key_is_reported():
    with pytest.raises(ConfigError, match="unknown key 'adress'"):
        load_fleet('[hosts.nas]\nadress = "x"\n')


def test_host_sets_ranges_tags_all_and_order():
    text = (
        "".join(f'[hosts.pi{i}]\naddress = "10.0.0.{i}"\ntags = ["pi"]\n' for i in range(1, 5))
        + '[hosts.nas]\ntags = ["server"]\n'
    )
    fleet = load_fleet(text)
    names = lambda spec: [h.name for h in fleet.select(spec)]  # noqa: E731
    assert names("pi[2-3]") == ["pi2", "pi3"]
    assert names("nas,@pi") == ["nas", "pi1", "pi2", "pi3", "pi4"]
    assert names("pi[1,4],pi1") == ["pi1", "pi4"]
    assert names("all") == ["local", "pi1", "pi2", "pi3", "pi4", "nas"]
    assert names("@local") == ["local"]


def test_unknown_name_lists_known_ones():
    fleet = load_fleet('[hosts.nas]\naddress = "n"\n')
    with pytest.raises(ConfigError) as err:
        fleet.select("nsa")
    assert "unknown host 'nsa'" in str(err.value) and "local, nas" in str(err.value)
    with pytest.raises(ConfigError, match="no host has tag"):
        fleet.select("@nope")


def test_ranges_keep_zero_padding_and_reject_nonsense():
    assert expand_ranges("n[08-10]") == ["n08", "n09", "n10"]
    with pytest.raises(ConfigError):
        expand_ranges("n[a-b]")
    with pytest.raises(ConfigError):
        expand_ranges("n[5-1]")


def test_ssh_config_aliases_and_merge():
    ssh = """
Host *.lan
    User lanuser
Host box
    HostName 192.0.2.7
    Port 2201
    User boxer
    IdentityFile ~/.ssh/box_key
    ProxyJump gate.example
Host gw !nothere
    HostName 192.0.2.1
Host *
    Port 2222
"""
    fleet = load_fleet('[hosts.nas]\naddress = "nas.lan"\n[hosts.viabox]\naddress = "box"\n', ssh)
    assert [h.name for h in fleet.hosts.values()] == ["local", "nas", "viabox", "box", "gw"]
    nas = fleet.get("nas")
    assert (nas.user, nas.port, nas.source) == ("lanuser", 2222, "config")
    box = fleet.get("box")
    assert (box.address, box.port, box.user, box.source) == (
        "192.0.2.7",
        2201,
        "boxer",
        "ssh_config",
    )
    assert box.identity == [str(Path.home() / ".ssh/box_key")]
    assert box.proxy_jump == "gate.example"
    viabox = fleet.get("viabox")
    assert viabox.address == "192.0.2.7" and viabox.port == 2201
    assert fleet.get("gw").port == 2222


def test_hosts_list_cli_without_config(run_wacket):
    res = run_wacket("hosts", "list", "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["name"] for r in rows] == ["local"] and rows[0]["source"] == "local"


def test_cli_config_error_is_one_line_exit_2(run_wacket):
    write(Path(os.environ["WACKET_CONFIG"]), "[hosts.x\n")
    res = run_wacket("hosts", "list")
    assert res.returncode == 2
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wacket: error: ") and ":1:" in lines[0]
    assert b"Traceback" not in res.stderr


def test_cli_unknown_host_exit_2(run_wacket):
    res = run_wacket("run", "nope", "--", "true")
    assert res.returncode == 2
    assert b"unknown host 'nope'; known hosts: local" in res.stderr
