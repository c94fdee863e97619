"""Result of a command: a str (stdout without the trailing newline) that
also carries stderr, the exit status and where it ran."""


class Result(str):
    """What run(), sudo() and local() return.

    ``Result`` is the command's stdout as a ``str`` (one trailing newline
    stripped, as Fabric does) with attributes ``stdout``, ``stderr``,
    ``return_code``, ``failed``, ``succeeded``, ``host``, ``command``,
    ``real_command`` and ``elapsed`` (seconds).
    """

    def __new__(cls, stdout="", *, stderr="", return_code=0, command="",
                real_command="", host=None, elapsed=0.0, signal=None,
                ok_codes=(0,)):
        if stdout.endswith("\n"):
            stdout = stdout[:-1]
        if stdout.endswith("\r"):
            stdout = stdout[:-1]
        self = super().__new__(cls, stdout)
        self.stdout = str(stdout)
        if stderr.endswith("\n"):
            stderr = stderr[:-1]
        self.stderr = stderr
        self.return_code = return_code
        self.command = command
        self.real_command = real_command or command
        self.host = host
        self.elapsed = elapsed
        self.signal = signal
        self.failed = return_code not in ok_codes
        self.succeeded = not self.failed
        return self

    def __repr__(self):
        return "<Result %r rc=%r host=%r>" % (str(self), self.return_code,
                                              self.host)
