"""The skeleton of real contracts (read in place from the shared corpus): numbered sections and headings,
nested numbering, defined terms with their uses, cross-references resolved, parties and signatures."""

from __future__ import annotations

from analysis.first_pass.structure import structure

ADIA = "contracts_cuad/ADIANUTRITION,INC_04_01_2005-EX-10.D2-RESELLER AGREEMENT.txt"
ABILITY = "contracts_cuad/ABILITYINC_06_15_2020-EX-4.25-SERVICES AGREEMENT.txt"
ARTARA = "contracts_cuad/ArtaraTherapeuticsInc_20200110_8-K_EX-10.5_11943350_EX-10.5_License Agreement.txt"
CERES = "contracts_cuad/CERES,INC_01_25_2012-EX-10.20-Collaboration Agreement.txt"


def read(corpus, name: str) -> str:
    return (corpus / name).read_text(errors="replace")


def test_numbered_headings_with_their_titles(corpus):
    text = read(corpus, ADIA)
    found = {s.label: s for s in structure(text).sections}
    assert found["1"].title == "GRANT OF RIGHTS"
    assert found["1.1"].title == "LICENSE" and found["1.1"].level == 2
    assert found["2.5"].title == "SECURITY ISSUES"
    # Each section's text is exactly its number and heading, and its body runs to the next sibling.
    assert text[found["2.5"].start:found["2.5"].end] == "2.5 SECURITY ISSUES."
    assert found["2.5"].body_end == found["2.6"].start


def test_nested_letters_belong_to_their_section(corpus):
    text = read(corpus, ABILITY)
    labels = [s.label for s in structure(text).sections]
    assert labels[:5] == ["1", "1.1", "1.1(a)", "1.1(b)", "1.2"]
    # A page number standing alone between two sections is not a section.
    assert all(not (s.label.isdigit() and s.title is None) for s in structure(text).sections)


def test_cross_references_resolve_to_their_sections(corpus):
    text = read(corpus, ADIA)
    result = structure(text)
    by_label = {s.label: s for s in result.sections}
    references = [r for r in result.cross_references if r.target == "2.5"]
    assert references, "Section 2.5 is referred to in section 2.5 itself"
    assert all(r.section_start == by_label["2.5"].start for r in references)
    assert all(text[r.start:r.end] == r.text and r.text.endswith("2.5") for r in references)


def test_unknown_sections_stay_unresolved(corpus):
    text = read(corpus, ABILITY)
    missing = [r for r in structure(text).cross_references if r.target == "6.6"]
    assert missing and all(r.section_start is None for r in missing)


def test_defined_terms_in_quotes_with_means_and_in_parentheses(corpus):
    text = read(corpus, ARTARA)
    terms = {t.term: t for t in structure(text).defined_terms}
    fda = terms["FDA"]
    assert text[fda.start:fda.end] == "FDA"
    assert text[fda.definition_start:fda.definition_end].startswith('"FDA" means the United States Food and Drug')
    assert len(fda.uses) >= 1 and all(text[s:e] == "FDA" for s, e in fda.uses)
    adia = {t.term: t for t in structure(read(corpus, ADIA)).defined_terms}
    assert "Documentation" in adia and len(adia["Documentation"].uses) > 5


def test_parties_and_their_short_names(corpus):
    parties = structure(read(corpus, ADIA)).parties
    assert [(p.name, p.short_name) for p in parties.parties] == [("PivX Corporation", "PivX"),
                                                                 ("Detto Technologies", "Detto")]
    # The same contract read from its PDF: the title page's "BY AND BETWEEN" runs into the preamble with only
    # line breaks and no-break spaces between them.
    from analysis.ingest import ingest

    pdf_text = ingest(corpus / ADIA.replace(".txt", ".PDF"), ocr=False).text
    assert [(" ".join(p.name.split()), p.short_name) for p in structure(pdf_text).parties.parties] == [
        ("PivX Corporation", "PivX"), ("Detto Technologies", "Detto")]
    text = read(corpus, CERES)
    names = [(p.name, p.short_name) for p in structure(text).parties.parties]
    assert names[0] == ("INSTITUTE OF GRASSLAND AND  ENVIRONMENTAL RESEARCH", "IGER")


def test_signature_block_after_in_witness_whereof(corpus):
    text = read(corpus, ADIA)
    blocks = structure(text).signatures
    assert len(blocks) == 2  # one "By:" per signing party
    assert all("By:" in text[b.start:b.end] for b in blocks)
    assert text.index("IN WITNESS WHEREOF") <= blocks[0].start


def test_no_structure_in_plain_prose():
    result = structure("This is a letter. It has no numbered sections and no parties.")
    assert result.sections == () and result.parties is None and result.signatures == ()
