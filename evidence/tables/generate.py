"""Write the two GENERATED, ILLUSTRATIVE case-level tables for Lancashire 2021 (not real police data).

    lancashire-999-calls-2021.parquet       a year of 999 calls (190,000 rows): call_id, received_at,
                                            answer_seconds, district
    lancashire-stop-search-audit-2021.csv   the 183 stop and search records of the inspection's audit

The Lancashire report (evidence/sources/000_d8ec0c1289d1da33.txt) gives no call-level data. L38 says only that
the constabulary "needs to improve the time it takes to answer emergency calls as it isn't meeting national
standards" (the standard: 90% of 999 calls answered within 10 seconds). So the calls here are drawn with a fixed
seed so that about 82% are answered within 10 seconds: better in winter (86%), worse in summer (78%) when
demand is higher. Volumes follow a plausible shape (more calls in summer, at weekends and in the evening; more
in the larger towns), but every number is invented.

The audit table matches the figures the report gives at L68: 183 records from 1 January to 31 December 2021,
156 with reasonable grounds recorded (85.2%), and of the 27 records of people from ethnic minorities, 21 with
reasonable grounds. Dates, districts and objects of search are generated.

Run: python evidence/tables/generate.py   (deterministic: the same rows every time; needs duckdb for Parquet)
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import random
import tempfile
from pathlib import Path

SEED = 20211231
HERE = Path(__file__).resolve().parent
CALLS_FILE = HERE / "lancashire-999-calls-2021.parquet"
AUDIT_FILE = HERE / "lancashire-stop-search-audit-2021.csv"

N_CALLS = 190_000
# Lancashire's 14 districts, weighted by population (thousands) and by a demand factor for the larger towns
DISTRICTS: dict[str, float] = {
    "Blackburn with Darwen": 150 * 1.3, "Blackpool": 140 * 1.5, "Burnley": 90 * 1.3, "Chorley": 118,
    "Fylde": 81, "Hyndburn": 81 * 1.1, "Lancaster": 144, "Pendle": 92 * 1.1, "Preston": 143 * 1.4,
    "Ribble Valley": 61 * 0.8, "Rossendale": 71, "South Ribble": 111, "West Lancashire": 114, "Wyre": 112,
}
# share of calls by hour of day (0-23): quiet before dawn, busiest in the evening
HOURS = (4, 3, 2.5, 2, 1.8, 1.8, 2.2, 3, 3.8, 4.2, 4.5, 4.7, 4.9, 5, 5.1, 5.3, 5.6, 5.9, 6.1, 6.2, 6.1, 5.8,
         5.2, 4.6)


def within_10s_share(month: int) -> float:
    """The chance that a call in this month (1-12) is answered within 10 seconds: 86% in January, 78% in July."""
    return 0.82 + 0.04 * math.cos(2 * math.pi * (month - 1) / 12)


def calls() -> list[tuple[str, dt.datetime, float, str]]:
    """The 999 calls, in order of time: (call_id, received_at, answer_seconds, district)."""
    rng = random.Random(SEED)
    days = [dt.date(2021, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    day_weights = [(1 + 0.12 * math.sin(2 * math.pi * (d.timetuple().tm_yday - 105) / 365))
                   * (1.08 if d.weekday() >= 5 else 1.0) for d in days]
    chosen_days = rng.choices(days, weights=day_weights, k=N_CALLS)
    chosen_hours = rng.choices(range(24), weights=HOURS, k=N_CALLS)
    times = sorted(dt.datetime(d.year, d.month, d.day, h, rng.randrange(60), rng.randrange(60))
                   for d, h in zip(chosen_days, chosen_hours))
    names, weights = list(DISTRICTS), list(DISTRICTS.values())
    districts = rng.choices(names, weights=weights, k=N_CALLS)
    out = []
    for i, (t, district) in enumerate(zip(times, districts), start=1):
        if rng.random() < within_10s_share(t.month):
            seconds = round(rng.triangular(1.0, 10.0, 4.0), 1)
        else:
            seconds = round(min(10.1 + rng.expovariate(1 / 22), 900.0), 1)
        out.append((f"LAN-999-2021-{i:06d}", t, seconds, district))
    return out


OBJECTS = {"drugs": 0.6, "stolen property": 0.12, "weapons": 0.12, "going equipped": 0.08,
           "criminal damage": 0.04, "fireworks": 0.04}
AUDIT_COLUMNS = ("record_id", "searched_on", "district", "object_of_search", "ethnic_minority",
                 "reasonable_grounds")


def stop_searches() -> list[tuple[str, dt.date, str, str, bool, bool]]:
    """The 183 audited records: (record_id, searched_on, district, object_of_search, ethnic_minority,
    reasonable_grounds). 27 minority records, 21 of them with grounds; 156 others, 135 with grounds."""
    rng = random.Random(SEED + 1)
    n, minority, minority_grounds, grounds = 183, 27, 21, 156
    flags = ([(True, True)] * minority_grounds + [(True, False)] * (minority - minority_grounds)
             + [(False, True)] * (grounds - minority_grounds)
             + [(False, False)] * (n - minority - (grounds - minority_grounds)))
    rng.shuffle(flags)
    dates = sorted(dt.date(2021, 1, 1) + dt.timedelta(days=rng.randrange(365)) for _ in range(n))
    names, weights = list(DISTRICTS), list(DISTRICTS.values())
    out = []
    for i, (day, (em, rg)) in enumerate(zip(dates, flags), start=1):
        district = rng.choices(names, weights=weights)[0]
        obj = rng.choices(list(OBJECTS), weights=list(OBJECTS.values()))[0]
        out.append((f"SS-2021-{i:03d}", day, district, obj, em, rg))
    return out


def write_audit(path: Path = AUDIT_FILE) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(AUDIT_COLUMNS)
        for rid, day, district, obj, em, rg in stop_searches():
            w.writerow([rid, day.isoformat(), district, obj, str(em).lower(), str(rg).lower()])


def write_calls(path: Path = CALLS_FILE) -> None:
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp) / "calls.csv"
        with staging.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["call_id", "received_at", "answer_seconds", "district"])
            for cid, t, s, d in calls():
                w.writerow([cid, t.isoformat(sep=" "), repr(s), d])
        con = duckdb.connect(config={"threads": 1})
        try:
            con.execute("CREATE TABLE calls AS SELECT * FROM read_csv(?, header = true, auto_detect = false, "
                        "columns = {'call_id': 'VARCHAR', 'received_at': 'TIMESTAMP', "
                        "'answer_seconds': 'DOUBLE', 'district': 'VARCHAR'})", [str(staging)])
            target = str(path).replace("'", "''")
            con.execute(f"COPY calls TO '{target}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 200000)")
        finally:
            con.close()


if __name__ == "__main__":
    write_calls()
    write_audit()
