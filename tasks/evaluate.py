"""Tasks of `evaluate`: each wires one call into `storage/` or `evaluation/`."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import INPUTS, TASK_SOURCE

from evaluation.labels import SequenceLabels
from evaluation.protocols import evaluate, split_subjects
from evaluation.report import ProtocolReport
from storage.stages import read_vectors
from storage.store import SequenceStore
from tasks.caching import code_of
from tasks.retries import IO_RETRIES



@task(name="load-descriptors", **IO_RETRIES)
def load_descriptors(store: str, tag: str) -> tuple[list[str], "np.ndarray", SequenceLabels]:  # noqa: F821
    ids, vectors, attrs = read_vectors(SequenceStore(store), "descriptors", tag)
    return ids, vectors, SequenceLabels.from_records(attrs)


@task(name="split-subjects")
def choose_split(
    labels: SequenceLabels, protocol: str, train_subjects: str | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(training people, test people), each sorted: a sorted tuple hashes the same in every
    process, where a set's hash (and so a cache key over it) follows PYTHONHASHSEED."""
    train, test = split_subjects(labels.subject.tolist(), protocol, train_subjects)
    return tuple(sorted(train)), tuple(sorted(test))


@task(
    name="evaluate-protocol",
    cache_policy=INPUTS + TASK_SOURCE + code_of("evaluation.protocols", "evaluation.report"),
    persist_result=True,
    result_serializer="json",
)
def evaluate_protocol(vectors, labels: SequenceLabels, protocol: str, classifier: str, train: tuple[str, ...]) -> dict:
    """The protocol's report as a JSON-ready dict (cached: the same vectors are not scored twice
    by the same evaluation code; a change anywhere in `evaluation/` that it runs scores again)."""
    return evaluate(vectors, labels, protocol, classifier=classifier, train_subjects=train).to_dict()


@task(name="write-report-files")
def write_report_files(report_dict: dict, directory: str) -> list[str]:
    """The report's plots, JSON and Markdown table in `directory`."""
    import json

    report = ProtocolReport.from_dict(report_dict)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [str(p) for p in report.write_plots(folder)]
    (folder / "report.json").write_text(json.dumps(report.to_dict(), indent=1))
    (folder / "rank1.md").write_text(report.to_markdown())
    return paths + [str(folder / "report.json"), str(folder / "rank1.md")]
