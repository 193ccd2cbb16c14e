"""wacket mail: every mailbox of every account in one local, incremental, verified, searchable archive.

Modules: accounts (config + secrets), imap (connections, folders), store (files + index database),
archive (incremental fetch), search (FTS5), importer, export, restore, verify.
imapclient and keyring are imported lazily, inside the functions that use them.
"""
