"""The Python side of test/fuzz-manifest.test.ts: opens each dataset directory named on stdin (one a
line) with the loader and reads every image and label, without and with verify_checksums, printing
one line per directory with one word per mode (spaces inside a word become ":" or "_"):

    OK:<sha256 of all images>:<sha256 of all labels>
    REFUSED_<exception type>:_<message, first line>
    CRASH_<exception type>:_<message, first line>     (anything but a ValueError: a failure)
    HUNG                                              (more than the time bound)

One process for all directories (starting Python and torch costs seconds); a crash of the process
itself (SIGBUS) shows as missing lines.
"""

from __future__ import annotations

import hashlib
import signal
import sys

sys.path.insert(0, sys.argv[1])

from vatom_fast import VisualAtomDataset  # noqa: E402


class Hung(Exception):
    pass


def _alarm(signum, frame):
    raise Hung()


def main() -> None:
    signal.signal(signal.SIGALRM, _alarm)
    bound = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    for line in sys.stdin:
        root = line.rstrip("\n")
        if not root:
            continue
        print(" ".join(_load(root, bound, verify) for verify in (False, True)), flush=True)


def _load(root: str, bound: int, verify: bool) -> str:
    signal.alarm(bound)
    try:
        ds = VisualAtomDataset(root, output="numpy", channels=1, verify_checksums=verify)
        images, labels = hashlib.sha256(), hashlib.sha256()
        for i in range(len(ds)):
            img, label = ds.read(i)
            images.update(img.tobytes())
            labels.update(int(label).to_bytes(4, "little", signed=True))
        return f"OK:{images.hexdigest()}:{labels.hexdigest()}"
    except Hung:
        return "HUNG"
    except ValueError as e:
        return f"REFUSED_{type(e).__name__}:_{_first_line(e)}"
    except BaseException as e:  # noqa: BLE001 - the point is to report anything else
        return f"CRASH_{type(e).__name__}:_{_first_line(e)}"
    finally:
        signal.alarm(0)


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [""])[0].replace(" ", "_")


if __name__ == "__main__":
    main()
