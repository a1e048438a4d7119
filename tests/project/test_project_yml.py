"""project.yml parses with weasel, and every command refers to things that exist."""
import hashlib
import json
import shlex
from pathlib import Path

import pytest
from weasel.util import load_project_config

ROOT = Path(__file__).resolve().parents[2]
MIRROR = ROOT.parent / "shared" / "corpora"


@pytest.fixture(scope="module")
def project():
    return load_project_config(ROOT)


def test_project_yml_validates(project):
    names = [c["name"] for c in project["commands"]]
    for required in ("assets-local", "convert", "vectors", "train-baseline", "train-vd", "evaluate",
                     "cross-corpus", "package", "demo-train", "demo-annotate", "results"):
        assert required in names
    for workflow in ("demo", "baseline", "vd", "all"):
        assert workflow in project["workflows"]
        assert all(step in names for step in project["workflows"][workflow])
    assert project["vars"]["corpora_mirror"] == "../shared/corpora"
    assert project["vars"]["gpu_id"] == -1


def _cli_paths(app):
    """Every command path of a typer app, e.g. ("grid", "run")."""
    import typer.main

    group = typer.main.get_command(app)
    paths = set()

    def walk(cmd, prefix):
        paths.add(prefix)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, prefix + (name,))

    walk(group, ())
    return paths


def test_scripts_refer_to_existing_things(project):
    from spacy_bioner.cli import _register_commands, app

    _register_commands()
    cli_paths = _cli_paths(app)
    for command in project["commands"]:
        for script in command["script"]:
            args = shlex.split(script)
            assert args[0] == "python", script
            if args[1:3] == ["-m", "spacy_bioner.cli"]:
                assert (args[3],) in cli_paths or (args[3], args[4]) in cli_paths, script
            elif args[1] == "-m" and args[2].startswith("spacy_bioner."):
                module = ROOT / (args[2].replace(".", "/") + ".py")
                assert module.exists(), script
            elif args[1:3] == ["-m", "spacy"]:
                assert args[3] in ("train", "package", "evaluate"), script
            for arg in args:
                # Config and script files named in a command must be in the repo.
                if arg.endswith((".cfg", ".py")):
                    assert (ROOT / arg).exists(), f"{arg} in {script}"


def test_grid_vars_are_usable(project):
    from spacy_bioner.project.grid import load_settings, plan_steps

    settings = load_settings(ROOT)
    assert set(settings.variants) >= {"baseline", "vd"}
    assert settings.groups["disease"] == ["NCBI-disease", "BC5CDR-disease", "Variome-disease"]
    assert settings.groups["species"] == ["Linnaeus", "S800", "CRAFT-species"]
    asset_dests = {a["dest"] for a in project["assets"]}
    for corpus in [c for corpora in settings.groups.values() for c in corpora]:
        for split in ("train", "dev", "test"):
            assert str(settings.split(corpus, split)) in asset_dests
    assert len(plan_steps(settings, "vd", ["disease", "species"], [0, 1, 2])) == 18
    # Overrides are config paths of the component's model block.
    # (the transfer variant also names the pretrained pipeline of its corpus).
    for overrides in settings.variants.values():
        keys = [k for k in overrides[::2] if k != "--paths.pretrained"]
        assert all(k.startswith("--components.bilstm_crf_ner.model.") for k in keys)


def test_assets_have_checksums_and_pinned_urls(project):
    for asset in project["assets"]:
        assert asset.get("description")
        if asset.get("extra"):
            continue
        assert len(asset["checksum"]) == 32
        url = asset.get("url")
        if url:
            assert "/df0df02fae6dbb87d88ffcf323b9096528f06f84/" in url, url
            assert not url.endswith("/dev.tsv"), "the MTL source calls the dev split devel.tsv"
        else:
            assert "DERIVED" in asset["description"] or "ASSEMBLED" in asset["description"]


@pytest.mark.corpora
@pytest.mark.skipif(not MIRROR.exists(), reason="needs ../shared/corpora")
def test_asset_checksums_match_the_mirror(project):
    """The MD5 in project.yml (weasel's checksum) of every asset equals the mirror file's."""
    from spacy_bioner.project.assets import read_manifest

    sha = read_manifest(MIRROR)
    prefix = project["vars"]["corpora_dir"] + "/"
    for asset in project["assets"]:
        if asset.get("extra"):
            continue
        rel = asset["dest"][len(prefix):]
        data = (MIRROR / rel).read_bytes()
        assert hashlib.md5(data).hexdigest() == asset["checksum"], rel
        assert hashlib.sha256(data).hexdigest() == sha[rel], rel


def test_no_dependency_paths_are_merged():
    # weasel 1.0 joins a list item ending in "${...}" with a following item
    # starting with "${" into one "a, b" path, which then never exists.
    config = load_project_config(ROOT)
    merged = [
        (cmd["name"], path)
        for cmd in config["commands"]
        for key in ("deps", "outputs", "outputs_no_cache")
        for path in cmd.get(key, [])
        if ", " in path
    ]
    assert not merged


def test_the_grid_trains_with_the_configs_its_results_were_trained_with():
    """Every metrics file of the grid's results folder records the sha256 of
    its config; the config the grid would train that variant with now must
    have the same bytes, or a rerun would mix two recipes in one table."""
    from spacy_bioner.project.grid import load_settings

    settings = load_settings(ROOT)
    files = sorted(settings.path(settings.results_dir).glob("**/seed*.json"))
    assert files, settings.results_dir
    checked = 0
    for path in files:
        metrics = json.loads(path.read_text())
        recipe, variant = metrics.get("recipe") or {}, metrics.get("variant")
        if not recipe.get("config_sha256") or variant not in settings.variants:
            continue
        config = settings.path(settings.config_of(variant))
        assert hashlib.sha256(config.read_bytes()).hexdigest() == recipe["config_sha256"], path
        checked += 1
    assert checked >= 100
