"""Department for Education files in the Explore Education Statistics layout, built for the tests.

They have what the Department's published files have: a UTF-8 byte-order mark, columns in their
own order, National / Regional / Local authority rows, quoted names with commas ("Kingston upon
Hull, City of"), rates rounded to whole numbers, suppressed cells (c, x, z, .., low), two measures
told apart by ``population_type``, several years; and the statistical neighbour list with a
closeness column beside each neighbour and codes with trailing spaces. The figures are made up,
chosen so that each year's mean is easy to check by hand.
"""

from __future__ import annotations

import csv
from pathlib import Path

LAC = "Children looked after on 31 March each year"
STARTING = "Children starting to be looked after each year"
YEARS = ("2014", "2015", "2016", "2017", "2018")          # reporting years: 2014 is 2013/14
LABELS = {"2014": "2013/14", "2015": "2014/15", "2016": "2015/16", "2017": "2016/17", "2018": "2017/18"}

COUNCILS = {   # code: (name, new_la_code, region code, region name)
    "890": ("Blackpool", "E06000009", "E12000002", "North West"),
    "805": ("Hartlepool", "E06000001", "E12000001", "North East"),
    "806": ("Middlesbrough", "E06000002", "E12000001", "North East"),
    "807": ("Redcar and Cleveland", "E06000003", "E12000001", "North East"),
    "810": ("Kingston upon Hull, City of", "E06000010", "E12000003", "Yorkshire and The Humber"),
    "812": ("North East Lincolnshire", "E06000012", "E12000003", "Yorkshire and The Humber"),
    "861": ("Stoke-on-Trent", "E06000021", "E12000005", "West Midlands"),
    "876": ("Halton", "E06000006", "E12000002", "North West"),
    "880": ("Torbay", "E06000027", "E12000009", "South West"),
    "340": ("Knowsley", "E08000011", "E12000002", "North West"),
    "343": ("Sefton", "E08000014", "E12000002", "North West"),
    "801": ("Bristol, City of", "E06000023", "E12000009", "South West"),
    "888": ("Lancashire", "E10000017", "E12000002", "North West"),
}
NEIGHBOURS = ("805", "806", "807", "810", "812", "861", "876", "880", "340", "343")

# rate per 10,000 of children looked after on 31 March, by reporting year 2014..2018
RATES: dict[str, tuple[str, ...]] = {
    "890": ("153", "160", "163", "183", "192"),     # 2015 differs from kpiflow's 158.0
    "805": ("120", "125", "130", "135", "140"),
    "806": ("140", "145", "150", "155", "160"),
    "807": ("90", "92", "94", "96", "98"),
    "810": ("110", "112", "114", "116", "118"),
    "812": ("100", "104", "108", "112", "116"),
    "861": ("95", "97", "99", "101", "103"),
    "876": ("105", "107", "109", "111", "113"),
    "880": ("115", "c", "119", "121", "123"),       # Torbay's 2015 figure is suppressed
    "340": ("85", "87", "89", "91", "93"),
    "343": ("70", "72", "74", "76", "78"),
    "801": ("65", "66", "67", "68", "69"),
    "888": ("80", "low", "82", "83", "84"),
}
ENGLAND = ("60", "60", "60", "62", "64")
# the statistical neighbours' mean for each year, worked out by hand from RATES
SN_MEANS = {"2013/14": 103.0, "2014/15": 104.6, "2015/16": 108.6, "2016/17": 111.4, "2017/18": 114.2}
ENGLAND_BY_YEAR = {"2013/14": 60.0, "2014/15": 60.0, "2015/16": 60.0, "2016/17": 62.0, "2017/18": 64.0}

HEADER = ["la_name", "time_identifier", "old_la_code", "number", "geographic_level", "population_type",
          "time_period", "country_code", "new_la_code", "region_code", "rate_per_10000", "region_name",
          "country_name"]


def _number(code: str, rate: str, i: int) -> str:
    if code == "890":
        return ("441", "455", "469", "525", "550")[i]
    if code == "805" and i == 4:
        return ".."
    return str(int(rate) * 3) if rate.isdigit() else "c"


def cla_rows(years: tuple[str, ...] = YEARS, identifier: str = "Reporting year") -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for i, tp in enumerate(YEARS):
        if tp not in years:
            continue
        base = {"time_period": tp, "time_identifier": identifier, "country_code": "E92000001",
                "country_name": "England"}
        for measure in (LAC, STARTING):
            starting = measure == STARTING
            rows.append({**base, "geographic_level": "National", "population_type": measure,
                         "number": "x" if starting and tp == "2016" else str(72000 + 500 * i),
                         "rate_per_10000": ("x" if tp == "2016" else "26") if starting else ENGLAND[i]})
            for region, name in (("E12000002", "North West"), ("E12000001", "North East")):
                rows.append({**base, "geographic_level": "Regional", "region_code": region, "region_name": name,
                             "population_type": measure, "number": "9000", "rate_per_10000": "90"})
            for code, (name, new, region, rname) in COUNCILS.items():
                rate = RATES[code][i]
                rows.append({**base, "geographic_level": "Local authority", "old_la_code": code, "new_la_code": new,
                             "la_name": name, "region_code": region, "region_name": rname,
                             "population_type": measure,
                             "number": ("z" if code == "343" else "40") if starting else _number(code, rate, i),
                             "rate_per_10000": ("z" if code == "343" else "35") if starting else rate})
    return rows


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]], bom: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header, restval="", extrasaction="ignore", lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)
    return path


def write_cla(path: Path, years: tuple[str, ...] = YEARS, identifier: str = "Reporting year",
              header: list[str] | None = None, bom: bool = True) -> Path:
    """The children-looked-after file: both measures, every year, shuffled columns."""
    return write_csv(path, header or HEADER, cla_rows(years, identifier), bom)


def write_neighbours(path: Path, by_name: bool = False, overrides: dict[int, str] | None = None) -> Path:
    """The statistical neighbour list: one row per council, SN_1..SN_10 each with a closeness
    column, values with trailing spaces as the Department's file has them."""
    header = ["old_la_code", "la_name"]
    for n in range(1, 11):
        header += [f"SN_{n}", f"SN_{n}_closeness"]
    rows = []
    for code, (name, *_rest) in COUNCILS.items():
        row = {"old_la_code": code + " ", "la_name": name}
        sns = NEIGHBOURS if code == "890" else tuple(c for c in COUNCILS if c != code)[:10]
        for n, sn in enumerate(sns, start=1):
            value = COUNCILS[sn][0] if by_name else sn
            row[f"SN_{n}"] = (overrides or {}).get(n, value + " ") if code == "890" else value + " "
            row[f"SN_{n}_closeness"] = "Very Close" if n <= 3 else "Close" if n <= 7 else "Somewhat close"
        rows.append(row)
    return write_csv(path, header, rows)
