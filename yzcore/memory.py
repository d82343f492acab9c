"""A process's resident memory, as the system reports it."""

from __future__ import annotations


def resident_mb(pid: int | str = "self") -> float:
    """Resident memory (VmRSS) of process ``pid`` (this one by default) in MiB; 0 when it is gone or the
    system does not tell (no /proc)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
