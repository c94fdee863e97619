"""Fabric 2 peers for the SSH benchmark (Debian's fabric 2.x)."""
import sys
import time

from fabric import Connection, ThreadingGroup


def main():
    mode = sys.argv[1]
    key, port = sys.argv[2], int(sys.argv[3])
    ck = {"key_filename": [key], "allow_agent": False, "look_for_keys": False}
    if mode == "fan":
        hosts = [l.strip() for l in open(sys.argv[4]) if l.strip()]
        hosts = hosts[:int(sys.argv[5])]
        g = ThreadingGroup(*hosts, user="root", port=port,
                           connect_kwargs=ck)
        t = time.time()
        r = g.run(sys.argv[6] if len(sys.argv) > 6 else "true", hide=True)
        print("fab2 fan %d hosts %.3f s ok %d" % (len(hosts),
                                                  time.time() - t, len(r)))
        g.close()
    else:
        host, local, remote, back = sys.argv[4:8]
        c = Connection(host, user="root", port=port, connect_kwargs=ck)
        t = time.time()
        c.put(local, remote)
        tp = time.time() - t
        t = time.time()
        c.get(remote, back)
        tg = time.time() - t
        print("fab2 sftp put %.3f s get %.3f s" % (tp, tg))
        c.close()


if __name__ == "__main__":
    main()
