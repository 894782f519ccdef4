"""The ledger's written form is read without the YAML loader; what it reads must be exactly what YAML reads,
and anything else must go to the YAML loader."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paybill_iac.catalog import ledger, yamlio
from paybill_iac.catalog.ledger import Declared, Entry, Ledger, Location

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
ids = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
locations = st.builds(Location, isolation=st.none() | st.sampled_from(["silo", "bridge", "pooled"]),
                      cloud=st.none() | texts, region=st.none() | texts, cell=st.none() | texts,
                      generation=st.integers(0, 2**40), offboarded=st.booleans())
declared = st.builds(Declared, workflow=st.sampled_from(ledger.WORKFLOWS), to=locations,
                     from_plan=st.none() | texts, plan=st.none() | texts)
ledgers = st.dictionaries(ids, st.builds(Entry, location=locations, declared=st.none() | declared), max_size=8)
cell_generations = st.dictionaries(ids, st.integers(1, 2**40), max_size=3)


@settings(max_examples=300, deadline=None)
@given(ledgers, cell_generations)
def test_what_text_writes_reads_back_the_same_either_way(entries: dict[str, Entry], cells: dict[str, int]) -> None:
    source = ledger.text(Ledger(entries, cells))
    fast = ledger._written_form(source)
    if fast is not None:
        assert fast == yamlio.load_text(source)
    read = ledger.parse(yamlio.load_text(source))
    assert (read.entries, read.cells) == (entries, cells)


def test_the_usual_ledger_takes_the_fast_reading(tmp_path: Path) -> None:
    entries = {
        "acme": Entry(Location("pooled", "aws", "eu-west-1", "aws-euw1-a")),
        "globex": Entry(Location("pooled", "azure", "westeurope", "azure-weu-a", generation=2),
                        Declared("change-plan", Location("bridge", "azure", "westeurope", "azure-weu-a"),
                                 from_plan="starter", plan="growth")),
        "vandelay": Entry(Location("silo", "aws", "us-east-1", offboarded=True)),
        "wayne": Entry(Location(cell='a "quoted" \\ value: with, commas')),
    }
    for cells in ({}, {"aws-euw1-a": 2, "gcp-euw1-a": 1}):
        source = ledger.text(Ledger(entries, cells))
        assert ledger._written_form(source) == yamlio.load_text(source)
        assert ledger._written_form(ledger.text(Ledger({}, cells))) == yamlio.load_text(ledger.text(Ledger({}, cells)))
        ledger.write(tmp_path, Ledger(entries, cells))
        read = ledger.read(tmp_path)
        assert (read.entries, read.cells) == (entries, cells)


CANONICAL = '# header\ntenants:\n  acme: {cell: "a", cloud: "aws", generation: 2}\n'


@pytest.mark.parametrize("edited", [
    CANONICAL.replace('cell: "a"', 'cell: "a", cell: "b"'),  # a repeated field: YAML refuses it
    CANONICAL + '  acme: {cell: "b"}\n',  # a repeated tenant
    CANONICAL.replace("2}", "2.0}"),  # a fraction
    CANONICAL.replace("2}", "1e3}"),  # YAML 1.1 reads this as text
    CANONICAL.replace("2}", "NaN}"),
    CANONICAL.replace('"aws"', "aws"),  # a plain value
    CANONICAL.replace('"aws"', "'aws'"),
    CANONICAL.replace('"a"', '"\\ud83d\\ude00"'),  # JSON joins the surrogate pair, YAML does not
    CANONICAL.replace('"a"', '"\\x41"'),  # a YAML escape JSON lacks
    CANONICAL.replace('"a"', '"a\tb"'),
    CANONICAL.replace("2}", "2} # comment"),
    CANONICAL.replace("acme", "yes"),  # YAML reads the key as true
    CANONICAL.replace("acme", "123"),
    CANONICAL.replace("acme:", '"acme":'),
    CANONICAL.replace('cell: "a"', 'cell: "a", zone: "z"'),  # an unknown field
    CANONICAL.replace('cell: "a"', 'cell: "x, cloud: y"'),  # a field name inside a string
    CANONICAL.replace("}\n", "}, other: {}\n"),
    CANONICAL.replace("}\n", "}"),  # no last line end
    CANONICAL.replace("tenants:", "placements:"),
    CANONICAL.replace("\n", "\r\n"),
    CANONICAL.replace('"a"', '"é"'),
    CANONICAL + "cells:\n",  # a section with nothing in it
    CANONICAL + "cells:\n  c1: {generation: 1.5}\n",
    CANONICAL + "cells:\n  c1: {generation: 2}\nextra: {}\n",
    CANONICAL + "other:\n  c1: {generation: 2}\n",
])
def test_anything_else_goes_to_the_yaml_loader(edited: str, tmp_path: Path) -> None:
    assert ledger._written_form(edited) is None
    (tmp_path / ledger.LEDGER_FILE).write_text(edited, encoding="utf-8", newline="")
    try:
        expected: object = ledger.parse(yamlio.load_text(edited)).entries
    except (yamlio.YamlProblem, ledger.LedgerProblem) as problem:
        expected = str(problem)
    try:
        found: object = ledger.read(tmp_path).entries
    except ledger.LedgerProblem as problem:
        found = str(problem)
    assert found == expected


@pytest.mark.parametrize("tenant", ["on", "no", "yes", "off", "true", "null"])
def test_a_tenant_whose_id_yaml_reads_as_a_boolean_is_written_quoted(tenant: str, tmp_path: Path) -> None:
    entries = {tenant: Entry(Location("pooled", "aws", "eu-west-1", "aws-euw1-a"))}
    ledger.write(tmp_path, Ledger(entries))
    assert ledger.read(tmp_path).entries == entries

