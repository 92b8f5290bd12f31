"""Spark Connect (docs/scale.md): a real Spark Connect server on a free port of this machine, started once for the
module (pyspark's own spark-submit running the SparkConnectServer of the jar pyspark ships) and stopped at its
end, with peelrules as its client: the aggregates of the shipped Lancashire tables are DuckDB's, and `peel
evaluate --engine spark --spark-master sc://localhost:PORT`, a process of its own, gives the default engine's
trace with nothing on stderr; a catalog table on the server (`--spark-table`) gives the file's aggregates, and
one with a NaN is refused as a file would be. The client's missing packages are one line and exit 2.

Skipped, with the reason, without pyspark, Java or the Connect client's packages (`pip install '.[test,spark]'`
installs pyspark with them; .ci/run installs it and a JRE)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from peelrules import spark_engine
from peelrules.cli import main
from peelrules.spark_engine import SparkOptions
from peelrules.tables import Aggregate

ROOT = Path(__file__).resolve().parent.parent
LANCASHIRE = ROOT / "evidence" / "lancashire-2022.yaml"
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
SERVER_ZONE = "America/New_York"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- without a server (first: once the module's
# Connect session is active, peelrules uses it whatever --spark-master says, as inside any Spark application)

def test_missing_connect_packages_are_one_line_and_exit_2(monkeypatch):
    """The packages of pyspark's `connect` extra, found from pyspark's own metadata before pyspark.sql.connect is
    imported (which would exit a `python -c` process without a word)."""
    from importlib import metadata

    try:
        metadata.distribution("pyspark")
    except metadata.PackageNotFoundError:
        pytest.skip("pyspark is not installed")
    real = metadata.distribution

    def distribution(name: str):
        if name in ("grpcio", "zstandard"):
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "distribution", distribution)
    got = CliRunner().invoke(main, ["evaluate", "--engine", "spark", "--spark-master", "sc://host:15002",
                                    str(LANCASHIRE)])
    assert got.exit_code == 2
    lines = got.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in got.output
    assert "Spark Connect (sc://host:15002) needs grpcio, zstandard, which are not installed: install them with " \
           "`pip install 'peelrules[spark]'`, or use --engine duckdb" in lines[0]


def test_a_server_that_does_not_answer_is_one_line_and_exit_2(monkeypatch):
    """At once: pyspark's Connect client would retry it for many minutes without a word."""
    from peelrules import aggregates

    why = spark_engine.problem(SparkOptions(master="sc://localhost:15002"))
    if why is not None:
        pytest.skip(f"Spark Connect not available here: {why}")
    monkeypatch.setattr(aggregates, "_RESULTS", {})  # no results of earlier Spark runs in this process
    port = _free_port()  # nothing listens there
    got = CliRunner().invoke(main, ["--no-cache", "evaluate", "--engine", "spark", "--spark-master",  # ask Spark
                                    f"sc://localhost:{port}", str(LANCASHIRE)])
    assert got.exit_code == 2, got.output
    assert f"Spark did not start: the Spark Connect server localhost:{port} cannot be reached (Connection refused)" \
        in got.output and "Traceback" not in got.output


# ---------------------------------------------------------------- a real server

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """sc://localhost:PORT of a Spark Connect server of its own (local[1], errors-only log, a temporary
    warehouse), stopped (and waited for) at the end of the module."""
    why = spark_engine.problem(SparkOptions(master="sc://localhost:15002")) or \
        spark_engine.problem(SparkOptions(master="local[1]"))  # the client's packages; Java for the server
    if why is not None:
        pytest.skip(f"Spark Connect not available here: {why}")
    import pyspark

    home = Path(pyspark.__file__).parent
    if not list((home / "jars").glob("spark-connect_*.jar")):
        pytest.skip(f"this pyspark ({pyspark.__version__}) ships no Spark Connect server")
    folder = tmp_path_factory.mktemp("connect-server")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    env.update(SPARK_HOME=str(home), SPARK_CONNECT_MODE="0")  # as pyspark's sbin/start-connect-server.sh runs it
    cmd = [str(home / "bin" / "spark-submit"), "--class", SERVER_CLASS, "--master", "local[1]",
           # C1 only and a serial GC: about a third less CPU for the short life of the server
           "--driver-java-options", f"-XX:TieredStopAtLevel=1 -XX:+UseSerialGC "
           f"-Dlog4j2.configurationFile={spark_engine.LOG_CONFIG.as_uri()}",
           "--conf", f"spark.connect.grpc.binding.port={port}",
           "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
           "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=1",
           "--conf", f"spark.sql.session.timeZone={SERVER_ZONE}",  # not UTC: peelrules must set its own
           "--conf", f"spark.sql.warehouse.dir={folder / 'warehouse'}"]
    log = folder / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the Spark Connect server stopped ({proc.returncode}): {log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the Spark Connect server did not listen on {port}: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield f"sc://localhost:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def connect(server):
    """peelrules' session over Spark Connect (spark_engine.session, as `--spark-master sc://...` gets it)."""
    before = os.environ.get("SPARK_CONNECT_MODE_ENABLED")  # pyspark sets it for a Connect session, for good
    options = SparkOptions(master=server)
    spark = spark_engine.session(options)
    yield spark
    spark.stop()
    spark_engine._SESSIONS.pop(options, None)
    if before is None:
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)


def test_the_session_is_a_connect_client(connect):
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    assert isinstance(connect, ConnectSession)
    assert connect.conf.get("spark.sql.session.timeZone") == "UTC"  # peelrules' session setting, not the server's


def test_lancashire_aggregates_over_connect_are_duckdbs(connect):
    """Each kind of aggregate over the shipped tables, plain and grouped (but for a grouped median or percentile,
    Spark's slowest and the same doubles as ungrouped), once: tests/test_spark.py checks them all on a local
    session; here it is the queries and settings sent over Connect and the rows coming back (as Arrow) that are
    tested. Identical values, counts, groups and Python types."""
    from test_spark import aggregates_for, assert_same, lancashire

    decls, folder = lancashire()
    kinds: dict[tuple[object, ...], Aggregate] = {}
    for a in (a for d in decls for a in aggregates_for(d)):
        if a.group_by is None or a.func not in ("median", "percentile"):
            kinds.setdefault((a.table, a.func, a.group_by is None), a)
    assert assert_same(decls, folder, connect, aggs=list(kinds.values())) >= 12


def _without_engine(node: object) -> object:
    """A trace without what says which engine ran it (its SQL, its engine, the digest of the whole)."""
    if isinstance(node, dict):
        return {k: _without_engine(v) for k, v in node.items() if k not in ("sql", "engine", "result_sha256")}
    if isinstance(node, list):
        return [_without_engine(v) for v in node]
    return node


def test_evaluate_over_connect_gives_the_default_trace(server, tmp_path):
    """`peel evaluate` as a process of its own, a Connect client of the server (no JVM of its own, no catalog)."""
    from conftest import run_peel

    env = dict(os.environ, PEEL_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("SPARK_CONNECT_MODE_ENABLED", None)
    got = run_peel("evaluate", "--engine", "spark", "--spark-master", server, "--format", "json", str(LANCASHIRE),
                   env=env)
    assert got.returncode == 0, got.stderr
    assert got.stderr == ""
    ours = json.loads(got.stdout)
    engines: set[str] = set()
    stack: list[object] = [ours]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("aggregate"), dict) and node["aggregate"]["present"]:
                engines.add(node["aggregate"]["engine"])
            stack += node.values()
        elif isinstance(node, list):
            stack += node
    assert engines == {"spark"}  # Spark ran the aggregates ...
    default = CliRunner().invoke(main, ["evaluate", "--format", "json", str(LANCASHIRE)])
    assert default.exit_code == 0, default.output
    assert _without_engine(ours) == _without_engine(json.loads(default.output))  # ... to DuckDB's grades and values


def test_catalog_tables_over_connect_give_the_files_aggregates_and_bad_values_are_refused(connect, server, tmp_path,
                                                                                          monkeypatch):
    """`--spark-table` over Spark Connect: the catalog is the server's. Lancashire's 999 calls written there as a
    catalog table give, through `peel evaluate`, the aggregates the file gives (the same values, rows and groups:
    all but which files or catalog table were read); the same table with a NaN answer time is refused as a file
    would be (PR318, naming the catalog table and the column)."""
    from pyspark.sql import functions as F

    from test_spark import _aggregates, lancashire

    monkeypatch.setenv("PEEL_CACHE_DIR", str(tmp_path / "cache"))
    decls, folder = lancashire()
    connect.sql("CREATE DATABASE IF NOT EXISTS peelc")
    try:
        calls = connect.read.parquet(str(folder / decls[0].path_or_glob))
        calls.write.saveAsTable("peelc.calls")
        first = calls.orderBy("call_id").limit(1).collect()[0].call_id
        (calls.withColumn("answer_seconds", F.when(F.col("call_id") == first, F.lit(float("nan")))
                          .otherwise(F.col("answer_seconds").cast("DOUBLE")))
         .write.saveAsTable("peelc.calls_nan"))
        runner = CliRunner()
        args = ["evaluate", "--engine", "spark", "--spark-master", server, "--format", "json"]
        files = runner.invoke(main, [*args, str(LANCASHIRE)])
        assert files.exit_code == 0, files.output
        ours = runner.invoke(main, [*args, "--spark-table", "contact.calls=peelc.calls", str(LANCASHIRE)])
        assert ours.exit_code == 0, ours.output

        def calls_aggregates(doc: object) -> list[dict]:
            return [{k: v for k, v in a.items() if k not in ("files", "catalog")}
                    for a in _aggregates(doc) if a["table"] == "contact.calls"]

        by_files, by_catalog = (json.loads(r.output) for r in (files, ours))
        assert calls_aggregates(by_catalog) and calls_aggregates(by_catalog) == calls_aggregates(by_files)
        assert {a.get("catalog") for a in _aggregates(by_catalog) if a["table"] == "contact.calls"} == {"peelc.calls"}
        def judged(doc: dict) -> list[tuple[str, object, object, str]]:
            return [(a["area"], a["grade"], a["final"], a["status"]) for r in doc["results"] for a in r["areas"]]

        assert judged(by_catalog) == judged(by_files)
        bad = runner.invoke(main, [*args[:-2], "--spark-table", "contact.calls=peelc.calls_nan", str(LANCASHIRE)])
        assert bad.exit_code != 0 and "Traceback" not in bad.output
        assert "PR318" in bad.output and "peelc.calls_nan" in bad.output and "'answer_seconds'" in bad.output
        assert "1 row holds NaN or infinity, such as nan" in bad.output
    finally:
        connect.sql("DROP DATABASE peelc CASCADE")
