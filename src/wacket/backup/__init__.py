"""wacket backup: zero-loss snapshot backups to another machine or a removable drive.

Plain API (the click commands in wacket.cli.backup only wire options to these):
  sets.load_set / sets.adhoc_set   what to back up and where
  snapshots.run_backup             one run: clone, rsync, manifest, rename into place
  target.resolve_target / lock_set where a set's snapshots are, and its lock there
  catalog.list_snapshots / diff / find
  verify.verify                    re-hash on the target against the manifests
  restore.restore                  copy files back, refusing to overwrite
  retention.plan / prune.prune     which snapshots a keep policy keeps, and removing the rest
  drives.list_drives / resolve     drive:LABEL:/path targets
"""
