import json

import pytest

from spacy_bioner.corpora.labels import CANONICAL_LABELS, harmonize, load_label_map

# Types in the shared corpora that are deliberately none of the four classes.
UNMAPPED = {
    "Amino_acid", "Anatomical_system", "Anatomy", "CL", "Cell", "Cellular_component", "Complex",
    "DNA", "Developing_anatomical_structure", "GO", "Immaterial_anatomical_entity",
    "Multi-tissue_structure", "Organ", "Organism_subdivision", "Organism_substance",
    "Pathological_formation", "RNA", "SO", "Tissue", "cell_line", "cell_type",
}


@pytest.mark.parametrize("label,expected", [
    ("Disease", "Disease"), ("DISO", "Disease"), ("disease", "Disease"), ("Cancer", "Disease"),
    ("Species", "Species"), ("Taxon", "Species"), ("NCBITaxon", "Species"), ("LIVB", "Species"),
    ("Organism", "Species"), ("species", "Species"),
    ("Chemical", "Chemical"), ("CHEBI", "Chemical"), ("CHED", "Chemical"),
    ("Simple_chemical", "Chemical"), ("chemical", "Chemical"),
    ("GENE", "Gene"), ("GGP", "Gene"), ("protein", "Gene"), ("Protein", "Gene"), ("PRGE", "Gene"),
    ("Gene_or_gene_product", "Gene"), ("gene", "Gene"),
    ("DNA", None), ("cell_line", None), ("Anatomy", None), ("GO", None), ("SO", None),
    ("CL", None), ("cellline", None), ("", None),
])
def test_harmonize_default(label, expected):
    assert harmonize(label, load_label_map()) == expected


def test_default_map_targets_are_canonical():
    assert set(load_label_map().values()) == set(CANONICAL_LABELS)


def test_exact_match_wins_over_case_insensitive():
    label_map = {"GENE": "Gene", "gene": "Other"}
    assert harmonize("gene", label_map) == "Other"
    assert harmonize("GENE", label_map) == "Gene"
    assert harmonize("Gene", label_map) == "Gene"  # first case-insensitive hit


def test_user_map_extends_overrides_and_removes(fixtures):
    label_map = load_label_map(fixtures / "user_label_map.json")
    assert harmonize("DNA", label_map) == "Gene"
    assert harmonize("cell_type", label_map) == "CellType"
    assert harmonize("Taxon", label_map) is None
    assert harmonize("NCBITaxon", label_map) == "Species"
    assert load_label_map("default") == load_label_map()


def test_user_map_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf8")
    with pytest.raises(ValueError, match="bad.json"):
        load_label_map(bad)
    bad.write_text(json.dumps({"DNA": 3}), encoding="utf8")
    with pytest.raises(ValueError, match="object of strings"):
        load_label_map(bad)


@pytest.mark.corpora
def test_every_corpus_type_is_mapped_or_listed(shared_corpora):
    manifest = json.loads((shared_corpora / "manifest.json").read_text(encoding="utf8"))
    label_map = load_label_map()
    types = {t for corpus in manifest["corpora"].values() for split in corpus["splits"].values()
             for t in split["mentions_by_type"]}
    assert types
    for label in types:
        assert (harmonize(label, label_map) is None) == (label in UNMAPPED), label
