"""Links: one master database of bookmarks and browsing history from every browser on every machine.

The plain Python API used by `wacket links`: `sources.resolve()` turns SOURCE arguments into
readable files (local, or copied from `HOST:PATH`), `master.Master` merges them idempotently and
answers searches. See normalize.py for the URL rules.
"""
