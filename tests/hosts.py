"""Simulated hosts on one machine (DESIGN §8): each runs as its own Unix user, with its own data
and temp folder (mode 0700, so no host can read another's files) and its own loopback address.

The processes need the Python installation, the virtual environment and the checkout, which
may lie below a folder other users cannot enter (root's home, mode 0700). Each host process
therefore starts in a private mount namespace (no network namespace: DESIGN §8 allows those only
with every process inside) in which each such folder is covered by an empty tmpfs that holds
nothing but bind mounts of the paths on the way to what the processes need. Nothing changes
outside that namespace."""

import os
import pwd
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.stack import ROOT

NEEDED = [
    Path(sys.base_prefix).resolve(),
    Path(sys.prefix).resolve(),
    ROOT.resolve(),
    Path(os.path.realpath(sys.executable)).parent,
]
"""What a host's Python processes read: the interpreter with its standard library, the
virtual environment, the checkout (installed editable into it)."""


def can_make_hosts() -> str | None:
    """Why simulated hosts cannot be made here, or None."""
    if os.geteuid() != 0:
        return "simulated hosts need root (to add Unix users and mount namespaces); .ci/run runs as root"
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        return f"no mount namespaces here: {probe.stderr.decode().strip()}"
    closed = [str(path) for path in NEEDED if os.stat(path).st_mode & 0o005 != 0o005]
    if closed:
        return f"other users may not read {', '.join(closed)} themselves (only folders above them can be opened up)"
    return None


def ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name)


def private_folder(parent: Path, name: str, owner: pwd.struct_passwd) -> Path:
    """`parent/name`, mode 0700, owned by `owner`."""
    folder = parent / name
    folder.mkdir(mode=0o700)
    os.chown(folder, owner.pw_uid, owner.pw_gid)
    (folder / "tmp").mkdir(mode=0o700)
    os.chown(folder / "tmp", owner.pw_uid, owner.pw_gid)
    return folder


def hosts_root() -> Path:
    """A folder every host user may enter (pytest's own tmp folders are root's, mode 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="slidereel-hosts-", dir="/tmp"))
    folder.chmod(0o755)
    return folder


def launcher(user: pwd.struct_passwd, home: Path) -> list[str]:
    """The command prefix that runs a process as `user`, at home in `home`, able to reach NEEDED."""
    script = ["set -e", "stash=$(mktemp -d)"]
    for index, (blocked, children) in enumerate(_blocked_ancestors().items()):
        script.append(f'mkdir "$stash/{index}" && mount --bind {shlex.quote(str(blocked))} "$stash/{index}"')
        script.append(f"mount -t tmpfs -o mode=0755 tmpfs {shlex.quote(str(blocked))}")
        for child in sorted(children):
            inside = shlex.quote(str(blocked / child))
            script.append(f'mkdir -p {inside} && mount --bind "$stash/{index}/{child}" {inside}')
    script.append(
        f"exec env HOME={shlex.quote(str(home))} TMPDIR={shlex.quote(str(home / 'tmp'))} "
        f'setpriv --reuid={user.pw_uid} --regid={user.pw_gid} --clear-groups -- "$@"'
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(script), "host"]


def _blocked_ancestors() -> dict[Path, set[str]]:
    """Folders on the way to NEEDED that others may not enter, each with the names inside it on
    that way; outermost first, so an inner one is covered after the outer one was."""
    blocked: dict[Path, set[str]] = {}
    for path in NEEDED:
        parts = path.parts
        for depth in range(1, len(parts)):
            ancestor = Path(*parts[:depth])
            if not os.stat(ancestor).st_mode & 0o001:
                blocked.setdefault(ancestor, set()).add(parts[depth])
    return dict(sorted(blocked.items(), key=lambda item: len(item[0].parts)))
