"""docs/results.md from hand-made metrics files."""
import hashlib
import json
import statistics
from pathlib import Path

from spacy_bioner.project.results import NOT_MEASURED, Cell, load_metrics, mean_gain, render_matrix, write_results

GROUPS = {"disease": ["NCBI-disease", "BC5CDR-disease"], "species": ["Linnaeus"]}


def write_metrics(root: Path, variant: str, corpus: str, seed: int, f1: float, ooc=None, version=2, superseded=()) -> None:
    path = root / variant / corpus / f"seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "variant": variant, "corpus": corpus, "seed": seed,
        **({"evaluation": {"version": version}} if version > 1 else {}),
        "superseded": list(superseded),
        "in_corpus": {"precision": f1, "recall": f1, "f1": f1, "match": "exact"},
        "out_of_corpus": {k: {"precision": v, "recall": v, "f1": v, "match": "right"} for k, v in (ooc or {}).items()},
        "training": {"command": f"python -m spacy train configs/bilstm_crf.cfg --training.seed {seed}",
                     "epochs": 12, "wall_time_s": 600.0},
        "evaluation_commands": ["python -m spacy_bioner.cli evaluate ..."],
        "date": "2025-01-02T03:04:05+00:00",
        "machine": {"platform": "Linux-x86_64", "cpu_count": 2, "torch": "2.13.0"},
        "git": {"commit": "0123456789abcdef", "dirty": False},
    }))


def test_cell_mean_and_sd():
    cell = Cell([80.0, 82.0, 84.0])
    assert cell.mean == 82.0
    assert cell.sd == statistics.stdev([80.0, 82.0, 84.0]) == 2.0
    assert cell.format() == "82.00 ± 2.00 (n=3)"
    assert Cell([70.0]).format() == "70.00 (n=1)"
    assert Cell([]).format() == NOT_MEASURED


def test_results_md(tmp_path):
    results = tmp_path / "results"
    for seed, f1 in enumerate([0.80, 0.82, 0.84]):
        write_metrics(results, "baseline", "NCBI-disease", seed, f1, {"BC5CDR-disease": 0.60 + seed / 100})
    for seed, f1 in enumerate([0.83, 0.85]):
        write_metrics(results, "vd", "NCBI-disease", seed, f1, {"BC5CDR-disease": 0.65 + seed / 100})
    out = write_results(results, tmp_path / "docs" / "results.md", groups=GROUPS,
                        variants=["baseline", "vd"], commands=["spacy project run baseline"], today="2025-01-03")
    text = out.read_text()
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| disease | NCBI")}
    ncbi = rows["NCBI-disease"]
    assert "87.01" in ncbi  # the paper's figure beside ours
    assert "82.00 ± 2.00 (n=3)" in ncbi
    assert "84.00 ± 1.41 (n=2)" in ncbi
    assert "+2.00" in ncbi
    bc5 = next(line for line in text.splitlines() if line.startswith("| disease | BC5CDR-disease |"))
    assert bc5.count(NOT_MEASURED) == 3 and "84.49" in bc5
    linnaeus = next(line for line in text.splitlines() if line.startswith("| species | Linnaeus |"))
    assert "89.44" in linnaeus and NOT_MEASURED in linnaeus
    pair = next(line for line in text.splitlines() if "NCBI-disease → BC5CDR-disease" in line)
    assert "61.00 ± 1.00 (n=3)" in pair and "65.50 ± 0.71 (n=2)" in pair and "+4.50" in pair
    reverse = next(line for line in text.splitlines() if "BC5CDR-disease → NCBI-disease" in line)
    assert reverse.count(NOT_MEASURED) == 3
    gain = next(line for line in text.splitlines() if line.startswith("| VD |"))
    assert "+4.50 (1 of 2 pairs)" in gain and "+4.62" in gain
    assert "python -m spacy train configs/bilstm_crf.cfg" in text
    assert "spacy project run baseline" in text
    assert "Linux-x86_64, 2 CPUs" in text and "2025-01-02" in text and "0123456789ab" in text
    assert "Differences from the papers' setting" in text and "50 epochs" in text


def test_empty_results(tmp_path):
    out = write_results(tmp_path / "none", tmp_path / "results.md", groups=GROUPS, today="2025-01-03")
    text = out.read_text()
    assert "from 0 metrics file(s)" in text
    assert text.count(NOT_MEASURED) >= 3 * 2 + 2  # every in-corpus and out-of-corpus cell


def test_matrix_and_gain(tmp_path):
    write_metrics(tmp_path, "vd", "NCBI-disease", 0, 0.8, {"BC5CDR-disease": 0.6})
    metrics = load_metrics(tmp_path)
    table = render_matrix(metrics, "vd", ["NCBI-disease", "BC5CDR-disease"])
    assert "| NCBI-disease | 80.00 (n=1) | 60.00 (n=1) |" in table
    assert f"| BC5CDR-disease | {NOT_MEASURED} | {NOT_MEASURED} |" in table
    assert mean_gain({}, [("a", "b")], "baseline", "vd") == (None, 0)


def test_evaluation_versions_are_never_mixed(tmp_path):
    """Seed 0 re-scored with v2 (its v1 figures kept as superseded), seeds 1
    and 2 still v1: the main table shows v2 alone, the v1 figures of all
    three seeds are in their own section, and VD - BL across versions is
    not computed."""
    old = {"in_corpus": {"precision": 0.5, "recall": 0.5, "f1": 0.5}, "out_of_corpus": {}}
    write_metrics(tmp_path, "baseline", "Linnaeus", 0, 0.70, superseded=[old])
    write_metrics(tmp_path, "baseline", "Linnaeus", 1, 0.52, version=1)
    write_metrics(tmp_path, "baseline", "Linnaeus", 2, 0.54, version=1)
    write_metrics(tmp_path, "vd", "Linnaeus", 0, 0.51, version=1)
    text = write_results(tmp_path, tmp_path / "r.md", groups=GROUPS, today="2025-01-03").read_text()
    main, _, superseded = text.partition("## Superseded: figures of evaluation v1")
    row = next(line for line in main.splitlines() if line.startswith("| species | Linnaeus |"))
    assert "70.00 (n=1)" in row and "51.00 (n=1, eval v1)" in row and "different evaluations" in row
    old_row = next(line for line in superseded.splitlines() if line.startswith("| species | Linnaeus |"))
    assert "52.00 ± 2.00 (n=3, eval v1)" in old_row and "-1.00" in old_row


def test_differences_carry_a_t_test(tmp_path):
    """Same seeds: paired by seed (a constant gain gives p ~ 0); other seeds: Welch."""
    from scipy import stats

    results = tmp_path / "results"
    base, gain = [0.80, 0.84, 0.82], [0.02, 0.021, 0.019]
    for seed, f1 in enumerate(base):
        write_metrics(results, "baseline", "NCBI-disease", seed, f1)
        write_metrics(results, "vd", "NCBI-disease", seed, f1 + gain[seed])
    for seed, f1 in zip((5, 6), (0.81, 0.86)):
        write_metrics(results, "vd", "Linnaeus", seed, f1)
    for seed, f1 in enumerate((0.80, 0.82)):
        write_metrics(results, "baseline", "Linnaeus", seed, f1)
    text = write_results(results, tmp_path / "r.md", groups=GROUPS, variants=["baseline", "vd"]).read_text()
    ncbi = next(line for line in text.splitlines() if line.startswith("| disease | NCBI-disease |"))
    paired_p = stats.ttest_rel([100 * (b + g) for b, g in zip(base, gain)], [100 * b for b in base]).pvalue
    assert f"+2.00 (p={paired_p:.2f})" in ncbi and paired_p < 0.01
    linnaeus = next(line for line in text.splitlines() if line.startswith("| species | Linnaeus |"))
    welch_p = stats.ttest_ind([81.0, 86.0], [80.0, 82.0], equal_var=False).pvalue
    assert f"+2.50 (p={welch_p:.2f})" in linnaeus


def test_transfer_runs_list_their_silver_corpus(tmp_path):
    results = tmp_path / "results"
    write_metrics(results, "baseline", "NCBI-disease", 0, 0.80, {"BC5CDR-disease": 0.60})
    write_metrics(results, "tl", "NCBI-disease", 0, 0.82, {"BC5CDR-disease": 0.66})
    path = results / "tl" / "NCBI-disease" / "seed0.json"
    data = json.loads(path.read_text())
    data["recipe"] = {"pretrained": {"path": "training/ssc/NCBI-disease/model-last", "max_steps": 4941, "silver": {
        "documents": {"written": 7930, "sentences_written": 79054},
        "kept": {"Disease": 38517, "Species": 8541},
        "taggers": [{"name": "Disease:NCBI-disease"}, {"name": "*:BioNLP13PC"}],
        "excluded_taggers": [{"name": "Disease:BC5CDR-disease"}]}}}
    path.write_text(json.dumps(data))
    text = write_results(results, tmp_path / "r.md", groups=GROUPS, variants=["baseline", "tl"], today="2025-01-03").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| NCBI-disease | 7,930 |"))
    assert "Disease 38,517, Species 8,541" in row and "| 4941 |" in row
    assert "Disease:NCBI-disease, *:BioNLP13PC" in row and row.endswith("| Disease:BC5CDR-disease |")
    assert "CALBC-SSC-III" in text
    gain = next(line for line in text.splitlines() if line.startswith("| TL |"))
    assert "+6.00" in gain and "+6.48" in gain  # ours beside the paper's


def test_partner_table_compares_each_partner_with_bl(tmp_path):
    results = tmp_path / "results"
    groups = {"disease": ["NCBI-disease", "BC5CDR-disease", "Variome-disease"]}
    for seed, (f1, ooc) in enumerate([(0.80, 0.60), (0.82, 0.63)]):
        write_metrics(results, "baseline", "NCBI-disease", seed, f1, {"Variome-disease": ooc, "BC5CDR-disease": 0.5})
    for seed, (f1, ooc) in enumerate([(0.83, 0.65), (0.86, 0.67)]):
        write_metrics(results, "multitask", "NCBI-disease+BC5CDR-disease", seed, f1, {"Variome-disease": ooc})
        path = results / "multitask" / "NCBI-disease+BC5CDR-disease" / f"seed{seed}.json"
        data = json.loads(path.read_text())
        data.update(corpus="NCBI-disease", partner="BC5CDR-disease")
        path.write_text(json.dumps(data))
    text = write_results(results, tmp_path / "r.md", groups=groups, variants=["baseline", "multitask"],
                         today="2025-01-03").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| MTL | NCBI-disease + BC5CDR-disease |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[2] == "84.50 ± 2.12 (n=2)" and cells[3].startswith("+3.50 (p=")
    assert cells[4] == "Variome-disease" and cells[5] == "66.00 ± 1.41 (n=2)" and cells[6].startswith("+4.50 (p=")
    other = next(line for line in text.splitlines() if line.startswith("| MTL | NCBI-disease + Variome-disease |"))
    assert NOT_MEASURED in other


def test_report_lists_vector_tables_by_hash(tmp_path):
    results = tmp_path / "results"
    for seed, sha in enumerate(["a" * 64, "a" * 64, None]):
        write_metrics(results, "baseline", "NCBI-disease", seed, 0.8)
        path = results / "baseline" / "NCBI-disease" / f"seed{seed}.json"
        data = json.loads(path.read_text())
        data["recipe"] = {"config": "configs/bilstm_crf.cfg", "config_sha256": "c" * 64, "vectors": "vectors/w2v",
                          **({"vectors_sha256": sha} if sha else {})}
        path.write_text(json.dumps(data))
    text = write_results(results, tmp_path / "results.md", groups=GROUPS, variants=["baseline"]).read_text()
    assert "not recorded (1 runs); sha256 aaaaaaaaaaaa (2 runs)." in text


def test_report_says_where_a_runs_config_bytes_are_now(tmp_path):
    """After a recipe change, the config a run names has other bytes; the
    report points to the file that has the run's bytes (a pinned copy)."""
    from spacy_bioner.project.results import config_files

    project = tmp_path / "project"
    (project / "configs" / "recipe2").mkdir(parents=True)
    (project / "configs" / "recipe2" / "bilstm_crf.cfg").write_text("[old]\n")
    (project / "configs" / "bilstm_crf.cfg").write_text("[new]\n")
    configs = config_files(project)
    old_sha = hashlib.sha256(b"[old]\n").hexdigest()
    assert configs[old_sha] == "configs/recipe2/bilstm_crf.cfg"
    results = tmp_path / "results"
    write_metrics(results, "baseline", "NCBI-disease", 0, 0.8)
    path = results / "baseline" / "NCBI-disease" / "seed0.json"
    data = json.loads(path.read_text())
    data["recipe"] = {"config": "configs/bilstm_crf.cfg", "config_sha256": old_sha}
    path.write_text(json.dumps(data))
    text = write_results(results, tmp_path / "r.md", groups=GROUPS, variants=["baseline"], configs=configs).read_text()
    assert f"`configs/bilstm_crf.cfg` sha256 {old_sha[:12]}, now `configs/recipe2/bilstm_crf.cfg` (1 runs)" in text
    # A run whose config still has its bytes gets no pointer.
    data["recipe"]["config_sha256"] = hashlib.sha256(b"[new]\n").hexdigest()
    path.write_text(json.dumps(data))
    text = write_results(results, tmp_path / "r.md", groups=GROUPS, variants=["baseline"], configs=configs).read_text()
    assert ", now `" not in text
