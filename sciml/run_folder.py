"""The output folder of a run: checked before training, never overwritten by accident.

A finished run is one whose ``metrics.json`` exists (it is written last); an unfinished one
has only a checkpoint. Starting a run into a folder that holds either is refused unless the
caller asks to overwrite (then sciml's own files there are removed first, so a stale
``metrics.json`` can never make a new, interrupted run look finished); resuming needs a
checkpoint. The folder is probed for writing before any training, so a read-only or misspelt
``--out`` fails in a second, not after an hour of work.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

CHECKPOINT = "checkpoint.msgpack"
FINISHED_MARKER = "metrics.json"
# Everything sciml writes into a run folder (removed on overwrite; nothing else is touched).
OUTPUTS = (FINISHED_MARKER, "solution.nc", "history.nc", "plot.png", "law.json", "report.html",
           CHECKPOINT, CHECKPOINT + ".tmp")


class RunFolderError(ValueError):
    """The output folder cannot be used as asked; the message names it and the way out."""


class RunFolder:
    """An output folder (``--out``) and the state of the run it holds."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def finished(self) -> bool:
        return (self.path / FINISHED_MARKER).is_file()

    @property
    def started(self) -> bool:
        return self.checkpoint.is_file() or self.finished

    def prepare(self, *, resume: bool = False, overwrite: bool = False) -> None:
        """Check the folder for the run about to start, and create it.

        Args:
            resume: the run continues from the folder's checkpoint (which must exist).
            overwrite: a finished or unfinished run already there may be replaced.

        Raises:
            RunFolderError: the path is a file, cannot be written, holds a run that would be
                overwritten, or has nothing to resume.
        """
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(f"output folder {self.path} is a file; choose another --out")
        if resume and not self.checkpoint.is_file():  # refused before anything is created
            raise RunFolderError(f"nothing to resume in {self.path}: it has no {CHECKPOINT}; "
                                 "run without --resume to start afresh")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.path, prefix=".write-test-"):
                pass
        except OSError as err:
            raise RunFolderError(f"cannot write to the output folder {self.path} ({err.strerror or err}); "
                                 "choose another --out") from None
        if resume:
            return
        if self.started and not overwrite:
            what = "a finished run (metrics.json)" if self.finished else f"an unfinished run ({CHECKPOINT})"
            hint = "" if self.finished else " --resume to continue it,"
            raise RunFolderError(f"{self.path} already holds {what}; choose another --out,{hint} "
                                 "or pass --overwrite to replace it")
        if overwrite:
            for name in OUTPUTS:
                try:
                    os.remove(self.path / name)
                except FileNotFoundError:
                    pass
