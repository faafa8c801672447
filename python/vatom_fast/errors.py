"""The error a dataset directory that cannot be used raises, shared by every module that reads one."""

from __future__ import annotations

from typing import List


class DatasetError(ValueError):
    """The directory is not a complete, consistent vatom-fast format-1 dataset.

    ``problems`` lists every problem found (the message lists them too).
    """

    def __init__(self, root: str, problems: List[str]):
        self.root = root
        self.problems = list(problems)
        if len(self.problems) == 1:
            msg = f"invalid vatom-fast dataset at {root}: {self.problems[0]}"
        else:
            msg = f"invalid vatom-fast dataset at {root}:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(msg)
