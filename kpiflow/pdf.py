"""Convert a .docx to PDF with LibreOffice headless: its own profile per call and a timeout."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from kpiflow.errors import KpiflowError


class PdfUnavailable(KpiflowError):
    pass


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(src: Path, outdir: Path, fmt: str = "pdf", timeout: float = 180) -> Path:
    """Convert with LibreOffice into ``outdir``; the result has the source's stem."""
    exe = soffice()
    if exe is None:
        raise PdfUnavailable("LibreOffice (soffice) is not installed, so no PDF was made. Install it "
                             "(Debian: apt-get install libreoffice-writer-nogui) or save as PDF from Word.")
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kpiflow-lo-") as profile:
        cmd = [exe, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore", "--convert-to", fmt,
               "--outdir", str(outdir), str(src)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise KpiflowError(f"LibreOffice did not finish converting {src.name} within {timeout:g} s") from exc
    out = outdir / f"{src.stem}.{fmt.split(':')[0]}"
    if proc.returncode != 0 or not out.exists():
        raise KpiflowError(f"LibreOffice could not convert {src.name}: {(proc.stderr or proc.stdout).strip()[:300]}")
    return out


def to_pdf(src: Path, outdir: Path) -> Path:
    return convert(src, outdir, "pdf")
