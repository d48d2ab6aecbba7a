"""The mutation campaign's cache: keyed by everything staged, filled only as documented."""

from __future__ import annotations

from pathlib import Path

from harness.evidence.mutation_run import (
    STATS,
    restore_cached,
    stage_workspace,
    store_cached,
    workspace_digest,
)


def _workspace(root: Path) -> Path:
    workdir = root / "work"
    (workdir / "matter_core").mkdir(parents=True)
    (workdir / "matter_core" / "tlv.py").write_text("def f():\n    return 1\n")
    (workdir / "tests" / "core").mkdir(parents=True)
    (workdir / "tests" / "core" / "test_tlv.py").write_text("def test_f():\n    pass\n")
    (workdir / "pyproject.toml").write_text("[tool.mutmut]\n")
    return workdir


def _generated(workdir: Path) -> None:
    (workdir / "mutants" / "matter_core").mkdir(parents=True, exist_ok=True)
    (workdir / "mutants" / "matter_core" / "tlv.py.meta").write_text('{"exit_code_by_key": {}}')


def test_the_digest_covers_every_staged_file_but_not_mutmuts_output(tmp_path: Path) -> None:
    workdir = _workspace(tmp_path)
    digest = workspace_digest(workdir)
    assert workspace_digest(workdir) == digest
    _generated(workdir)
    (workdir / "mutmut.log").write_text("noise")
    assert workspace_digest(workdir) == digest
    for changed in ("matter_core/tlv.py", "tests/core/test_tlv.py", "pyproject.toml"):
        path = workdir / changed
        before = path.read_text()
        path.write_text(before + "\n")
        assert workspace_digest(workdir) != digest, changed
        path.write_text(before)
    assert workspace_digest(workdir) == digest
    (workdir / "tests" / "core" / "test_new.py").write_text("")
    assert workspace_digest(workdir) != digest


def test_the_staged_project_has_a_digest(tmp_path: Path) -> None:
    stage_workspace(tmp_path / "staged")
    assert len(workspace_digest(tmp_path / "staged")) == 64


def test_an_empty_cache_restores_nothing(tmp_path: Path) -> None:
    workdir = _workspace(tmp_path)
    assert restore_cached(workdir, tmp_path / "cache", workspace_digest(workdir)) == (False, False)
    assert not (workdir / "mutants").exists()


def test_mutants_then_stats_come_back_from_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    workdir = _workspace(tmp_path)
    digest = workspace_digest(workdir)
    _generated(workdir)
    store_cached(workdir, cache, digest, stats=False)
    (workdir / STATS).write_text('{"stats": 1}')
    store_cached(workdir, cache, digest, stats=True)

    again = _workspace(tmp_path / "again")
    assert restore_cached(again, cache, digest) == (True, True)
    assert (again / "mutants" / "matter_core" / "tlv.py.meta").is_file()
    assert (again / STATS).read_text() == '{"stats": 1}'


def test_mutants_without_stats_are_restored_without_stats(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    workdir = _workspace(tmp_path)
    digest = workspace_digest(workdir)
    _generated(workdir)
    store_cached(workdir, cache, digest, stats=False)
    again = _workspace(tmp_path / "again")
    assert restore_cached(again, cache, digest) == (True, False)
    assert not (again / STATS).exists()


def test_another_digest_replaces_the_cached_entry(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    workdir = _workspace(tmp_path)
    _generated(workdir)
    store_cached(workdir, cache, "a" * 64, stats=False)
    store_cached(workdir, cache, "b" * 64, stats=False)
    assert sorted(p.name for p in cache.iterdir()) == ["b" * 64]
    fresh = _workspace(tmp_path / "fresh")
    assert restore_cached(fresh, cache, "a" * 64) == (False, False)
