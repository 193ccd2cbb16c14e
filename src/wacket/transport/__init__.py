"""One transport for every capability: sessions to hosts (local or SSH), fan-out, rsync arguments."""

import sys


class _SkipInvokeForParamiko:
    """Keep paramiko from importing `invoke`.

    paramiko's package imports paramiko.config, which imports `invoke` when it is installed: about
    100 ms of CPU (200 ms on a slow machine) on every command that opens an SSH session, for
    nothing: invoke only serves `Match exec` in paramiko's own ssh_config parser, which wacket
    never uses (it reads ~/.ssh/config itself, see wacket.sshconfig). paramiko handles a missing
    invoke. Only that one import is refused; anyone else may import invoke as usual.
    """

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "invoke":
            config = sys.modules.get("paramiko.config")
            if config is not None and not hasattr(config, "SSHConfig"):  # being imported
                raise ImportError("invoke is not needed by wacket")
        return None


if not any(isinstance(f, type) and f.__name__ == "_SkipInvokeForParamiko" for f in sys.meta_path):
    sys.meta_path.insert(0, _SkipInvokeForParamiko)
