"""One `wacket find index` run: every host walked (`index.index`) under the journal entry and
the find-index lock, with the notes a host's unreadable entries or failure give."""

from __future__ import annotations

from wacket.errors import Exit

COLUMNS = ["host", "state", "entries", "files", "dirs", "hashed", "errors", "seconds"]


def printable(path: str) -> str:
    """A path for a message: undecodable bytes replaced, a newline shown as \\n."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\n", "\\n")


def notes(res) -> list[str]:
    """What a host's index result says beyond its record: its failure (the catalog is kept),
    or its first five unreadable entries and how many more."""
    if not res.ok:
        return [f"wacket find: {res.error}; its previous catalog is kept"]
    v = res.value
    said = [
        f"wacket find: {res.host}: {printable(path)}: {message}"
        for path, message in v["errors"][:5]
    ]
    if v["error_count"] > 5:
        said.append(f"wacket find: {res.host}: {v['error_count'] - 5} more unreadable")
    return said


def run_index(pool, targets, settings: dict, forks: int, *, output, note) -> tuple[str, Exit]:
    """Index `targets` (Hosts) with `settings` (per host name); each host's record goes to the
    `emit` of `output()`, the caller's renderer, its notes to `note`. (summary, exit code)."""
    from wacket import jobrun
    from wacket.find import index as lib
    from wacket.transport.result import HostResults, Policy

    with jobrun.run("find index", [h.name for h in targets], locks=["find-index"]) as entry:
        with output() as out:

            def on_result(res) -> None:
                out.emit(lib.host_record(res))
                for text in notes(res):
                    note(text)

            results = HostResults(lib.index(pool, targets, lambda h: settings[h.name], forks,
                                            on_result))  # fmt: skip
        summary, unreadable = lib.summary(results)
        code = results.exit_code(Policy.WORST, partial=bool(unreadable))
        entry.summary = summary
        entry.finish(code, bool(results.succeeded))
    return summary, code
