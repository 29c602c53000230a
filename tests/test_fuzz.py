"""Bad input, injected faults and random fuzz through the public API (tests/reliability.py is
the driver; ``python tests/reliability.py --write docs/RELIABILITY.md`` runs it in full).

Every outcome must be clean: a result, a ValueError or TypeError naming the argument or the
file, or the exception the API documents; no warning; the network unchanged after a failed
call, or as documented after a fault (a whole number of epochs).  Defects already understood
are reliability.KNOWN_ISSUES; each is a strict xfail below, so fixing one shows up as an
XPASS to be turned into a plain pass (delete the issue from KNOWN_ISSUES).
"""
import pytest
import reliability

from matnet import _backend

FUZZ_CALLS, FUZZ_SEED = 300, 1
_catalogues = {}


def _catalogue(tmp_path_factory, backend):
    """The catalogue's outcomes on ``backend``, run once per session (it takes about a second)."""
    if backend not in _catalogues:
        _catalogues[backend] = reliability.run_catalogue(str(tmp_path_factory.mktemp(f"catalogue-{backend}")))
    return _catalogues[backend]


def _describe(outcomes):
    return "\n".join(f"  [{o.backend}] {o.kind} {o.entry} {o.label}: {o.status}: {o.message}" for o in outcomes)


def _unexplained(outcomes):
    return [o for o in outcomes if not o.clean and not o.known]


def test_catalogue_outcomes_are_clean(tmp_path_factory, backend):
    outcomes = _catalogue(tmp_path_factory, backend)
    assert not _unexplained(outcomes), "defects not in KNOWN_ISSUES:\n" + _describe(_unexplained(outcomes))
    kinds = {o.kind for o in outcomes}
    assert set(reliability.KIND_TITLES) - {"fuzz"} <= kinds


def test_valid_unusual_input_works(tmp_path_factory, backend):
    """Read-only, memory-mapped, non-contiguous, other dtypes ...: each returns a result."""
    valid = [o for o in _catalogue(tmp_path_factory, backend) if o.kind == "valid"]
    failed = [o for o in valid if o.status != "result" and not o.known]
    assert len(valid) > 100 and not failed, _describe(failed)


def test_faults_leave_a_consistent_network(tmp_path_factory, backend):
    faults = [o for o in _catalogue(tmp_path_factory, backend) if o.kind == "fault"]
    assert len(faults) >= 20
    bad = [o for o in faults if not o.clean and not o.known]
    assert not bad, _describe(bad)


def test_fuzz_in_process(tmp_path, backend):
    outcomes = reliability.fuzz(FUZZ_CALLS, FUZZ_SEED, str(tmp_path))
    assert len(outcomes) == FUZZ_CALLS
    assert not _unexplained(outcomes), "defects not in KNOWN_ISSUES:\n" + _describe(_unexplained(outcomes))


def test_fuzz_in_a_subprocess_does_not_crash(backend):
    """The same kind of batch in a fresh interpreter, where a segfault would be an exit status."""
    code, outcomes, stderr = reliability.fuzz_in_subprocess(200, FUZZ_SEED + 1, backend)
    assert code == 0, f"the fuzz process died with status {code}:\n{stderr[-3000:]}"
    assert len(outcomes) == 200 and {o.backend for o in outcomes} == {backend}
    assert not _unexplained(outcomes), _describe(_unexplained(outcomes))


def test_real_sigint_kill_during_save_and_full_disk(tmp_path, backend):
    outcomes = reliability.subprocess_faults(str(tmp_path), backend, trials=1)
    assert [o.status for o in outcomes] == ["documented"] * 3, _describe(outcomes)


def test_every_known_issue_has_examples_in_the_catalogue():
    labels = {(c.entry, c.label) for c in reliability.catalogue()}
    for issue in reliability.KNOWN_ISSUES:
        assert issue.examples, issue.id
        assert set(issue.examples) <= labels, (issue.id, set(issue.examples) - labels)


@pytest.mark.parametrize("issue", reliability.KNOWN_ISSUES, ids=[i.id for i in reliability.KNOWN_ISSUES])
def test_known_issue(issue, request, tmp_path, backend):
    """Fails (as a strict xfail) while the issue's example inputs still give a defect."""
    if backend in issue.backends:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"{issue.id} ({issue.where}): {issue.problem}"))
    cases = {(c.entry, c.label): c for c in reliability.catalogue()}
    outcomes = [reliability.run_case(cases[example], str(tmp_path)) for example in issue.examples]
    assert all(o.clean for o in outcomes), _describe([o for o in outcomes if not o.clean])
    assert _backend.name == backend
