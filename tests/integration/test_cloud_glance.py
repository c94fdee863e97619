"""Glance and HTTP checks through fabc against the real lab."""
import os


def ok(p):
    assert p.returncode == 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (
        p.returncode, p.stdout, p.stderr)


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TASKS = os.path.join(ROOT, "tasks")


def test_upload_tag_list_delete(run_cloud, unique, tmp_path):
    data = tmp_path / "img.raw"
    data.write_bytes(os.urandom(300 * 1024))
    tag = unique("img")
    p, res = run_cloud("glance_flow:%s,%s" % (tag, data))
    ok(p)
    r = res[0]
    assert r["status"] == "active"
    assert r["size"] == r["size_file"] == 300 * 1024
    assert r["tags"] == sorted([tag, "fabc-it"])
    assert r["props"] == "42"
    assert r["by_tag"] == [r["id"]] and r["both"] == [r["id"]]
    assert r["by_prop"] == [r["id"]] and r["no_prop"] == []
    assert r["after_remove"] == []
    assert r["gone"] is True
    e = r["second_delete"]
    assert e["type"] == "CloudError" and e["status"] == 404
    assert r["id"] in e["message"] and "not found" in e["message"]


def test_protected_image_delete_is_403(run_cloud, unique, tmp_path):
    data = tmp_path / "img.raw"
    data.write_bytes(b"p" * 1024)
    tag = unique("prot")
    try:
        p, res = run_cloud("protected:%s,%s" % (tag, data))
        ok(p)
        r = res[0]
        assert r["protected"] is True and r["stage"] == "tested"
        e = r["error"]
        assert e["type"] == "CloudError" and e["status"] == 403
        assert "protected" in e["message"]
        assert e["method"] == "DELETE" and ":9292/v2/images/" in e["url"]
        assert r["still"] is True and r["gone"] is True
    finally:
        run_cloud("delete_images:" + tag)


def test_delete_by_tag_leaves_other_images(run_cloud, unique, tmp_path):
    data = tmp_path / "img.raw"
    data.write_bytes(b"x" * 1024)
    old, keep = unique("old"), unique("keep")
    p, res = run_cloud("make_images:%s,2,%s" % (old, data))
    ok(p)
    doomed = res[0]["ids"]
    p, res = run_cloud("make_images:%s,1,%s" % (keep, data))
    ok(p)
    kept = res[0]["ids"]
    try:
        # dry run: says, deletes nothing
        p, _ = run_cloud("images.delete:" + old, "--dry-run", pkg=TASKS)
        ok(p)
        for i in doomed:
            assert "[dry-run] would delete " + i in p.stdout
        p, res = run_cloud("list_images:" + old)
        assert sorted(res[0]["ids"]) == sorted(doomed)
        # for real: exactly the tagged images go, and it says which
        p, _ = run_cloud("images.delete:" + old, pkg=TASKS)
        ok(p)
        for i in doomed:
            assert "deleted " + i in p.stdout
        assert "2 images deleted" in p.stdout
        assert kept[0] not in p.stdout
        p, res = run_cloud("list_images:" + old)
        assert res[0]["ids"] == []
        p, res = run_cloud("list_images:" + keep)
        assert res[0]["ids"] == kept
        # images.list shows the kept one
        p, _ = run_cloud("images.list:tag=" + keep, pkg=TASKS)
        ok(p)
        assert kept[0] in p.stdout and "1 image" in p.stdout
    finally:
        run_cloud("delete_images:" + old)
        run_cloud("delete_images:" + keep)


def test_pagination_over_more_images_than_one_page(run_cloud, unique,
                                                   tmp_path):
    data = tmp_path / "img.raw"
    data.write_bytes(b"y" * 512)
    tag = unique("page")
    p, res = run_cloud("make_images:%s,7,%s" % (tag, data))
    ok(p)
    made = res[0]["ids"]
    try:
        p, res = run_cloud("list_images:%s,2" % tag, "--debug")
        ok(p)
        assert sorted(res[0]["ids"]) == sorted(made)
        gets = [l for l in (p.stdout + p.stderr).splitlines()
                if "glance REQ GET" in l and "/v2/images?" in l]
        assert len(gets) >= 4, gets          # 7 images, 2 per page
        assert any("marker=" in l for l in gets)
    finally:
        run_cloud("delete_images:" + tag)


def test_images_upload_task_dry_run_and_real(run_cloud, unique, tmp_path):
    data = tmp_path / "app.raw"
    data.write_bytes(b"z" * 2048)
    tag = unique("up")
    try:
        p, _ = run_cloud("images.upload:%s,name=%s,tags=%s;extra,"
                         "disk_format=raw" % (data, tag, tag), "--dry-run",
                         pkg=TASKS)
        ok(p)
        assert "[dry-run] would upload" in p.stdout
        p, res = run_cloud("list_images:" + tag)
        assert res[0]["ids"] == []
        p, _ = run_cloud("images.upload:%s,name=%s,tags=%s;extra,"
                         "disk_format=raw" % (data, tag, tag), pkg=TASKS)
        ok(p)
        assert "uploaded " in p.stdout and "active" in p.stdout
        p, res = run_cloud("list_images:" + tag)
        assert len(res[0]["ids"]) == 1
    finally:
        run_cloud("delete_images:" + tag)


def test_http_get_and_check_many(run_cloud):
    good = "http://127.0.0.1:5000/v3"
    refused = "http://127.0.0.1:9/"
    p, res = run_cloud("http_checks:%s,%s" % (good, refused))
    ok(p)
    r = res[0]
    assert r["single"] == 200 and r["json_ok"] is True
    assert r["many"][good] == {"status": 200}
    nope = r["many"][good + "/nope"]
    assert nope["type"] == "CloudError" and nope["status"] == 404
    assert "expected 200" in nope["message"]
    assert r["many"][refused]["type"] == "ConnectionError"


def test_chosen_image_id_taken_is_409(run_cloud, unique, tmp_path):
    data = tmp_path / "img.raw"
    data.write_bytes(b"d" * 2048)
    tag = unique("dup")
    try:
        p, res = run_cloud("duplicate_id:%s,%s" % (tag, data))
        ok(p)
        r = res[0]
        assert r["id"] == r["wanted"] and r["status"] == "active"
        # the refused create left no second image behind
        assert r["same"] == [r["id"]] and r["left"] == []
        for case in ("live", "deleted"):
            e = r[case]
            assert e["type"] == "CloudError" and e["status"] == 409, e
            assert e["method"] == "POST" and e["url"].endswith("/v2/images")
            assert r["wanted"] in e["message"] and "taken" in e["message"]
            # Glance's own words and its request id are kept
            assert "already exists" in e["message"], e
            assert e["request_id"] and e["request_id"].startswith("req-")
    finally:
        run_cloud("delete_images:" + tag)
