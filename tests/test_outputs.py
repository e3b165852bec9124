"""Nothing lost, ever: where siting may write, and what a failed write leaves (issue 17).

Real ``siting`` processes on the tiny region of ``test_plan`` (it plans in a few seconds),
real folders, files, symlinks, FIFOs and tmpfs mounts (1 MB, full or read-only; a test
that cannot mount says why and is skipped). The findings, on main at dda1b6a:

1. ``--out`` deleted what was there: a user's folder, an input's folder, a regular file,
   the folder behind a symlink.
2. A full disk reported success (a page missing, the previous plan gone).
3. A read-only file system and a busy mount point were internal errors (exit 3).
4. ``--write-lp`` (and other single-file outputs) overwrote any file, inputs included.

Each test's docstring names the finding it covers; each failed on dda1b6a.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import yaml
from test_kill import assert_valid_plan, hashes, leftovers
from test_plan import write_region
from test_robustness import make_sweep

from siting.core.io import MARKER
from siting.solve.highs import LP_SIGNATURE

ENV = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}


def siting(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """A real ``siting`` process; its stderr with whitespace collapsed in ``.err``."""
    r = subprocess.run(
        [sys.executable, "-m", "siting", *map(str, args)],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    r.err = " ".join(r.stderr.split())  # type: ignore[attr-defined]
    return r


def tree(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``: file hashes, and folders, FIFOs and links by kind."""
    out = hashes(folder)
    for p in folder.rglob("*"):
        if not p.is_file() or p.is_symlink():
            out[str(p.relative_to(folder))] = "link" if p.is_symlink() else oct(p.lstat().st_mode)
    return out


def user_folder(folder: Path, files: dict[str, str]) -> dict[str, str]:
    """A folder of the user's: ``files`` (relative path -> text) written; its :func:`tree`."""
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return tree(folder)


@contextmanager
def tmpfs(where: Path, size: str = "1m") -> Iterator[Path]:
    """A real tmpfs of ``size`` mounted at ``where`` (skip, saying why, where one cannot
    be mounted: that needs root or CAP_SYS_ADMIN)."""
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs at {where} (mounting needs root or CAP_SYS_ADMIN): "
            f"{r.stderr.strip()}"
        )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(fs: Path, leave_bytes: int) -> None:
    """Fill the file system of ``fs`` until ``leave_bytes`` [bytes] are free."""
    st = os.statvfs(fs)
    with open(fs / "filler", "wb") as f:
        f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave_bytes))
        f.flush()
        os.fsync(f.fileno())


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny region planned once by a real process: (scenario file, plan folder)."""
    d = tmp_path_factory.mktemp("tiny")
    scenario = write_region(d)
    out = d / "maps" / "tiny"
    r = siting(["plan", scenario, "--out", out], d)
    assert r.returncode == 0, r.stderr
    assert_valid_plan(out)
    return scenario, out


def previous_plan(done: tuple[Path, Path], dest: Path) -> Path:
    """A copy of the finished plan at ``dest`` (a test's previous results)."""
    shutil.copytree(done[1], dest)
    return dest


def write_project(d: Path) -> Path:
    """The tiny region laid out like ``data/demo``: ``project/scenario.yaml`` reading
    ``project/land/tiny.gpkg``; the scenario file."""
    land = d / "project" / "land"
    land.mkdir(parents=True)
    write_region(land)
    path = (land / "tiny.yaml").rename(land.parent / "scenario.yaml")
    doc = yaml.safe_load(path.read_text())
    for layer in doc["layers"].values():
        layer["path"] = "land/tiny.gpkg"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# --------------------------------------------------------------------------- finding 1


def test_user_files_in_out_survive_and_the_run_exits_1_naming_the_folder(done, tmp_path):
    """Finding 1: ``--out`` a folder of the user's: refused at once (before the layers are
    read), exit 1 naming the folder and its files; every file kept; ``--force`` too."""
    scenario = done[0]
    x = tmp_path / "x"
    before = user_folder(x, {"thesis.txt": "three years of work\n", "figures/f1.svg": "<svg/>\n"})
    for extra in ([], ["--force"]):
        r = siting(["plan", scenario, "--out", x, *extra], tmp_path)
        assert r.returncode == 1, r.stderr
        assert "output refused" in r.err and str(x) in r.err and "thesis.txt" in r.err, r.err
        assert "did not write" in r.err and "--force does not change that" in r.err
        assert "done scenario" not in r.err  # checked as soon as the scenario was loaded
        assert "Traceback" not in r.stderr
        assert tree(x) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]  # no lock, no staging


@pytest.mark.parametrize("where", ["project/land", "project", "."])
def test_out_an_input_folder_is_refused_and_every_input_kept(tmp_path, where):
    """Finding 1: ``--out`` the folder of an input (``data/demo/land``), the scenario's
    folder, or a folder holding them: exit 1 naming the input; every file kept, with or
    without ``--force``. A new folder below an input's folder that holds none is allowed."""
    scenario = write_project(tmp_path)
    before = tree(tmp_path)
    out = (tmp_path / where).resolve()
    for extra in ([], ["--force"]):
        r = siting(["plan", scenario, "--out", out, *extra], tmp_path)
        assert r.returncode == 1, r.stderr
        assert "output refused" in r.err and "an input of this run" in r.err, r.err
        assert str(out) in r.err and ("tiny.gpkg" in r.err or "scenario.yaml" in r.err)
        assert tree(tmp_path) == before
    # a new plan folder beside the scenario, or below the land folder, holds no input
    for sub in ("project/plan", "project/land/plan"):
        r = siting(["plan", scenario, "--out", tmp_path / sub], tmp_path)
        assert r.returncode == 0, r.stderr
        assert_valid_plan(tmp_path / sub)
    assert {k: v for k, v in tree(tmp_path).items() if k in before} == before


def test_out_a_regular_file_is_refused_and_kept(done, tmp_path):
    """Finding 1: ``--out`` an existing regular file: exit 1, the file byte-identical and
    still a file (it was replaced by a folder), with ``--force`` too."""
    scenario = done[0]
    f = tmp_path / "results.xlsx"
    f.write_bytes(b"PK\x03\x04 a spreadsheet")
    for extra in ([], ["--force"]):
        r = siting(["plan", scenario, "--out", f, *extra], tmp_path)
        assert r.returncode == 1, r.stderr
        assert "output refused" in r.err and f"{f} is a file, not a folder" in r.err, r.err
        assert f.is_file() and f.read_bytes() == b"PK\x03\x04 a spreadsheet"


def test_out_a_symlink_to_a_user_folder_keeps_the_files_behind_it(done, tmp_path):
    """Finding 1: ``--out`` a symlink to a folder of user files: the link is resolved and
    the rules apply to its target: exit 1 naming both, the files behind the link kept. A
    link to the scenario's own plan folder is followed: the plan there is replaced, the
    link stays a link."""
    scenario = done[0]
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.md").write_text("# mine\n")
    link = tmp_path / "link"
    link.symlink_to(user, target_is_directory=True)
    before = tree(user)
    r = siting(["plan", scenario, "--out", link], tmp_path)
    assert r.returncode == 1, r.stderr
    assert f"{user} (the target of {link})" in r.err and "notes.md" in r.err, r.err
    assert tree(user) == before and link.is_symlink()

    plan = previous_plan(done, tmp_path / "plan")
    to_plan = tmp_path / "to-plan"
    to_plan.symlink_to(plan, target_is_directory=True)
    r = siting(["plan", scenario, "--out", to_plan], tmp_path)
    assert r.returncode == 0, r.stderr
    assert to_plan.is_symlink() and to_plan.resolve() == plan.resolve()
    assert_valid_plan(plan)


def test_force_replaces_another_scenarios_plan_but_never_a_user_folder(done, tmp_path):
    """Finding 1: a plan folder of another scenario is replaced only with ``--force``
    (without: exit 1 naming its scenario, byte-identical); a folder siting did not make is
    never replaced, ``--force`` or not."""
    scenario = done[0]
    other = tmp_path / "other.yaml"
    doc = yaml.safe_load(scenario.read_text())
    doc["name"] = "other"
    other.write_text(yaml.safe_dump(doc, sort_keys=False))
    shutil.copy(scenario.parent / "tiny.gpkg", tmp_path / "tiny.gpkg")
    out = tmp_path / "maps" / "shared"
    assert siting(["plan", other, "--out", out], tmp_path).returncode == 0
    prev = hashes(out)

    r = siting(["plan", scenario, "--out", out], tmp_path)
    assert r.returncode == 1, r.stderr
    assert "is a siting plan folder of 'other', not a siting plan folder of 'tiny'" in r.err
    assert "pass --force to replace it" in r.err
    assert hashes(out) == prev

    r = siting(["plan", scenario, "--out", out, "--force"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert_valid_plan(out)
    assert json.loads((out / MARKER).read_text())["scenario"] == "tiny"

    user = tmp_path / "user"
    user.mkdir()
    (user / "data.csv").write_text("a\n1\n")
    r = siting(["plan", scenario, "--out", user, "--force"], tmp_path)
    assert r.returncode == 1 and (user / "data.csv").read_text() == "a\n1\n", r.stderr


def test_rerun_into_its_own_plan_folder_works_without_force(done, tmp_path):
    """Finding 1 (what must keep working): the README's demo command run twice into the
    default ``maps/<name>/``; a plan folder from before the marker (its ``manifest.json``)
    is the scenario's own too. The marker names the kind, the scenario and the run, and
    lists every file written."""
    scenario = done[0]
    for _ in range(2):
        r = siting(["plan", scenario], tmp_path)
        assert r.returncode == 0, r.stderr
    out = tmp_path / "maps" / "tiny"
    assert_valid_plan(out)
    marker = json.loads((out / MARKER).read_text())
    assert marker["siting_output"] == 1 and marker["kind"] == "plan"
    assert marker["scenario"] == "tiny" and marker["run"]["pid"] > 0
    assert sorted(marker["files"]) == sorted(set(hashes(out)) - {MARKER})

    old = previous_plan(done, tmp_path / "old")
    (old / MARKER).unlink()  # as written before the marker existed
    r = siting(["plan", scenario, "--out", old], tmp_path)
    assert r.returncode == 0, r.stderr
    assert (old / MARKER).is_file()


def test_a_file_added_to_a_plan_folder_is_not_deleted_by_a_rerun(done, tmp_path):
    """Finding 1: a plan folder is siting's, but a file the user put in it is not: a rerun
    refuses (exit 1 naming the file) rather than delete it, ``--force`` or not."""
    scenario = done[0]
    out = previous_plan(done, tmp_path / "maps" / "tiny")
    (out / "my-notes.txt").write_text("why we chose S3\n")
    prev = hashes(out)
    for extra in ([], ["--force"]):
        r = siting(["plan", scenario, "--out", out, *extra], tmp_path)
        assert r.returncode == 1, r.stderr
        assert "also holds files siting did not write there (my-notes.txt)" in r.err, r.err
        assert hashes(out) == prev


# --------------------------------------------------------------------------- findings 2, 3


def assert_kept(r, out: Path, prev: dict[str, str], cause: str) -> None:
    """Exit 1, a named write error with ``cause`` naming ``out``, the previous plan
    byte-identical, no staging folder, lock file or probe left beside or in it."""
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "write failed" in r.err and f"could not write {out}: {cause}" in r.err, r.err
    assert f"The previous plan in {out} is kept as it was" in r.err, r.err
    assert "Traceback" not in r.stderr and "internal error" not in r.err
    assert hashes(out) == prev
    assert leftovers(out.parent, out) == []
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("fails_in", ["plan.gpkg", "pages"])
def test_a_full_disk_fails_named_and_keeps_the_previous_plan(done, tmp_path, fails_in):
    """Finding 2: a 1 MB tmpfs holding the previous plan, filled until the new one cannot
    be written, in GDAL's GeoPackage (it says "Failed to commit transaction") or in the
    pages (dda1b6a then said "wrote" with no index.html): exit 1, "no space left on
    device", the previous plan byte-identical (every file hashed), no staging folder."""
    scenario = done[0]
    with tmpfs(tmp_path / "m", "1m") as m:
        out = previous_plan(done, m / "plan")
        size = {f: (out / f).stat().st_size for f in hashes(out)}
        page_bytes = 4096
        if fails_in == "plan.gpkg":
            leave = size["plan.gpkg"] // 2
        else:  # room for every file but half of the map (index.html, written last)
            leave = sum(-(-s // page_bytes) * page_bytes for f, s in size.items())
            leave -= size["index.html"] // 2
        fill(m, leave)
        prev = hashes(out)
        r = siting(["plan", scenario, "--out", out], tmp_path)
        assert_kept(r, out, prev, "no space left on device")
        assert sorted(p.name for p in m.iterdir()) == ["filler", "plan"]


def test_a_read_only_file_system_fails_named(done, tmp_path):
    """Finding 3: the output on a read-only file system (a tmpfs remounted ro): exit 1,
    "read-only file system" naming the folder, before any work, the previous plan kept;
    with no previous plan, nothing written."""
    scenario = done[0]
    with tmpfs(tmp_path / "m", "4m") as m:
        out = previous_plan(done, m / "plan")
        prev = hashes(out)
        subprocess.run(["mount", "-o", "remount,ro", str(m)], check=True)
        r = siting(["plan", scenario, "--out", out], tmp_path)
        assert_kept(r, out, prev, "read-only file system")
        assert "done scenario" not in r.err  # found when the lock file could not be made
        new = m / "new"
        r = siting(["plan", scenario, "--out", new], tmp_path)
        assert r.returncode == 1 and f"could not write {new}: read-only" in r.err, r.err
        assert f"Nothing was written to {new}" in r.err and not new.exists()


def test_out_a_mount_point_is_refused_with_a_subfolder_to_use(done, tmp_path):
    """Finding 3: ``--out`` a mount point (it cannot be renamed: EBUSY, so a plan cannot be
    swapped in there in one step): exit 1 before any work, saying to write to a folder
    inside it; the mount untouched; that subfolder then works."""
    scenario = done[0]
    with tmpfs(tmp_path / "m", "4m") as m:
        (m / "readme.txt").write_text("the disk\n")
        for content in ("a file", "empty"):
            if content == "empty":
                (m / "readme.txt").unlink()
            r = siting(["plan", scenario, "--out", m], tmp_path)
            assert r.returncode == 1, r.stderr
            assert f"{m} is a mount point" in r.err and f"e.g. {m / 'plan'}" in r.err, r.err
            assert "done scenario" not in r.err
            assert os.path.ismount(m)
        assert list(m.iterdir()) == []
        r = siting(["plan", scenario, "--out", m / "plan"], tmp_path)
        assert r.returncode == 0, r.stderr
        assert_valid_plan(m / "plan")


def test_a_folder_that_becomes_a_mount_point_while_written_fails_named(tmp_path):
    """Finding 3: the swap itself meets EBUSY (the folder became a mount point after the
    checks): a named :class:`OutputWriteError` ("busy mount point"), the staging folder
    removed, the mounted folder untouched."""
    from siting.core.io import OutputOwner, OutputWriteError, staged_folder

    out = tmp_path / "plan"
    out.mkdir()
    mounted = ExitStack()
    try:
        with pytest.raises(OutputWriteError) as e:
            with staged_folder(out, OutputOwner("plan", "t")) as stage:
                (stage / "manifest.json").write_text("{}\n")
                mounted.enter_context(tmpfs(out, "1m"))
                (out / "kept.txt").write_text("on the mount\n")
        assert os.path.ismount(out) and (out / "kept.txt").read_text() == "on the mount\n"
    finally:
        mounted.close()
    assert "busy mount point" in str(e.value) and str(out) in str(e.value), str(e.value)
    assert e.value.errno == errno.EBUSY
    assert leftovers(tmp_path, out) == []


# --------------------------------------------------------------------------- finding 4


def test_write_lp_never_overwrites_an_input_or_a_users_file(done, tmp_path):
    """Finding 4: ``--write-lp`` onto the scenario file or a layer: exit 1 before any work,
    the input byte-identical (``--force`` too); onto a file of the user's: exit 1 unless
    ``--force``; onto an LP file siting wrote: replaced, atomically (no temporary left);
    never into the plan folder (the plan replaces it whole), nor through a FIFO."""
    scenario = done[0]
    inputs = hashes(scenario.parent)
    out = tmp_path / "plan"
    for target in (scenario, scenario.parent / "tiny.gpkg"):
        for extra in ([], ["--force"]):
            r = siting(["plan", scenario, "--out", out, "--write-lp", target, *extra], tmp_path)
            assert r.returncode == 1, r.stderr
            assert f"{target} is an input of this run" in r.err, r.err
            assert "done scenario" not in r.err and not out.exists()
    assert hashes(scenario.parent) == inputs

    mine = tmp_path / "model.lp"
    mine.write_text("my own model, by hand\n")
    r = siting(["plan", scenario, "--out", out, "--write-lp", mine], tmp_path)
    assert r.returncode == 1 and "exists and siting did not write it" in r.err, r.err
    assert "pass --force" in r.err and mine.read_text() == "my own model, by hand\n"
    assert not out.exists()
    for extra in (["--force"], []):  # replaced with --force; then siting's own: no --force
        r = siting(["plan", scenario, "--out", out, "--write-lp", mine, *extra], tmp_path)
        assert r.returncode == 0, r.stderr
        assert mine.read_bytes().startswith(LP_SIGNATURE) and b"\nend\n" in mine.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.lp", "plan"]

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    inside = out / "model.lp"
    for target, says in (
        (fifo, "is not a regular file"),
        (Path("/dev/null"), "/dev/null is not a regular file"),
        (folder, "is a folder"),
        (inside, "inside the output folder"),
    ):
        r = siting(["plan", scenario, "--out", out, "--write-lp", target], tmp_path)
        assert r.returncode == 1 and says in r.err, r.err
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and not inside.exists()
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and list(folder.iterdir()) == []


def test_single_file_outputs_never_replace_an_input_or_a_fifo(done, tmp_path):
    """Finding 4: ``siting grid hosting --out X.csv`` writes X.gpkg beside it, which here is
    the scenario's own GeoPackage; ``siting map --out`` onto the plan's ``plan.gpkg``;
    ``siting candidates -o`` onto an input; ``siting schema -o`` onto a FIFO (it was
    replaced by a regular file): each refused, exit 1, the file as it was."""
    scenario, plan = done
    region = scenario.parent
    inputs = hashes(region)
    copy = previous_plan(done, tmp_path / "plan")
    prev = hashes(copy)
    fifo = tmp_path / "schema.json"
    os.mkfifo(fifo)
    for args, says in (
        (["grid", "hosting", scenario, "--out", region / "tiny.csv"], "tiny.gpkg is an input"),
        (["map", copy, "--out", copy / "plan.gpkg"], "plan.gpkg is an input"),
        (["candidates", scenario, "-o", region / "tiny.gpkg"], "tiny.gpkg is an input"),
        (["schema", "-o", fifo], "is not a regular file"),
    ):
        r = siting(args, tmp_path)
        assert r.returncode == 1, (args, r.stderr)
        assert "output refused" in r.err and says in r.err, r.err
    assert hashes(region) == inputs and hashes(copy) == prev
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


# --------------------------------------------------------------------------- every command


def test_every_folder_command_refuses_a_user_folder(done, tmp_path):
    """Finding 1, for the other commands that write a folder: ``siting grid check --out``,
    ``grid stress --out``, ``pareto --out``, ``sweep`` (its ``out:``) and ``robustness``
    (its ``robustness/``) refuse a folder of the user's (exit 1, every file kept, before
    any solve); ``grid check --out`` also refuses the plan folder it reads."""
    scenario, plan = done
    user = tmp_path / "user"
    before = user_folder(user, {"summary.csv": "my,own\n1,2\n", "robustness/notes.txt": "mine\n"})
    copy = previous_plan(done, tmp_path / "plan")
    prev = hashes(copy)
    sweep = tmp_path / "sweep.yaml"
    doc = {"name": "s", "base": str(scenario), "out": str(user)}
    doc["vary"] = [{"zip": {"targets.it_mw_by_year.2031": [150]}}]
    sweep.write_text(yaml.safe_dump(doc))
    for args, folder in (
        (["grid", "check", copy, "--out", user], user),
        (["grid", "check", copy, "--out", copy], copy),
        (["grid", "stress", scenario, "--derate", "a=0.9", "--out", user], user),
        (["pareto", scenario, "--between", "cost,grid_upgrades", "--out", user], user),
        (["sweep", sweep], user),
    ):
        r = siting(args, tmp_path)
        assert r.returncode == 1, (args, r.stderr)
        assert "output refused" in r.err and str(folder) in r.err, (args, r.err)
        assert "done" not in r.err and tree(user) == before and hashes(copy) == prev
    swept = make_sweep(tmp_path / "swept")  # a sweep's folder, and the user's robustness/
    shutil.copytree(user / "robustness", swept / "robustness")
    r = siting(["robustness", swept], tmp_path)
    assert r.returncode == 1 and f"{swept / 'robustness'} holds files" in r.err, r.err
    assert (swept / "robustness" / "notes.txt").read_text() == "mine\n"


def test_grid_check_replaces_its_own_folder_and_another_only_with_force(done, tmp_path):
    """Finding 1: ``siting grid check --out`` writes its folder whole (with the marker);
    a rerun replaces it; a plan folder there needs ``--force``."""
    scenario, plan = done
    out = tmp_path / "check"
    for _ in range(2):
        r = siting(["grid", "check", plan, "--out", out], tmp_path)
        assert r.returncode in (0, 2), r.stderr
    marker = json.loads((out / MARKER).read_text())
    assert (marker["kind"], marker["scenario"]) == ("grid-check", "tiny")
    assert sorted(marker["files"]) == ["check_flows.csv", "check_n1.csv", "check_violations.csv"]
    other = previous_plan(done, tmp_path / "other")
    prev = hashes(other)
    r = siting(["grid", "check", plan, "--out", other], tmp_path)
    assert r.returncode == 1 and "pass --force" in r.err and hashes(other) == prev, r.err
    r = siting(["grid", "check", plan, "--out", other, "--force"], tmp_path)
    assert r.returncode in (0, 2) and (other / "check_flows.csv").is_file(), r.stderr
