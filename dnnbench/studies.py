"""Both kinds of study under one name space: the training-dynamics studies (models/studies.py) and the systems
studies (bench/systems.py). `run` gives a study's header and rows, which `dnnbench study` writes to study-NAME.jsonl
and reports/study_analysis.py summarizes."""

from __future__ import annotations

from bench.systems import SYSTEMS_STUDIES, SystemsStudy, run_systems_study
from models.studies import STUDIES, Study, run_study


def declared() -> dict[str, Study | SystemsStudy]:
    """Every study by name (the names are unique across both kinds: a test checks it)."""
    return {**STUDIES, **SYSTEMS_STUDIES}


def run(name: str, full: bool, device: str) -> tuple[dict, list[dict]]:
    """(header, rows) of study `name` run here."""
    studies = declared()
    if name not in studies:
        raise KeyError(f"unknown study {name!r}; studies: {', '.join(studies)}")
    study = studies[name]
    if isinstance(study, SystemsStudy):
        return study.header(), run_systems_study(study, full=full, device=device)
    return study.header(), run_study(name, full=full, device=device)
