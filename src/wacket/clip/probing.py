"""`wacket clip backends`: which system clipboard backend each machine would use, or what it
lacks, as records."""

from __future__ import annotations


def backend_records(c, hosts, primary: bool):
    """Each host's backend probed in parallel: (records {host, backend, problem}, HostResults)."""
    from wacket.transport.fanout import fan_out_ordered
    from wacket.transport.result import HostResults

    results = HostResults(fan_out_ordered(hosts, lambda h: c.board(h.name, primary).probe()))
    records = []
    for res in results:
        if res.ok:
            records.append({"host": res.host, "backend": res.value, "problem": ""})
        else:
            problem = str(res.error).removeprefix(f"{res.host}: ")
            records.append({"host": res.host, "backend": None, "problem": problem})
    return records, results
