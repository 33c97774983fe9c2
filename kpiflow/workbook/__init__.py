"""Everything that touches openpyxl: reading (read.py), issuing (build.py), feedback (annotate.py)."""
