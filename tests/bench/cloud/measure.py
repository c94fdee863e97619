"""measure.py CMD... — run CMD, print "wall cpu rc" (seconds, the child's
user+system CPU) on the last line of stdout; CMD's own output goes to
stderr. Used by tests/bench/cloud/run.sh."""
import resource
import subprocess
import sys
import time

t0 = time.monotonic()
rc = subprocess.call(sys.argv[1:], stdout=sys.stderr, stderr=sys.stderr)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.3f %.3f %d" % (wall, ru.ru_utime + ru.ru_stime, rc))
