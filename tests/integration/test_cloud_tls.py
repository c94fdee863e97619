"""TLS through fabc against the real lab: Keystone's https listener
(127.0.0.1:5001) and its mutual-TLS one (5002, a client certificate from
the lab CA required), both made by tests/lab/openstack-start.sh with a
private CA in tests/lab/run/openstack/etc/tls/. Covers clouds.yaml cacert,
verify/insecure, cert/key, the OS_CACERT/OS_INSECURE/OS_CERT/OS_KEY
variables, the errors of each failure, and fabc.http's cacert/cert/key.
A last test serves a certificate for another name from OpenSSL's own
test server (openssl s_server) to check host name verification."""
import os
import socket
import subprocess
import time
import types

import pytest
import yaml

from fixtures_cloud import LAB, port_open

TLS_URL = "https://127.0.0.1:5001/v3"
MTLS_URL = "https://127.0.0.1:5002/v3"
DEMO_PASS = "DemoPass1"


@pytest.fixture(scope="session")
def tls_lab(cloud_lab):
    """The lab's TLS files; starts the lab again (it is idempotent) when
    it runs without its TLS listeners (started before they existed)."""
    d = os.path.join(cloud_lab.state, "etc", "tls")
    files = {n: os.path.join(d, n + ".pem")
             for n in ("ca", "client", "client-key")}
    if not (all(os.path.exists(f) for f in files.values())
            and port_open(5001) and port_open(5002)):
        if os.geteuid() != 0:
            pytest.skip("the lab runs without TLS listeners and restarting "
                        "it needs root (make lab)")
        subprocess.run(["sh", os.path.join(LAB, "openstack-start.sh")],
                       check=True, timeout=900)
    with open(cloud_lab.clouds_yaml) as f:
        clouds = yaml.safe_load(f)["clouds"]
    return types.SimpleNamespace(ca=files["ca"], cert=files["client"],
                                 key=files["client-key"], clouds=clouds,
                                 clouds_yaml=cloud_lab.clouds_yaml)


def no_os(cloud_lab, **env):
    """Environment overrides: no OS_* credentials, plus env."""
    e = {k: "" for k in cloud_lab.env}
    e.update(env)
    return e


def clouds_file(tmp_path, name, cloud):
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {name: cloud}}))
    return str(path)


def variant(tls_lab, base, drop=(), **extra):
    """A copy of a lab cloud without the keys in drop, with extra keys."""
    c = {k: v for k, v in tls_lab.clouds[base].items() if k not in drop}
    c.update(extra)
    return c


def run_connect(run_cloud, cloud_lab, tmp_path, cloud, *options):
    """tls.connect with only clouds.yaml cloud `cloud` (a dict) as 'c'."""
    env = no_os(cloud_lab, OS_CLIENT_CONFIG_FILE=clouds_file(tmp_path, "c",
                                                             cloud))
    return run_cloud("tls.connect:c", *options, env=env)


def ok(p):
    assert p.returncode == 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (
        p.returncode, p.stdout, p.stderr)


def assert_connected(p, res):
    ok(p)
    assert len(res) == 1, res
    r = res[0]
    assert r["project"] == "demo"
    # Heat and Glance answered with the token got over TLS (their
    # catalog endpoints are plain http)
    assert r["heat_endpoint"].startswith("http://127.0.0.1:8004/v1/")
    assert r["stack_missing"] is True
    assert r["template_parameters"] == ["fail", "instance_count", "tag",
                                        "wait_secs"]
    assert isinstance(r["images"], list)
    return r


def failed(p, res):
    """The error of a task that failed (exit 1), and all its output."""
    out = p.stdout + p.stderr
    assert p.returncode == 1, "exit %d\n%s" % (p.returncode, out)
    assert len(res) == 1 and "error" in res[0], out
    return res[0]["error"], out


# ------------------------------------------------------------ Keystone TLS

def test_lab_cloud_with_cacert(run_cloud, cloud_lab, tls_lab, tmp_path):
    env = no_os(cloud_lab, OS_CLIENT_CONFIG_FILE=tls_lab.clouds_yaml)
    p, res = run_cloud("tls.connect:fabc-lab-tls", "--debug", env=env)
    r = assert_connected(p, res)
    assert r["source"].endswith("(cloud 'fabc-lab-tls')")
    assert tls_lab.clouds["fabc-lab-tls"]["cacert"] == tls_lab.ca
    out = p.stdout + p.stderr
    assert "keystone REQ POST %s/auth/tokens" % TLS_URL in out
    assert "RESP 201 POST %s/auth/tokens" % TLS_URL in out
    assert DEMO_PASS not in out


def test_without_cacert_is_a_tls_failure(run_cloud, cloud_lab, tls_lab,
                                         tmp_path):
    p, res = run_connect(run_cloud, cloud_lab, tmp_path,
                         variant(tls_lab, "fabc-lab-tls", drop=("cacert",)))
    e, out = failed(p, res)
    assert e["type"] == "ConnectionError"
    assert "ConnectionError" in e["bases"] and "Error" in e["bases"]
    assert e["url"] == TLS_URL + "/auth/tokens" and e["method"] == "POST"
    assert e["message"] == (
        "keystone POST %s/auth/tokens: TLS failure: SSL certificate "
        "problem: unable to get local issuer certificate (no cacert given: "
        "the system's CA certificates were used)" % TLS_URL)
    assert "unable to get local issuer certificate" in p.stderr
    assert DEMO_PASS not in out


@pytest.mark.parametrize("setting", [{"verify": False}, {"insecure": True},
                                     {"verify": "no"}])
def test_verify_false_or_insecure_needs_no_cacert(run_cloud, cloud_lab,
                                                  tls_lab, tmp_path,
                                                  setting):
    p, res = run_connect(run_cloud, cloud_lab, tmp_path,
                         variant(tls_lab, "fabc-lab-tls", drop=("cacert",),
                                 **setting))
    assert_connected(p, res)


def test_os_variables_cacert_and_insecure(run_cloud, cloud_lab, tls_lab,
                                          tmp_path):
    base = dict(OS_AUTH_URL=TLS_URL, OS_CLOUD="")
    p, res = run_cloud("tls.connect", env=dict(base, OS_CACERT=tls_lab.ca))
    r = assert_connected(p, res)
    assert r["source"] == "OS_* environment variables"
    p, res = run_cloud("tls.connect", env=dict(base, OS_INSECURE="true"))
    assert_connected(p, res)
    # and neither: the system's CAs do not know the lab CA
    p, res = run_cloud("tls.connect", env=base)
    e, out = failed(p, res)
    assert "TLS failure: SSL certificate problem: unable to get local " \
           "issuer certificate" in e["message"]
    assert DEMO_PASS not in out


def test_cacert_that_does_not_exist(run_cloud, cloud_lab, tls_lab,
                                    tmp_path):
    missing = str(tmp_path / "no-such-dir" / "ca.pem")
    p, res = run_connect(run_cloud, cloud_lab, tmp_path,
                         variant(tls_lab, "fabc-lab-tls", cacert=missing))
    e, out = failed(p, res)
    assert e["type"] == "ConnectionError"
    assert e["message"] == (
        "keystone POST %s/auth/tokens: TLS failure: error setting "
        "certificate file: %s; cacert %s: No such file or directory"
        % (TLS_URL, missing, missing))
    assert DEMO_PASS not in out


# ------------------------------------------------------------ mutual TLS

def test_mutual_tls_with_client_certificate(run_cloud, cloud_lab, tls_lab,
                                            tmp_path):
    c = tls_lab.clouds["fabc-lab-mtls"]
    assert (c["cert"], c["key"]) == (tls_lab.cert, tls_lab.key)
    env = no_os(cloud_lab, OS_CLIENT_CONFIG_FILE=tls_lab.clouds_yaml)
    p, res = run_cloud("tls.connect:fabc-lab-mtls", env=env)
    r = assert_connected(p, res)
    assert r["source"].endswith("(cloud 'fabc-lab-mtls')")


def test_mutual_tls_from_os_cert_and_key(run_cloud, tls_lab, tmp_path):
    p, res = run_cloud("tls.connect", env=dict(
        OS_AUTH_URL=MTLS_URL, OS_CACERT=tls_lab.ca, OS_CERT=tls_lab.cert,
        OS_KEY=tls_lab.key, OS_CLOUD=""))
    assert_connected(p, res)


def test_mutual_tls_without_client_certificate(run_cloud, cloud_lab,
                                               tls_lab, tmp_path):
    p, res = run_connect(run_cloud, cloud_lab, tmp_path,
                         variant(tls_lab, "fabc-lab-mtls",
                                 drop=("cert", "key")))
    e, out = failed(p, res)
    assert e["type"] == "ConnectionError"
    assert e["message"].startswith(
        "keystone POST %s/auth/tokens: TLS failure: " % MTLS_URL)
    # curl's words depend on whether the server's alert or its closed
    # socket is seen first (TLS 1.3 checks the client certificate after
    # the handshake); fabc's explanation does not
    assert e["message"].endswith(
        " (the server asked for a client certificate and none was given: "
        "cert and key)"), e["message"]
    assert DEMO_PASS not in out


def test_mutual_tls_with_a_certificate_from_another_ca(
        run_cloud, cloud_lab, tls_lab, tmp_path, other_ca):
    cert, key = other_ca.issue("stranger", "DNS:stranger.example")
    p, res = run_connect(run_cloud, cloud_lab, tmp_path,
                         variant(tls_lab, "fabc-lab-mtls", cert=cert,
                                 key=key))
    e, out = failed(p, res)
    assert e["type"] == "ConnectionError"
    assert "TLS failure: " in e["message"]
    assert e["message"].endswith(
        " (the server asked for a client certificate and ended the session "
        "after the handshake: was cert %s refused?)" % cert), e["message"]


def test_client_key_file_missing_or_alone(run_cloud, cloud_lab, tls_lab,
                                          tmp_path):
    missing = str(tmp_path / "nokey.pem")
    p, res = run_connect(run_cloud, cloud_lab, tmp_path,
                         variant(tls_lab, "fabc-lab-mtls", key=missing))
    e, _ = failed(p, res)
    assert e["message"] == (
        "keystone POST %s/auth/tokens: TLS failure: unable to set private "
        "key file: '%s' type PEM; key %s: No such file or directory"
        % (MTLS_URL, missing, missing))
    p, res = run_connect(run_cloud, cloud_lab, tmp_path,
                         variant(tls_lab, "fabc-lab-mtls", drop=("cert",)))
    e, _ = failed(p, res)
    assert e["type"] == "ConfigError"
    assert e["message"] == ("keystone: a client key (key %s) needs a client "
                            "certificate (cert)" % tls_lab.key)


# ------------------------------------------------------------ fabc.http

def test_http_get_cacert(run_cloud, tls_lab):
    p, res = run_cloud("tls.http_get:%s,cacert=%s" % (TLS_URL, tls_lab.ca))
    ok(p)
    assert res == [{"status": 200, "version": "v3.14"}]
    # os.PathLike works too
    p, res = run_cloud("tls.http_get:%s,cacert=%s,path_type=path"
                       % (TLS_URL, tls_lab.ca))
    ok(p)
    assert res == [{"status": 200, "version": "v3.14"}]


def test_http_get_without_cacert_and_insecure(run_cloud, tls_lab):
    p, res = run_cloud("tls.http_get:%s" % TLS_URL)
    e, _ = failed(p, res)
    assert e["type"] == "ConnectionError" and e["url"] == TLS_URL
    assert e["message"] == (
        "http GET %s: TLS failure: SSL certificate problem: unable to get "
        "local issuer certificate (no cacert given: the system's CA "
        "certificates were used)" % TLS_URL)
    p, res = run_cloud("tls.http_get:%s,insecure=yes" % TLS_URL)
    ok(p)
    assert res == [{"status": 200, "version": "v3.14"}]


def test_http_get_mutual_tls(run_cloud, tls_lab):
    p, res = run_cloud("tls.http_get:%s,cacert=%s,cert=%s,key=%s"
                       % (MTLS_URL, tls_lab.ca, tls_lab.cert, tls_lab.key))
    ok(p)
    assert res == [{"status": 200, "version": "v3.14"}]
    p, res = run_cloud("tls.http_get:%s,cacert=%s" % (MTLS_URL, tls_lab.ca))
    e, _ = failed(p, res)
    assert e["message"].startswith("http GET %s: TLS failure: " % MTLS_URL)
    assert "asked for a client certificate and none was given" \
        in e["message"]


def test_http_check_many_cacert(run_cloud, tls_lab):
    urls = [TLS_URL, "https://localhost:5001/v3", MTLS_URL]
    p, res = run_cloud("tls.http_many:%s,cacert=%s"
                       % (";".join(urls), tls_lab.ca))
    ok(p)
    got = res[0]["results"]
    assert got[TLS_URL] == {"status": 200}
    # the lab's certificate names localhost too
    assert got["https://localhost:5001/v3"] == {"status": 200}
    assert got[MTLS_URL]["type"] == "ConnectionError"
    assert "none was given" in got[MTLS_URL]["message"]
    # with the client certificate every url answers
    p, res = run_cloud("tls.http_many:%s,cacert=%s,cert=%s,key=%s"
                       % (";".join(urls), tls_lab.ca, tls_lab.cert,
                          tls_lab.key))
    ok(p)
    assert res[0]["results"] == {u: {"status": 200} for u in urls}
    # without a cacert none verifies
    p, res = run_cloud("tls.http_many:%s" % ";".join(urls[:2]))
    ok(p)
    for u in urls[:2]:
        assert "unable to get local issuer certificate" in \
            res[0]["results"][u]["message"]


def test_http_tls_argument_errors(run_cloud, tls_lab):
    p, res = run_cloud("tls.http_bad_args:%s,%s" % (TLS_URL, tls_lab.ca))
    ok(p)
    r = res[0]
    assert r["int_cacert"]["type"] == "TypeError"
    assert r["int_cacert"]["message"] == (
        "http_check_many: cacert must be str, bytes or os.PathLike, not int")
    assert r["many_int_cert"]["message"] == (
        "http_check_many: cert must be str, bytes or os.PathLike, not float")
    assert r["key_without_cert"]["type"] == "ValueError"
    assert r["key_without_cert"]["message"] == (
        "http: a client key (key %s) needs a client certificate (cert)"
        % tls_lab.ca)
    assert r["empty_cacert"]["type"] == "ValueError"


# ------------------------------------------------------------ host names

class OtherCA:
    """A throw-away CA of the test's own (openssl), to issue certificates
    the lab CA did not sign or that name other hosts."""

    def __init__(self, d):
        self.d = d
        self.ca = str(d / "other-ca.pem")
        self.ca_key = str(d / "other-ca-key.pem")
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                      self.ca_key, "-out", self.ca, "-days", "2", "-subj",
                      "/CN=fabc test CA")

    @staticmethod
    def _openssl(*args):
        subprocess.run(("openssl",) + args, check=True,
                       capture_output=True, timeout=60)

    def issue(self, name, san):
        cert, key = str(self.d / (name + ".pem")), \
            str(self.d / (name + "-key.pem"))
        csr, ext = str(self.d / (name + ".csr")), \
            str(self.d / (name + ".ext"))
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\n" % san)
        self._openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                      key, "-out", csr, "-subj", "/CN=" + name)
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey",
                      self.ca_key, "-set_serial", "7", "-days", "2",
                      "-extfile", ext, "-out", cert)
        return cert, key


@pytest.fixture
def other_ca(tmp_path):
    return OtherCA(tmp_path)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def localhost_only_server(other_ca):
    """openssl s_server -www on 127.0.0.1 with a certificate that names
    only localhost (not the address 127.0.0.1)."""
    cert, key = other_ca.issue("localhost-only", "DNS:localhost")
    port = _free_port()
    srv = subprocess.Popen(["openssl", "s_server", "-quiet", "-www",
                            "-accept", "127.0.0.1:%d" % port, "-cert", cert,
                            "-key", key], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if port_open(port) or srv.poll() is not None:
                break
            time.sleep(0.05)
        assert port_open(port), "openssl s_server did not start"
        yield types.SimpleNamespace(port=port, ca=other_ca.ca)
    finally:
        srv.terminate()
        srv.wait(timeout=10)


def test_certificate_for_another_host_name(run_cloud, localhost_only_server):
    s = localhost_only_server
    good = "https://localhost:%d/" % s.port
    bad = "https://127.0.0.1:%d/" % s.port
    p, res = run_cloud("tls.http_get:%s,cacert=%s" % (good, s.ca))
    ok(p)
    assert res == [{"status": 200, "version": "s_server"}]
    p, res = run_cloud("tls.http_get:%s,cacert=%s" % (bad, s.ca))
    e, _ = failed(p, res)
    assert e["type"] == "ConnectionError"
    # curl's words; no cacert hint, the issuer is known
    assert e["message"] == (
        "http GET %s: TLS failure: SSL: no alternative certificate subject "
        "name matches target host name '127.0.0.1'" % bad)
    p, res = run_cloud("tls.http_get:%s,insecure=yes" % bad)
    ok(p)
