"""The host: CLI, task package, task model, local(), reports, exit codes.
These run bin/fabc as a user would, against fixture task packages."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import FABC, PKGS

BASIC = os.path.join(PKGS, "basic")


def run(*args, cwd=BASIC, timeout=60, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([FABC] + list(args), cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=e)


def report(*args, **kw):
    r = run(*(list(args) + ["--json", "-"]), **kw)
    start = r.stdout.index("{\n")
    return r, json.loads(r.stdout[start:r.stdout.rindex("}") + 1])


# ---- --list, --display, version, help -----------------------------------

def test_list_is_sorted_with_first_doc_line():
    r = run("--list")
    assert r.returncode == 0, r.stderr
    names = re.findall(r"^    (\S+)", r.stdout, re.M)
    assert names == sorted(names)
    for n in ("echo", "deploy.ship", "deploy.full", "db.backup",
              "db.migrations.run", "renamed", "rn"):
        assert n in names
    assert "helper" not in r.stdout and "_orig_name" not in r.stdout
    assert re.search(r"db\.migrations\.run\s+Run migrations\.$", r.stdout,
                     re.M)
    assert "More text" not in r.stdout


def test_shortlist_and_task_search_from_subdirectory():
    r = run("--shortlist", cwd=os.path.join(BASIC, "tasks", "db"))
    assert r.returncode == 0
    assert "deploy.ship\n" in r.stdout


def test_display_shows_signature_and_docstring():
    r = run("-d", "deploy.sh")
    assert r.returncode == 0
    assert "deploy.sh(cmd, timeout=None)" in r.stdout
    assert "Run a local command" in r.stdout


def test_version_and_help():
    r = run("-V")
    assert r.returncode == 0 and r.stdout.startswith("fabc ")
    r = run("--help")
    assert r.returncode == 0 and "--parallel" in r.stdout
    r = run()
    assert r.returncode == 2 and "no task given" in r.stderr


# ---- task specs -----------------------------------------------------------

@pytest.mark.parametrize("spec,args,kwargs", [
    ("echo:a,b", ["a", "b"], {}),
    ("echo:k=v,x=1", [], {"k": "v", "x": "1"}),
    ("echo:flags=a=b", [], {"flags": "a=b"}),          # Fabric 1 crashed
    (r"echo:a\,b,c\=d,e\\f", ["a,b", "c=d", "e\\f"], {}),
    ("echo:", [], {}),
    ("echo:a,,b", ["a", "", "b"], {}),
    ("echo:k=", [], {"k": ""}),
    ("echo:msg=grüße ☃", [], {"msg": "grüße ☃"}),
    ("echo:p,host=h9,q", ["p", "q"], {}),
])
def test_task_arguments(spec, args, kwargs):
    r, rep = report(spec)
    assert r.returncode == 0, r.stderr
    hosts = rep["tasks"][0]["hosts"]
    assert hosts[0]["result"] == {"args": args, "kwargs": kwargs}


def test_several_tasks_run_in_order():
    r = run("deploy.ship:v1", "deploy.ship:v2", "db.backup")
    assert r.returncode == 0
    assert r.stdout.index("shipping v1") < r.stdout.index("shipping v2")


def test_name_alias_and_default_task():
    for spec, want in (("renamed", "renamed"), ("rn", "renamed"),
                       ("deploy", "full")):
        r, rep = report(spec)
        assert r.returncode == 0, r.stderr
        assert rep["tasks"][0]["hosts"][0]["result"] == want


def test_module_imported_by_the_package_runs_once():
    r, rep = report("deploy.loads")
    assert rep["tasks"][0]["hosts"][0]["result"] == 1


def test_unknown_task_suggests_closest():
    r = run("deploy.shp")
    assert r.returncode == 2
    assert "deploy.shp" in r.stderr and "deploy.ship" in r.stderr


@pytest.mark.parametrize("spec,why", [
    ("deploy.sh", "missing argument 'cmd'"),
    ("deploy.ship:a,b", "takes 1 positional argument but 2 were given"),
    ("deploy.ship:colour=red", "unexpected argument 'colour'"),
    ("deploy.ship:v1,tag=v2", "two values for argument 'tag'"),
])
def test_bad_task_arguments_exit_2_with_signature(spec, why):
    r = run(spec)
    assert r.returncode == 2
    assert why in r.stderr
    assert "signature: deploy." in r.stderr


@pytest.mark.parametrize("spec", ["t:=x", ":x", "echo:k=1,k=2"])
def test_malformed_specs_are_usage_errors(spec):
    r = run(spec)
    assert r.returncode == 2
    assert "fabc: " in r.stderr


def test_unknown_option_and_missing_value():
    r = run("--frobnicate")
    assert r.returncode == 2 and "--frobnicate" in r.stderr
    r = run("echo", "-z", "zero")
    assert r.returncode == 2 and "pool-size" in r.stderr


# ---- loading errors ---------------------------------------------------------

def test_syntax_error_in_task_module_exits_3_with_file_and_line():
    r = run("fine", cwd=os.path.join(PKGS, "broken_syntax"))
    assert r.returncode == 3
    assert re.search(r"bad\.py:5(:\d+)?: ", r.stderr), r.stderr


def test_missing_task_package_path():
    r = run("-f", "/nonexistent/tasks", "x")
    assert r.returncode == 3 and "/nonexistent/tasks" in r.stderr
    r = run("x", cwd="/")
    assert r.returncode == 3 and "no task package" in r.stderr


def test_malformed_config_exits_3_with_position():
    r = run("noop", cwd=os.path.join(PKGS, "badconfig"))
    assert r.returncode == 3
    assert re.search(r"config\.yaml:\d+:\d+", r.stderr), r.stderr


def test_missing_config_flag_path():
    r = run("-c", "/nonexistent.yaml", "echo")
    assert r.returncode == 3 and "/nonexistent.yaml" in r.stderr


# ---- failures -----------------------------------------------------------------

def test_task_raising_exits_1_with_short_traceback():
    r = run("boom")
    assert r.returncode == 1
    assert "KeyError: 'missing'" in r.stderr
    assert re.search(r'tasks/__init__\.py", line \d+, in boom', r.stderr)
    assert "_runner.py" not in r.stderr


def test_abort_and_serial_fail_fast():
    r, rep = report("fail_on:h2", "-H", "h1,h2,h3")
    assert r.returncode == 1
    assert "host h2 is bad" in r.stderr
    hosts = [h["host"] for h in rep["tasks"][0]["hosts"]]
    assert hosts == ["h1", "h2"]            # h3 never ran
    assert rep["exit_code"] == 1


def test_parallel_failure_does_not_stop_other_hosts():
    r, rep = report("fail_on:h2", "-H", "h1,h2,h3", "-P")
    assert r.returncode == 1
    st = {h["host"]: h["status"] for h in rep["tasks"][0]["hosts"]}
    assert st == {"h1": "ok", "h2": "failed", "h3": "ok"}
    assert "Summary: 3 hosts, 2 ok, 1 failed" in r.stdout
    assert re.search(r"FAILED\s+h2\s+fail_on: TaskError: host h2 is bad",
                     r.stdout)


def test_several_failed_hosts_end_with_one_fatal_error():
    r = run("deploy.sh:false", "-H", "a,b", "-P")
    assert r.returncode == 1
    assert r.stderr.count("Fatal error:") == 1
    assert "2 hosts failed while executing task 'deploy.sh': a, b" in \
        r.stderr
    assert "Error: [a] task 'deploy.sh' failed: CommandError" in r.stderr


def test_execute_returns_values_and_exceptions():
    r, rep = report("fan:h2")
    assert r.returncode == 0, r.stderr
    res = rep["tasks"][0]["hosts"][0]["result"]
    # serial: fail-fast at h2, as on the command line; h3 never ran
    assert res == {"h1": "ok", "h2": "TaskError: host h2 is bad"}
    r, rep = report("fan:h2", "-P")
    res = rep["tasks"][0]["hosts"][0]["result"]
    assert res == {"h1": "ok", "h2": "TaskError: host h2 is bad",
                   "h3": "ok"}


def test_execute_by_dotted_name():
    r, rep = report("by_name")
    assert rep["tasks"][0]["hosts"][0]["result"] == {"<local-only>": "v9"}


def test_warn_and_with_settings():
    r, rep = report("lenient", "warns")
    assert r.returncode == 0, r.stderr
    assert rep["tasks"][0]["hosts"][0]["result"] == 3
    assert "Warning:" in r.stderr and "careful" in r.stderr


def test_warn_only_flag():
    r = run("deploy.sh:exit 4")
    assert r.returncode == 1
    assert "CommandError" in r.stderr and "exit status 4" in r.stderr
    r = run("-w", "deploy.sh:exit 4")
    assert r.returncode == 0, r.stderr
    assert "Warning:" in r.stderr and "RC=4" in r.stdout


# ---- host lists ---------------------------------------------------------------

def hosts_of(rep, i=0):
    return [h["host"] for h in rep["tasks"][i]["hosts"]]


def test_host_list_precedence():
    # -H applies to tasks without their own hosts
    _, rep = report("where", "-H", "a,b")
    assert hosts_of(rep) == ["a", "b"]
    # @hosts beats -H
    _, rep = report("pinned", "-H", "a,b")
    assert hosts_of(rep) == ["h1", "h2"]
    # per-task host= beats @hosts
    _, rep = report("pinned:hosts=z1;z2")
    assert hosts_of(rep) == ["z1", "z2"]
    # roles: list, dict and callable roledefs, de-duplicated
    _, rep = report("byrole")
    assert hosts_of(rep) == ["w1", "w2", "d1"]
    _, rep = report("where", "-R", "dyn,web", "-H", "x1")
    assert hosts_of(rep) == ["x1", "x2", "w1", "w2"]
    # exclusions
    _, rep = report("where", "-H", "a,b,c", "-x", "b")
    assert hosts_of(rep) == ["a", "c"]
    _, rep = report("where:exclude_hosts=a", "-H", "a,b")
    assert hosts_of(rep) == ["b"]


def test_host_env_per_host():
    r = run("where", "-H", "deploy@[::1]:2200,web1", "-u", "ops")
    assert r.returncode == 0
    assert "HOST=deploy@[::1]:2200 USER=deploy PORT=2200" in r.stdout
    assert "HOST=web1 USER=ops PORT=22" in r.stdout
    assert "[web1] Executing task 'where'" in r.stdout


def test_unknown_role():
    r = run("where", "-R", "nope")
    assert r.returncode == 1 and "'nope'" in r.stderr


# ---- parallel execution ---------------------------------------------------------

def test_parallel_runs_hosts_at_once():
    # a 5-party barrier only opens if all five hosts are inside together
    r = run("meet:5", "-H", "a,b,c,d,e", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_pool_size_and_serial_bound_concurrency():
    hosts = ",".join("h%d" % i for i in range(6))
    _, rep = report("count", "-H", hosts, "-P", "-z", "3")
    assert max(h["result"] for h in rep["tasks"][0]["hosts"]) <= 3
    _, rep = report("two_at_a_time", "-H", hosts)
    assert max(h["result"] for h in rep["tasks"][0]["hosts"]) <= 2
    _, rep = report("one_by_one", "-H", hosts, "-P")
    assert max(h["result"] for h in rep["tasks"][0]["hosts"]) == 1


def test_parallel_output_is_line_atomic():
    hosts = ["p%d" % i for i in range(8)]
    r = run("chatter:300", "-H", ",".join(hosts), "-P", timeout=120)
    assert r.returncode == 0, r.stderr
    seen = {h: 0 for h in hosts}
    for line in r.stdout.splitlines():
        m = re.match(r"^\[(p\d)\] out: line-(\d+)-of-(p\d)$", line)
        if not line.startswith("[p") or " out: " not in line:
            continue
        assert m, "mixed line: %r" % line
        assert m.group(1) == m.group(3)
        seen[m.group(1)] += 1
    assert all(n == 300 for n in seen.values()), seen


def test_runs_once():
    _, rep = report("once", "-H", "a,b,c", "-P")
    assert [h["result"] for h in rep["tasks"][0]["hosts"]] == [1, 1, 1]


# ---- local() ----------------------------------------------------------------------

def test_local_captures_streams_and_status():
    r, rep = report("-w", "deploy.sh:echo out; echo err >&2; exit 7")
    assert r.returncode == 0, r.stderr
    assert rep["tasks"][0]["hosts"][0]["result"] == {
        "rc": 7, "out": "out", "err": "err"}


def test_local_failure_and_command_without_hosts():
    r = run("deploy.sh:kill -9 $$")
    assert r.returncode == 1
    assert "killed by signal 9" in r.stderr
    r = run("--", "true")
    assert r.returncode == 2 and "no hosts" in r.stderr


def test_local_timeout_kills_the_command(tmp_path):
    marker = tmp_path / "alive"
    r = run("deploy.sh:sleep 30; touch %s,timeout=0.5" % marker)
    assert r.returncode == 1
    assert "timed out after 0.5s" in r.stderr
    time.sleep(0.5)
    assert not marker.exists()


def test_local_contexts_compose(tmp_path):
    r, rep = report("deploy.contexts:%s" % tmp_path)
    assert r.returncode == 0, r.stderr
    assert rep["tasks"][0]["hosts"][0]["result"] == \
        "%s|x y$HOME|2" % tmp_path


def test_ctrl_c_stops_with_130_and_kills_children(tmp_path):
    p = subprocess.Popen([FABC, "-H", "a,b,c", "-P", "deploy.sleep:30"],
                         cwd=BASIC, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        # wait until the three sleeps run
        while time.time() < deadline:
            kids = subprocess.run(["pgrep", "-P", str(p.pid)],
                                  capture_output=True, text=True).stdout
            if len(kids.split()) >= 3:
                break
            time.sleep(0.1)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "Stopped." in err
    leftover = subprocess.run(["pgrep", "-f", "sleep 30"],
                              capture_output=True, text=True).stdout.split()
    mine = [pid for pid in leftover
            if os.path.exists("/proc/%s" % pid) and
            open("/proc/%s/stat" % pid).read().split()[3] == str(p.pid)]
    assert not mine


# ---- config -----------------------------------------------------------------------

def test_config_env_deep_merge_and_set_override():
    r, rep = report("show_config:staging", "--set", "count=5,extra")
    assert r.returncode == 0, r.stderr
    d = rep["tasks"][0]["hosts"][0]["result"]
    assert d["count"] == 5                      # --set, read as YAML
    assert d["flavor"] == "m1.small"            # from the << merge
    assert d["net"] == {"name": "staging-net", "cidr": "10.0.0.0/24"}
    assert d["batch_size"] == 1 and d["extra"] is True


def test_unknown_config_env_lists_valid_ones():
    r = run("show_config:qa")
    assert r.returncode == 1
    assert "unknown env 'qa'" in r.stderr
    assert "production, staging" in r.stderr


def test_set_sets_env_keys():
    r, rep = report("show_env:colour", "--set", "colour=blue")
    assert rep["tasks"][0]["hosts"][0]["result"] == "blue"


# ---- the JSON report ----------------------------------------------------------------

def test_json_report_file(tmp_path):
    out = tmp_path / "r.json"
    r = run("deploy.ship:v3", "fail_on:b", "-H", "a,b", "-P", "--json",
            str(out))
    assert r.returncode == 1
    rep = json.loads(out.read_text())
    assert rep["exit_code"] == 1 and rep["fabc"]
    assert [t["name"] for t in rep["tasks"]] == ["deploy.ship", "fail_on"]
    t0, t1 = rep["tasks"]
    assert t0["status"] == "ok" and t0["args"] == ["v3"]
    assert [h["result"] for h in t0["hosts"]] == ["v3", "v3"]
    bad = [h for h in t1["hosts"] if h["status"] == "failed"][0]
    assert bad["host"] == "b"
    assert bad["error"]["type"] == "TaskError"
    assert all(h["elapsed"] >= 0 for h in t1["hosts"])


# ---- installation -------------------------------------------------------------------

def test_installed_binary_finds_its_python_package(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(FABC)))
    if not os.path.isfile(os.path.join(root, "Makefile")):
        pytest.skip("not run from a build tree")
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "-s", "install", "PREFIX=/opt/fabc",
                        "DESTDIR=%s" % dest], cwd=root,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    installed = dest / "opt" / "fabc" / "bin" / "fabc"
    assert (dest / "opt/fabc/lib/fabc/python/fabc/__init__.py").is_file()
    assert (dest / "opt/fabc/share/man/man1/fabc.1").is_file()
    r = subprocess.run([str(installed), "--shortlist"], cwd=BASIC,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "deploy.ship" in r.stdout
