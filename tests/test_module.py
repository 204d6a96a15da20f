"""The module page, its figure, the Fiji walkthrough and the assessment agree with the course.

- ``course/module.md``: its front matter parses; every notebook is listed and every listed one
  exists; every objective is taught and named in the notebooks' "Learning objectives"; the body
  repeats the front matter (objectives, links, concept map, figure) without drifting;
- the figure rebuilds byte for byte (SVG);
- ``course/activities/fiji.md``: every URL comes from the catalog and the local ones answer on a
  running local cloud; the menu paths are the known ones; the cost table follows the samples;
- ``course/assessment.md`` is what ``python -m course_tools quiz --markdown`` writes (an exercise and
  a folded solution per question), and the answers agree with the helpers, the sample data and zarr
  itself.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
import zarr
from zarr.storage import MemoryStore, WrapperStore

import helpers.cloud as cloud_settings
from course_tools import REPO_ROOT
from course_tools.cli import run_cli
from course_tools.figure import ALT_TEXT, FIGURE_NAME, LEGEND, save_figure
from course_tools.quiz import QUESTIONS, by_id, check, grade_answer, quiz, to_markdown
from course_tools.quiz import questions as q
from course_tools.quiz.cli import main as quiz_main
from course_tools.quiz.items import FillIn, MultipleChoice, letters
from helpers import fetch
from helpers.catalog import CATALOG, REMOTE_ENDPOINT, remote_url
from helpers.chunks import chunks_for_region, count_chunks
from helpers.cloud import PUBLIC_BUCKET, Cloud
from helpers.model import ideal_speedup, model_time_s

COURSE = REPO_ROOT / "course"
MODULE = COURSE / "module.md"
FIJI = COURSE / "activities" / "fiji.md"
ASSESSMENT = COURSE / "assessment.md"
NOTEBOOKS = REPO_ROOT / "notebooks"

MENU_PATHS = {
    "File > Import > HDF5/N5/Zarr/OME-NGFF ...",
    "Plugins > BigDataViewer > HDF5/N5/Zarr/OME-NGFF Viewer",
    "Help > Update...",
    "Image > Adjust > Brightness/Contrast...",
    "Image > Properties...",
}
"""Every Fiji menu path the walkthrough may name (and names)."""
ACTION_VERBS = {"Open", "Count", "Predict", "Choose", "Compare", "Diagnose", "Explain", "Measure"}
PORT = "<port>"
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s`|)\"'<>]*(?:<port>[^\s`|)\"'<>]*)?")


def split_page(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text()
    assert text.startswith("---\n"), f"{path.name}: no front matter"
    front, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(front), body


FRONT, BODY = split_page(MODULE)


def flat(text: str) -> str:
    return " ".join(text.replace("**", "").split())


def learning_objectives(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    found = re.search(r"^### Learning objectives\n(.*?)(?=^#{1,3} )", markdown, re.M | re.S)
    assert found, f"{notebook.name}: no '### Learning objectives' section"
    return found.group(1)


# --- the module page ---------------------------------------------------------------------------
def test_front_matter_has_the_source_modules_fields() -> None:
    for key in ("title", "prerequisites", "objectives", "notebooks", "activities", "assessment"):
        assert FRONT.get(key), f"front matter: no {key!r}"
    for key in ("learn_next", "external_links", "figure", "figure_legend", "concept_map"):
        assert FRONT.get(key), f"front matter: no {key!r}"
    objectives = FRONT["objectives"]
    assert 4 <= len(objectives) <= 6
    ids = [o["id"] for o in objectives]
    assert len(set(ids)) == len(ids)
    for objective in objectives:
        assert objective["text"].split()[0] in ACTION_VERBS, objective["text"]
        assert objective["keywords"], objective["id"]


@pytest.mark.parametrize("field", ["prerequisites", "learn_next", "external_links"])
def test_links_are_markdown_links_to_https_pages(field: str) -> None:
    for item in FRONT[field]:
        found = LINK.fullmatch(item)
        assert found, f"{field}: not a '[text](url)' link: {item!r}"
        url = urlparse(found.group(2))
        assert url.scheme == "https" and url.netloc, item
        assert item in BODY, f"{field}: {item!r} is not on the page"


def test_every_notebook_is_listed_and_every_listed_one_exists() -> None:
    listed = [entry["file"] for entry in FRONT["notebooks"]]
    on_disk = sorted(p.relative_to(REPO_ROOT).as_posix() for p in NOTEBOOKS.glob("*.ipynb"))
    assert len(set(listed)) == len(listed)
    assert listed == sorted(listed), "notebooks must be listed in course order"
    missing = sorted(set(on_disk) - set(listed))
    assert not missing, f"notebooks without an entry in course/module.md: {missing}"
    absent = sorted(set(listed) - set(on_disk))
    assert not absent, f"course/module.md lists notebooks that do not exist: {absent}"
    for entry in FRONT["notebooks"]:
        name = Path(entry["file"]).stem
        assert f"(../{entry['file']})" in BODY, f"{name} is not linked in the page body"


def test_every_objective_is_taught_and_named_in_the_notebooks() -> None:
    objectives = {o["id"]: o for o in FRONT["objectives"]}
    taught: set[str] = set()
    for entry in FRONT["notebooks"]:
        assert entry["objectives"], f"{entry['file']} teaches no objective"
        path = REPO_ROOT / entry["file"]
        if not path.exists():
            continue  # reported by the test above
        section = learning_objectives(path).lower()
        for objective_id in entry["objectives"]:
            assert objective_id in objectives, f"{entry['file']}: unknown objective {objective_id}"
            keywords = objectives[objective_id]["keywords"]
            assert any(k.lower() in section for k in keywords), (
                f"{entry['file']} claims objective {objective_id!r}, but its Learning objectives "
                f"name none of {keywords}"
            )
            taught.add(objective_id)
    assert taught == set(objectives), f"objectives no notebook teaches: {set(objectives) - taught}"


def test_body_repeats_the_front_matter() -> None:
    body = flat(BODY)
    for objective in FRONT["objectives"]:
        assert flat(objective["text"]) in body, objective["id"]
    mermaid = re.search(r"```mermaid\n(.*?)```", BODY, re.S)
    assert mermaid and mermaid.group(1).strip() == FRONT["concept_map"].strip()
    assert re.search(r"^\s*graph (TD|LR)", FRONT["concept_map"])
    for activity in FRONT["activities"]:
        assert (COURSE / activity["file"]).exists() and f"]({activity['file']})" in BODY
    assert FRONT["assessment"]["file"] == ASSESSMENT.name and f"]({ASSESSMENT.name})" in BODY


def test_concept_map_runs_from_url_to_requests_in_flight() -> None:
    edges = re.findall(r"(\w+)(?:\[[^\]]*\])?\s*-->\|[^|]*\|\s*(\w+)", FRONT["concept_map"])
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    chain = ["URL", "PROTO", "STORE", "BUCKET", "OMEZARR", "LEVELS", "CHUNKS", "FLIGHT", "CLIENT"]
    for a, b in zip(chain, chain[1:], strict=False):
        assert b in graph.get(a, set()), f"concept map: no edge {a} -> {b}"
    assert "SHARDS" in graph["CHUNKS"] and "FLIGHT" in graph["SHARDS"]


def test_relative_links_resolve() -> None:
    for page in (MODULE, FIJI):
        for _text, target in LINK.findall(page.read_text()):
            if "://" in target or target.startswith("#"):
                continue
            assert (page.parent / target).resolve().exists(), f"{page.name}: broken link {target}"


def test_motivation_numbers_follow_the_latency_model() -> None:
    found = re.search(
        r"asks for (\d+) chunks one after another waits (\d+) seconds.*?with (\d+) requests "
        r"in flight waits (\d+) seconds",
        flat(BODY),
    )
    assert found, "motivation: the 'waits ... seconds' sentence changed; update this test"
    n, one, c, many = (int(g) for g in found.groups())
    latency = cloud_settings.DEFAULT_LATENCY_MS / 1000
    assert one == round(model_time_s(n, 1, latency)) and many == round(model_time_s(n, c, latency))


# --- the figure --------------------------------------------------------------------------------
def test_figure_rebuilds_identically_and_the_page_uses_its_alt_text(tmp_path: Path) -> None:
    files = save_figure(tmp_path)
    committed = COURSE / "figures" / f"{FIGURE_NAME}.svg"
    assert files.svg.read_bytes() == committed.read_bytes(), (
        "course/figures/remote_access.svg is stale: run python -m course_tools figure build"
    )
    assert files.png.stat().st_size > 10_000 and (COURSE / "figures" / files.png.name).exists()
    assert FRONT["figure"] == f"figures/{FIGURE_NAME}.svg"
    assert FRONT["figure_alt"] == ALT_TEXT and FRONT["figure_legend"] == LEGEND
    assert f"![{ALT_TEXT}]({FRONT['figure']})" in BODY
    assert f"*Figure: {LEGEND}*" in BODY


# --- the Fiji walkthrough ----------------------------------------------------------------------
FIJI_TEXT = FIJI.read_text()
LOCAL_PREFIX = f"http://127.0.0.1:{PORT}"


def catalog_urls() -> dict[str, str]:
    """Every URL the page may use -> where it points (``public`` or ``local``)."""
    allowed = {REMOTE_ENDPOINT: "public", LOCAL_PREFIX: "local"}
    for dataset in CATALOG.values():
        if dataset.remote_path:
            allowed[remote_url(dataset.remote_path)] = "public"
            allowed[remote_url(dataset.remote_path, "s3")] = "public"
        if dataset.local_path:
            allowed[f"{LOCAL_PREFIX}/{PUBLIC_BUCKET}/{dataset.local_path}"] = "local"
            allowed[f"s3://{PUBLIC_BUCKET}/{dataset.local_path}"] = "local"
    return allowed


def page_urls() -> list[str]:
    """Every URL on the Fiji page (a bare ``s3://`` in the prose names the scheme, not a URL)."""
    found = {u.rstrip(".,;:") for u in URL.findall(FIJI_TEXT)}
    return sorted(u for u in found if u.partition("://")[2])


def split_level(url: str) -> tuple[str, str | None]:
    found = re.fullmatch(r"(.*\.zarr)/(\d+)", url)
    return (found.group(1), found.group(2)) if found else (url, None)


def test_fiji_urls_all_come_from_the_catalog() -> None:
    allowed = catalog_urls()
    urls = page_urls()
    assert len(urls) >= 8
    for url in urls:
        base, _level = split_level(url)
        assert base in allowed, f"fiji.md: {url} is not a catalog URL (helpers/catalog.py)"
        if allowed[base] == "public":
            parts = urlparse(url)
            assert parts.scheme in ("https", "s3") and parts.netloc and " " not in url, url
            assert url == REMOTE_ENDPOINT or re.search(r"\.zarr(/\d+)?$", parts.path), url
    used = {split_level(u)[0] for u in urls}
    for dataset in CATALOG.values():  # every course image has its URLs on the page
        if dataset.remote_path in ("v0.4/idr0062A/6001240.zarr",):
            assert remote_url(dataset.remote_path, "s3") in used
        if dataset.remote_path:
            assert remote_url(dataset.remote_path) in used, dataset.name
        if dataset.local_path and dataset.name != "lightsheet_unsharded":
            assert f"{LOCAL_PREFIX}/{PUBLIC_BUCKET}/{dataset.local_path}" in used, dataset.name


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=cloud_settings.CONTROL_TIMEOUT_S) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


def test_fiji_local_urls_answer_on_the_local_cloud(cloud: Cloud) -> None:
    port = urlparse(cloud.endpoint).port
    assert cloud.endpoint == LOCAL_PREFIX.replace(PORT, str(port))
    local = [u for u in page_urls() if catalog_urls().get(split_level(u)[0]) == "local"]
    assert len(local) >= 4
    for url in local:
        if url == LOCAL_PREFIX:
            continue
        http = url.replace(PORT, str(port))
        if url.startswith("s3://"):
            http = f"{cloud.endpoint}/{url.removeprefix('s3://')}"
        documents = ("zarr.json", ".zarray") if split_level(url)[1] else ("zarr.json", ".zattrs")
        codes = [get_status(f"{http}/{doc}") for doc in documents]
        assert 200 in codes, f"{url}: {documents} answered {codes} on the local cloud"


def test_fiji_menu_paths_are_the_known_ones() -> None:
    found = set(re.findall(r"`([^`\n]+ > [^`\n]+)`", FIJI_TEXT))
    assert found == MENU_PATHS, f"unknown: {found - MENU_PATHS}; unused: {MENU_PATHS - found}"


def test_fiji_cost_table_follows_the_samples(samples: Path) -> None:
    from helpers.catalog import open_image

    latency = cloud_settings.DEFAULT_LATENCY_MS / 1000
    rows = {"nuclei": (0, 1, 2), "nuclei_v05": (0, 2), "tissue": (0, 2, 3, 5)}
    for name, levels in rows.items():
        with open_image(samples / CATALOG[name].local_path) as image:
            for i in levels:
                level = image.levels[i]
                n = count_chunks(level.shape, level.chunks)
                plane = len(chunks_for_region((0,) * (level.ndim - 2), level.shape, level.chunks))
                row = (
                    f"| `{name}` | {image.paths[i]} | {level.shape} | {level.chunks} | {plane} | "
                    f"{model_time_s(plane, 1, latency):.1f} s | {n:,} | "
                    f"{model_time_s(n, 1, latency):.1f} s | {model_time_s(n, 16, latency):.1f} s |"
                )
                assert row in FIJI_TEXT, f"fiji.md: row missing or stale:\n{row}"


# --- the assessment ----------------------------------------------------------------------------
def test_assessment_page_is_the_generated_one() -> None:
    assert ASSESSMENT.read_text() == to_markdown(), (
        "course/assessment.md is stale: python -m course_tools quiz --markdown > course/assessment.md"
    )
    out = subprocess.run(
        [sys.executable, "-m", "course_tools", "quiz", "--markdown"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    ).stdout
    assert out == ASSESSMENT.read_text()


def test_assessment_page_folds_each_answer_under_its_question() -> None:
    text = ASSESSMENT.read_text()
    exercises = re.findall(r"^```\{exercise\} \w+\n:label: ([\w-]+)$", text, re.M)
    solutions = re.findall(r"^```\{solution\} ([\w-]+)\n:class: dropdown$", text, re.M)
    fill = [q.id for q in QUESTIONS if isinstance(q, FillIn)]
    assert exercises == solutions == fill + [q.id for q in QUESTIONS if q.id not in fill]
    assert "<details>" not in text  # the site folds them (sphinx-exercise, sphinx-togglebutton)


def test_jupyterquiz_still_reaches_for_a_cdn() -> None:
    """The notebook form is ours because jupyterquiz loads MathJax from a CDN (widget.py says more).

    When a release stops doing that, this fails: then the form can move to jupyterquiz.
    """
    import jupyterquiz

    scripts = Path(jupyterquiz.__file__).parent / "js"
    found = [
        p.name for p in scripts.glob("*.js") if "cdn.jsdelivr.net/npm/mathjax" in p.read_text()
    ]
    assert found, f"jupyterquiz {jupyterquiz.__version__} no longer loads MathJax from a CDN"


def answers(question_id: str) -> list[float]:
    question = by_id(question_id)
    assert isinstance(question, FillIn)
    return [b.value for b in question.blanks if b.value is not None]


def test_chunk_and_pyramid_answers_follow_the_sample_data(samples: Path) -> None:
    nuclei = json.loads((samples / CATALOG["nuclei"].local_path / "0" / ".zarray").read_text())
    assert (tuple(nuclei["shape"]), tuple(nuclei["chunks"])) == (q.NUCLEI_SHAPE, q.NUCLEI_CHUNKS)
    n = math.prod(-(-s // c) for s, c in zip(nuclei["shape"], nuclei["chunks"], strict=True))
    assert answers("chunks-per-level") == [n, n]
    touched = {(y // 512, x // 512) for y in range(1000, 1512) for x in range(3000, 3512)}
    assert answers("view-chunks") == [len(touched)]
    tissue = samples / CATALOG["tissue"].local_path
    per_channel = []
    for level in ("0", "4"):
        meta = json.loads((tissue / level / ".zarray").read_text())
        assert meta["chunks"][1:] == [q.TISSUE_CHUNK] * 2
        per_channel.append(math.prod(-(-s // q.TISSUE_CHUNK) for s in meta["shape"][1:]))
    assert answers("pyramid-tissue") == per_channel


def test_latency_and_parallelism_answers_follow_the_model() -> None:
    latency = cloud_settings.DEFAULT_LATENCY_MS / 1000
    assert answers("sequential-time") == [
        pytest.approx(model_time_s(n, c, latency)) for n, c in ((472, 1), (472, 16))
    ]
    assert answers("speedup") == [4, ideal_speedup(64, 16)]
    assert answers("deadline") == [fetch.DEADLINE_S]
    assert answers("shard-objects") == [math.ceil(1937 / 10), 1937 * 8 * 8]


class RecordingStore(WrapperStore):
    """Records the (key, byte range) of every read zarr makes."""

    def __init__(self, store: Any, log: list | None = None) -> None:
        super().__init__(store)
        self.log: list = [] if log is None else log

    def _with_store(self, store: Any) -> RecordingStore:
        return type(self)(store, self.log)

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
        self.log.append((key, byte_range))
        return await self._store.get(key, prototype, byte_range)


def test_shard_answers_agree_with_zarr() -> None:
    store = RecordingStore(MemoryStore())
    array = zarr.create_array(
        store,
        shape=q.LIGHTSHEET_SHARD,
        dtype="uint8",
        shards=q.LIGHTSHEET_SHARD,
        chunks=q.LIGHTSHEET_CHUNK,
        compressors=None,
        fill_value=0,
    )
    array[0, :512, :512] = 1  # 4 inner chunks, uncompressed: 4 x 65536 bytes + the index
    objects = store._store._store_dict  # the memory store's objects
    shard = objects["c/0/0/0"]
    index_bytes = len(shard) - 4 * math.prod(q.LIGHTSHEET_CHUNK)
    chunks_per_shard = count_chunks(q.LIGHTSHEET_SHARD, q.LIGHTSHEET_CHUNK)
    assert answers("shard-chunks") == [chunks_per_shard, index_bytes]
    store.log.clear()
    reader = zarr.open_array(store, mode="r")
    store.log.clear()
    assert (reader[0, 0:512, 0:512] == 1).all()
    shard_reads = [entry for entry in store.log if entry[0] == "c/0/0/0"]
    cold, warm = answers("shard-requests")
    assert len(shard_reads) == cold, shard_reads  # the index (suffix range), then 4 ranges
    assert warm == cold - 1 and getattr(shard_reads[0][1], "suffix", None) == index_bytes


def test_every_question_grades_its_own_solution_right_and_a_wrong_one_wrong() -> None:
    for question in QUESTIONS:
        if isinstance(question, MultipleChoice):
            right = letters(len(question.options))[question.answer]
            wrong = letters(len(question.options))[(question.answer + 1) % len(question.options)]
            assert (
                grade_answer(question.id, right).correct
                and not grade_answer(question.id, wrong).correct
            )
        else:
            right_answers = [b.answer for b in question.blanks]
            assert grade_answer(question.id, right_answers).correct, question.id
            wrong_answers = ["999999"] * len(question.blanks)
            assert not grade_answer(question.id, wrong_answers).correct, question.id
    assert {question.topic for question in QUESTIONS} == set(q.TOPICS)


def test_check_gives_one_line_of_feedback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="course_tools.quiz"):
        assert check("shard-chunks", "640; 10,244 bytes") is True
        assert check("shard-chunks", ["640", "10240"]) is False
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("shard-chunks: Right:")
    assert messages[1].startswith("shard-chunks: Not yet: blank 2 is not right. Hint:")
    assert all("\n" not in m for m in messages)
    assert check("strict-mode", "`MissingChunkError`") and check("deadline", "30 s")
    with pytest.raises(ValueError, match="unknown question 'nope'"):
        check("nope", "1")
    with pytest.raises(ValueError, match="has 2 blanks: give 2 answers"):
        check("speedup", ["4"])
    with pytest.raises(ValueError, match="one letter from a, b, c, d"):
        check("slowdown", "z")


def test_quiz_form_grades_and_scores() -> None:
    form = quiz()
    assert form.ids == [question.id for question in QUESTIONS]
    assert form.answer("speedup", ["4", "16"]).correct
    assert not form.answer("slowdown", "a").correct
    assert "Score: 1 of" in form.score.value and "&#10008;" in form.feedback["slowdown"].value
    with pytest.raises(ValueError, match="unknown topic"):
        quiz("networking")


def test_quiz_cli_checks_answers_and_refuses_bad_input() -> None:
    out = io.StringIO()
    assert run_cli(quiz_main, ["--check", "nope", "1"], stderr=out) == 2
    assert (
        out.getvalue().startswith("error: unknown question 'nope'")
        and out.getvalue().count("\n") == 1
    )
    assert quiz_main(["--check", "view-chunks", "4"]) == 0
    assert quiz_main(["--check", "view-chunks", "1"]) == 1
