"""rsync, in one place: its argument lists (command.py), running it through `sh` with its
itemized output streamed (run.py), the one parser of those records and of --stats (itemize.py),
and what every rsync exit code means to each command (codes.py). `wacket sync`, `backup`,
`find get` and `mail import` use it; `master.py` is backup's ssh control master for rsync's ssh.
"""

from wacket.transport.rsync.codes import (
    EXIT_CODES,
    SSH_FAILED,
    Outcome,
    check_sync,
    describe,
    outcome,
)
from wacket.transport.rsync.command import (
    OUT_FORMAT,
    backup_args,
    check_connection,
    copy_args,
    remote_spec,
    restore_args,
    rsh,
    ssh_command,
    sync_args,
    version,
)
from wacket.transport.rsync.itemize import Item, change, parse, parse_line, record, records
from wacket.transport.rsync.run import Result, run, run_remote

__all__ = [
    "EXIT_CODES", "OUT_FORMAT", "SSH_FAILED", "Item", "Outcome", "Result", "backup_args", "change",
    "check_connection", "check_sync", "copy_args", "describe", "outcome", "parse", "parse_line",
    "record", "records", "remote_spec", "restore_args", "rsh", "run", "run_remote", "ssh_command",
    "sync_args", "version",
]  # fmt: skip
