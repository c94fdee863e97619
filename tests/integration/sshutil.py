"""Helpers shared by the test_ssh_*.py files."""
import json


def marks(text, tag):
    """Every '@@tag <json>' value printed by the ssh_ops tasks."""
    out = []
    for line in text.splitlines():
        p = line.find("@@%s " % tag)
        if p >= 0:
            out.append(json.loads(line[p + len(tag) + 3:]))
    return out


def mark(text, tag):
    m = marks(text, tag)
    assert m, "no @@%s in output:\n%s" % (tag, text)
    return m[0]
