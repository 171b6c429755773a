"""Recalculate workbooks in LibreOffice headless and read back the computed values.

LibreOffice does not recalculate on load by default; a private profile with
``OOXMLRecalcMode = 0`` (the ``Formula/Load`` settings below) forces a full recalculation.
soffice exits 0 even when it could not load a file, so the output's existence is checked.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from finmodel.errors import ExportError

_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
 <prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
 <prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def soffice() -> str | None:
    """Path of the LibreOffice binary, or None when it is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def recalculate(files: Sequence[Path], outdir: Path, timeout: float = 300) -> list[Path]:
    """Recalculate ``files`` with LibreOffice into ``outdir``; return the recalculated copies."""
    exe = soffice()
    if exe is None:
        raise ExportError("LibreOffice (soffice) is not installed")
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="finmodel-lo-") as profile:
        user = Path(profile) / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(_XCU, encoding="utf-8")
        cmd = [
            exe,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(outdir),
            *map(str, files),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    out = [outdir / Path(f).name for f in files]
    missing = [p for p in out if not p.is_file()]
    if missing:
        raise ExportError(
            f"LibreOffice did not produce {', '.join(map(str, missing))}: "
            f"{proc.stderr.strip() or proc.stdout.strip()}"
        )
    return out
