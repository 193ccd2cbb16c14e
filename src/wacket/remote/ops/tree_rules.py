# Exclude rules of a tree walk: rsync-like patterns compiled once, matched per entry.
import fnmatch
import re


class _ExcludeRules:
    """The exclude patterns compiled into at most four regular expressions (name or path, any
    entry or directories only), so a walk of a million entries tests each name once, not once
    per pattern."""

    def __init__(self, rules):
        self.rules = rules
        groups = {}
        for pat, dir_only, by_path in rules:
            groups.setdefault((dir_only, by_path), []).append(fnmatch.translate(pat))
        self.res = {}
        for key, parts in groups.items():
            self.res[key] = re.compile("|".join(f"(?:{p})" for p in parts))

        def joined(keys):
            parts = [p for k in keys for p in groups.get(k, [])]
            return re.compile("|".join(f"(?:{p})" for p in parts)).match if parts else None

        # What the walk asks per entry: (by name, by path) for files and for directories.
        self.for_file = (joined([(False, False)]), joined([(False, True)]))
        self.for_dir = (
            joined([(False, False), (True, False)]),
            joined([(False, True), (True, True)]),
        )

    def __len__(self):
        return len(self.rules)

    def __iter__(self):
        return iter(self.rules)

    def match(self, rel, name, is_dir):
        for (dir_only, by_path), rx in self.res.items():
            if dir_only and not is_dir:
                continue
            if rx.match(rel if by_path else name):
                return True
        return False


def _compile_excludes(patterns):
    """rsync-like patterns: `*.tmp` matches a name anywhere, `dir/` matches directories only,
    `/top` anchors at the root, a pattern with `/` inside matches the relative path."""
    rules = []
    for pat in patterns or []:
        dir_only = pat.endswith("/")
        pat = pat.rstrip("/")
        anchored = pat.startswith("/")
        pat = pat.lstrip("/")
        rules.append((pat, dir_only, anchored or "/" in pat))
    return _ExcludeRules(rules)


def _excluded(rules, rel, name, is_dir):
    return rules.match(rel, name, is_dir)
