"""Heat through fabc against the real lab: lifecycle, PATCH, failing
updates with and without rollback, files map, invalid template,
duplicate name, preview."""
import os


def ok(p):
    assert p.returncode == 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (
        p.returncode, p.stdout, p.stderr)


def test_stack_lifecycle_with_outputs(run_cloud, unique):
    name = unique("life")
    p, res = run_cloud("lifecycle:" + name)
    ok(p)
    created, deleted = res
    assert created["status"] == "CREATE_COMPLETE"
    assert created["outputs"]["tag"] == "v1"
    assert created["outputs"]["node_values"] == ["node-0", "node-1"]
    assert created["outputs"]["marker_value"].startswith("fabc-v1-")
    assert created["same_id"] and created["events"] >= 6
    assert created["resources"] == ["group", "marker", "rand"]
    assert created["parameters"] == "v1"
    assert deleted["after"] is True
    # one progress line per event, with a running count
    assert "[%s]" % name in p.stdout and "CREATE_COMPLETE" in p.stdout
    assert "complete)" in p.stdout


def test_patch_update_keeps_template(run_cloud, unique):
    p, res = run_cloud("patch:" + unique("patch"))
    ok(p)
    r = res[0]
    assert r["status"] == "UPDATE_COMPLETE"
    assert r["first"]["tag"] == "v1" and r["second"]["tag"] == "v2"
    assert r["second"]["marker_value"].startswith("fabc-v2-")
    # the random part survives: same template, only the tag changed
    assert (r["first"]["marker_value"].split("-")[-1]
            == r["second"]["marker_value"].split("-")[-1])
    assert r["count"] == "1"            # parameters not given are kept
    assert "fabc test stack" in r["description"]


def test_failing_update_with_rollback(run_cloud, unique):
    p, res = run_cloud("fail_update:%s,yes" % unique("rb"))
    ok(p)
    r = res[0]
    assert r["status"] == "ROLLBACK_COMPLETE"
    assert r["error"]["type"] == "CloudError"
    assert "marker" in r["error"]["message"]
    assert "Test Resource failed" in r["error"]["message"] or \
        "failed" in r["error"]["message"].lower()
    assert r["tag"] == "v1"


def test_failing_update_without_rollback(run_cloud, unique):
    p, res = run_cloud("fail_update:%s,no" % unique("norb"))
    ok(p)
    r = res[0]
    assert r["status"] == "UPDATE_FAILED"
    assert r["error"]["type"] == "CloudError"
    assert "UPDATE_FAILED" in r["error"]["message"]
    assert "marker" in r["error"]["message"]


def test_get_file_nested_template_and_registry(run_cloud, unique):
    p, res = run_cloud("files:" + unique("files"))
    ok(p)
    out = res[0]["outputs"]
    assert res[0]["status"] == "CREATE_COMPLETE"
    assert out["motd"] == "welcome to the fabc lab\n"
    assert out["child_value"] == "child-from-env"     # parameter_defaults
    assert out["child_file"] == "note beside the nested template\n"
    assert out["mapped_value"] == "child-mapped"      # resource_registry


def test_invalid_template_shows_heat_message(run_cloud, unique):
    name = unique("bad")
    p, res = run_cloud("invalid:" + name)
    ok(p)
    r = res[0]
    for what in ("create", "validate"):
        e = r[what]
        assert e["type"] == "CloudError"
        assert e["status"] == 400
        assert "OS::Fabc::DoesNotExist" in e["message"]
        assert e["method"] == "POST" and ":8004/" in e["url"]
        assert e["request_id"].startswith("req-")
    assert r["exists"] is False


def test_duplicate_name_is_409(run_cloud, unique):
    name = unique("dup")
    p, res = run_cloud("duplicate:" + name)
    ok(p)
    e = res[0]["error"]
    assert e["type"] == "CloudError" and e["status"] == 409
    assert name in e["message"] and "already exists" in e["message"]


def test_preview_changes_nothing(run_cloud, unique):
    p, res = run_cloud("preview:" + unique("prev"))
    ok(p)
    assert res[0]["exists"] is False
    # the ResourceGroup previews as a nested list of its members
    assert res[0]["resources"] == ["marker", "rand"]
    assert res[0]["nested"] == [1]


def test_stack_tasks_dry_run_and_real(run_cloud, unique, cloud_env):
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    name = unique("task")
    p, _ = run_cloud("stack.create:name=%s,tag=v9" % name, "--dry-run",
                     pkg=os.path.join(root, "tasks"))
    ok(p)
    assert "[dry-run] would create stack " + name in p.stdout
    p, _ = run_cloud("stack.show:name=" + name,
                     pkg=os.path.join(root, "tasks"))
    assert p.returncode == 1 and "does not exist" in p.stdout + p.stderr
    p, _ = run_cloud("stack.create:name=%s,tag=v9" % name,
                     pkg=os.path.join(root, "tasks"))
    ok(p)
    assert "tag: v9" in p.stdout
    p, _ = run_cloud("stack.update:name=%s,tag=v10" % name,
                     pkg=os.path.join(root, "tasks"))
    ok(p)
    assert "tag: v10" in p.stdout and "UPDATE_COMPLETE" in p.stdout
    p, _ = run_cloud("stack.delete:name=" + name,
                     pkg=os.path.join(root, "tasks"))
    ok(p)
    assert "stack %s deleted" % name in p.stdout


def test_ctrl_c_interrupts_a_wait(cloud_env, unique):
    """SIGINT during a stack wait stops fabc at once with exit 130."""
    import signal
    import subprocess
    import time
    from conftest import fabc_cmd
    from fixtures_cloud import CLOUD_PKG
    name = unique("intr")
    proc = subprocess.Popen(fabc_cmd("-f", CLOUD_PKG,
                                     "slow_create:%s,120" % name),
                            env=cloud_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "CREATE_IN_PROGRESS" in line or not line:
                break
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        subprocess.run(fabc_cmd("-f", CLOUD_PKG, "cleanup:" + name),
                       env=cloud_env, capture_output=True, timeout=180)
    assert proc.returncode == 130
    assert elapsed < 2, elapsed
