"""Does coursekit.claims score a claims table fairly and clearly, is the answer key of
module 2 true to the article, and does the key stay out of everything students receive?"""

from __future__ import annotations

import ast
import csv
import io
import re
import time

import nbclient
import nbformat
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from coursekit import claims, notebooks, seeds

ASSIGNMENT = "02-extracting-claims"
KEY_PATH = ROOT / "tests" / "fixtures" / "keys" / f"{ASSIGNMENT}.csv"
SOLUTION = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
LESSON = ROOT / "lessons" / f"{ASSIGNMENT}.ipynb"
STUDENT_FOLDERS = ("exercises", "lessons", "seeds")

# COURSE-SPEC.md §2, module 2: the troop-strength claims (when as written, troops,
# approximate, sentence fragment).
SPEC_TROOPS = [
    ("currently", 3735, False, "KFOR currently has 3,735 soldiers from 27 countries"),
    ("Initially", 50000, True, "Initially, KFOR consisted of about 50,000 men and women"),
    ("By early 2002", 39000, True, "reduced to about 39,000 personnel"),
    ("in June 2003", 26000, False, "reduce KFOR's troop level to 26,000 in June 2003"),
    ("by the end of 2003", 17500, False, "then to 17,500 by the end of 2003"),
    ("today", 3800, True, "and today to about 3,800"),
]


@pytest.fixture(scope="module")
def article() -> str:
    return seeds.read_article(seeds_dir=ROOT / "seeds")


@pytest.fixture(scope="module")
def key() -> pd.DataFrame:
    return claims.read_key(KEY_PATH)


def troop_paragraph(article: str) -> tuple[int, int]:
    start = article.index("NATO has been carrying out")
    return start, article.index("\n\n", start)


def table(*rows: tuple, columns=("claim", "quantity")) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(columns))


# --- the answer key ---------------------------------------------------------------------


def test_every_key_span_is_exactly_in_the_article(key, article):
    """Does article[start:end] give each claim's text, character for character?"""
    assert claims.key_problems(key, article) == []
    assert len(key) >= 20


def test_key_problems_names_a_wrong_offset(key, article):
    """Would a span that is off by one character be caught and named?"""
    shifted = key.copy()
    shifted.loc[0, "start"] += 1
    (problem,) = claims.key_problems(shifted, article)
    assert problem.startswith(f"{key.loc[0, 'claim_id']}: article[")


def test_key_follows_its_annotation_scheme(key, article):
    """Ids in order, known types, a quantity exactly for numeric claims, and every time
    phrase and hedge written as the article writes it?"""
    assert list(key["claim_id"]) == [f"K{n:02d}" for n in range(1, len(key) + 1)]
    assert set(key["type"]) == set(claims.CLAIM_TYPES)
    for row in key.itertuples(index=False):
        assert (row.type == "numeric") == (row.quantity is not None), row.claim_id
        assert (row.unit != "") == (row.quantity is not None), row.claim_id
        assert row.when in article, row.claim_id
        if row.hedge:
            assert re.search(rf"\b{row.hedge} [\d,]+", row.claim), row.claim_id
        assert row.speaker.strip(), row.claim_id
    assert list(key["start"]) == sorted(key["start"]), "claims are kept in text order"


def test_key_annotates_the_body_only(key, article):
    """Does every claim lie between the dateline paragraph and 'Related posts'?"""
    body_start = article.index("BRUSSELS")
    body_end = article.index("Related posts")
    assert all(body_start <= s and e <= body_end for s, e in zip(key["start"], key["end"], strict=True))


def test_key_troop_rows_are_the_six_rows_of_the_spec(key, article):
    """Are the key's troop claims, in order, exactly spec §2's table, each over its fragment?"""
    troops = key[key["unit"] == "troops"]
    found = [(r.when, r.quantity, r.hedge != "") for r in troops.itertuples(index=False)]
    assert found == [(when, n, approx) for when, n, approx, _ in SPEC_TROOPS]
    same = article.replace("’", "'")
    for row, (*_, fragment) in zip(troops.itertuples(index=False), SPEC_TROOPS, strict=True):
        begins = same.index(fragment)
        assert begins < row.end and row.start < begins + len(fragment), (row.claim_id, fragment)


def test_different_claims_of_the_key_are_told_apart(key):
    """Is every pair of key claims that the matcher could confuse either different in
    quantity or the one fact the article states twice (K03, K06)?"""
    alike = set()
    for i in range(len(key)):
        for j in range(i + 1, len(key)):
            a, b = key.iloc[i], key.iloc[j]
            if claims.claim_similarity(a["claim"], b["claim"]) >= claims.DEFAULT_THRESHOLD:
                if claims.same_quantity(a["quantity"], b["quantity"]):
                    alike.add((a["claim_id"], b["claim_id"]))
    assert alike == {("K03", "K06")}


def test_the_key_scores_itself_perfectly(key):
    """Does the key, handed in as a table, get precision, recall and F1 of 1?"""
    result = claims.score_claims(key, key)
    assert (result.precision, result.recall, result.f1) == (1.0, 1.0, 1.0)
    assert [m.key_row for m in result.matches] == [m.table_row for m in result.matches]


# --- the assignment's use of the key ----------------------------------------------------


def _cells() -> dict[str, str]:
    return {notebooks.grade_id(c): c.source for c in notebooks.read(SOLUTION).cells if notebooks.grade_id(c)}


def _solution_namespace() -> dict:
    namespace = {"re": re, "pd": pd}
    for name, source in _cells().items():
        if name in ("parse_number", "sentences", "numbers_in", "troop_claims", "claims_table"):
            exec(source, namespace)  # the instructor's answer, delimiters are comments
    return namespace


def test_solution_troop_claims_returns_the_six_spec_rows(article):
    """Does the instructor's troop_claims give exactly spec §2's six rows, typed as the
    contract says, for the whole article?"""
    result = _solution_namespace()["troop_claims"](article)
    assert list(result.columns) == ["when", "troops", "approximate"]
    assert pd.api.types.is_integer_dtype(result["troops"])
    assert pd.api.types.is_bool_dtype(result["approximate"])
    rows = [(w, int(t), bool(a)) for w, t, a in result.itertuples(index=False)]
    assert rows == [(when, n, approx) for when, n, approx, _ in SPEC_TROOPS]
    assert all(type(w) is str for w in result["when"])


def _embedded_troop_key() -> pd.DataFrame:
    """The key rows that the hidden test of claims_table carries (nbgrader copies no file)."""
    tree = ast.parse(_cells()["test_claims_table"])
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "_troop_key":
            call = node.value
            rows = ast.literal_eval(call.args[0])
            columns = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "columns"))
            return pd.DataFrame(rows, columns=columns)
    raise AssertionError("test_claims_table has no _troop_key table")


def test_hidden_test_embeds_exactly_the_keys_troop_paragraph_rows(key, article):
    """Are the rows in the hidden test of claims_table the key's rows for that paragraph?"""
    start, end = troop_paragraph(article)
    inside = key[(key["start"] >= start) & (key["end"] <= end)]
    embedded = _embedded_troop_key()
    columns = list(embedded.columns)
    assert columns == ["claim_id", "claim", "quantity", "unit", "when", "hedge"]
    expected = [tuple(r) for r in inside[columns].itertuples(index=False)]
    got = [tuple(None if pd.isna(v) else v for v in r) for r in embedded.itertuples(index=False)]
    assert got == expected


def test_solution_claims_table_earns_full_points(article):
    """Does the instructor's claims_table score F1 = 1 against the embedded key?"""
    start, end = troop_paragraph(article)
    result = claims.score_claims(_solution_namespace()["claims_table"](article[start:end]), _embedded_troop_key())
    assert result.f1 == 1.0 and result.points(4) == 4.0 and not result.disagreements


def test_nbgrader_reads_the_points_as_partial_credit():
    """Does nbgrader 0.9's determine_grade turn the cell's last value into its score?"""
    from nbgrader.utils import determine_grade

    for points in (0.0, 2.29, 4.0):
        cell = nbformat.v4.new_code_cell("score.points(4)")
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "points": 4, "grade_id": "t"}
        cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": repr(points)})]
        assert determine_grade(cell) == (points, 4.0)


# --- scoring ----------------------------------------------------------------------------

KEY = pd.DataFrame(
    {
        "claim_id": ["A", "B", "C"],
        "claim": [
            "KFOR currently has 3,735 soldiers from 27 countries around the world stationed in Kosovo",
            "By early 2002, KFOR had been reduced to about 39,000 personnel",
            "Ukrainian troops have been called back after Russia began its invasion of Ukraine",
        ],
        "quantity": [3735, 39000, None],
        "when": ["currently", "By early 2002", ""],
    }
)


def test_a_perfect_table_gets_full_marks():
    """Does a table equal to the key get precision, recall and F1 of 1 and all the points?"""
    result = claims.score_claims(KEY.drop(columns="claim_id"), KEY)
    assert (result.precision, result.recall, result.f1) == (1.0, 1.0, 1.0)
    assert result.points(4) == 4.0 and type(result.points(4)) is float
    assert result.missed.empty and result.extra.empty


@pytest.mark.parametrize(
    "text",
    [
        "KFOR currently has 3,735 soldiers",  # an excerpt of four words or more
        "NATO has been carrying out its mission in Kosovo for almost 24 years now. "
        "KFOR currently has 3,735 soldiers from 27 countries around the world stationed in Kosovo.",
        "KFOR currently has 3,735 troops from 27 countries around the world stationed in Kosovo",
        "kfor CURRENTLY has 3,735 soldiers — from 27 countries!",
    ],
)
def test_claim_text_is_matched_tolerantly(text):
    """Do an excerpt, a longer stretch, a changed word and other case/punctuation match?"""
    result = claims.score_claims(table((text, 3735)), KEY)
    assert [m.key_row for m in result.matches] == [0]


@pytest.mark.parametrize("text", ["3,735", "KFOR", "The force is nearly four thousand strong today"])
def test_too_little_or_other_text_does_not_match(text):
    """Is a bare number, a lone word or a paraphrase kept from matching, even with the right quantity?"""
    assert claims.score_claims(table((text, 3735)), KEY).found == 0


@pytest.mark.parametrize(
    ("quantity", "matches"),
    [(3735, True), (3735.0, True), (np.int64(3735), True), (3800, False), (None, False), (37.35, False)],
)
def test_quantities_must_be_exactly_equal(quantity, matches):
    """Is 3735 matched by 3735, 3735.0 and numpy's 3735, and by no other or missing number?"""
    result = claims.score_claims(table((KEY.claim[0], quantity)), KEY)
    assert (result.found == 1) is matches


def test_a_claim_without_number_matches_only_a_row_without_number():
    """Do two empty quantities count as equal, and an empty one as different from a number?"""
    assert claims.score_claims(table((KEY.claim[2], None)), KEY).found == 1
    assert claims.score_claims(table((KEY.claim[2], float("nan"))), KEY).found == 1
    assert claims.score_claims(table((KEY.claim[2], 0)), KEY).found == 0


def test_missed_and_extra_claims_are_listed_with_reasons():
    """Are the missed key claims and the unmatched rows listed in order, with why each failed?"""
    result = claims.score_claims(
        table(
            ("By early 2002, KFOR had been reduced to about 39,000 personnel", 2002),
            ("KFOR currently has 3,735 soldiers", 3735),
            ("I want to be optimistic", None),
        ),
        KEY,
    )
    assert (result.found, result.precision, result.recall) == (1, 1 / 3, 1 / 3)
    assert list(result.missed["claim_id"]) == ["B", "C"]
    assert list(result.extra.index) == [0, 2]
    assert result.extra.loc[0, "why"] == "text like B, but the key's quantity is 39000"
    assert result.extra.loc[2, "why"] == "no key claim has text like this"
    text = result.summary()
    assert "found 1 of 3 key claims: recall 0.33" in text
    assert "1 of 3 rows are key claims: precision 0.33" in text
    assert "row 0: 2002 “By early 2002" in text and "missed (in the key" in text


def test_a_claim_recorded_twice_counts_once():
    """Is a second row for an already-matched claim an extra row, and said to be one?"""
    result = claims.score_claims(table((KEY.claim[0], 3735), ("KFOR currently has 3,735 soldiers", 3735)), KEY)
    assert result.found == 1 and list(result.extra.index) == [1]
    assert result.extra.loc[1, "why"] == "same claim as A, which another row already matched"


def test_matching_is_as_large_as_possible():
    """When the most similar pair would leave another key claim unmatched, is it re-paired
    so that both are matched (augmenting paths after the greedy pass)?"""
    # key row 0 is like rows 0 (100) and 1 (90); key row 1 only like row 0 (95).
    options = {0: [(100.0, 0), (90.0, 1)], 1: [(95.0, 0)]}
    assert claims._match(options) == {0: 1, 1: 0}


def test_the_order_of_rows_does_not_change_the_score():
    """Do a table and the same rows reversed get the same measures, and the same call twice
    the same report (deterministic)?"""
    rows = table(
        (KEY.claim[0], 3735), ("KFOR currently has 3,735 soldiers", 3735),
        (KEY.claim[2], None), ("I want to be optimistic", None),
    )
    first = claims.score_claims(rows, KEY)
    backwards = claims.score_claims(rows.iloc[::-1], KEY)
    assert (first.found, first.precision, first.recall) == (backwards.found, backwards.precision, backwards.recall)
    assert first.summary() == claims.score_claims(rows, KEY).summary()


def test_the_index_of_a_table_does_not_matter():
    """Does a table with an odd index (filtered, or strings) score like one with 0..n-1?"""
    rows = KEY.drop(columns="claim_id").set_index(pd.Index(["x", "y", "z"]))
    assert claims.score_claims(rows, KEY).f1 == 1.0


def test_fields_that_differ_from_the_key_are_reported_not_scored():
    """Is a different `when` named in the report while F1 stays 1?"""
    rows = KEY.drop(columns="claim_id").assign(when=["now", "By early 2002", ""])
    result = claims.score_claims(rows, KEY)
    assert result.f1 == 1.0
    assert result.disagreements == (claims.Disagreement("A", "when", "currently", "now"),)
    assert "A when: key 'currently', yours 'now'" in result.summary()


def test_an_empty_table_scores_zero_without_error():
    """Does a table with the columns but no rows get 0 for everything, not a division error?"""
    result = claims.score_claims(table(), KEY)
    assert (result.precision, result.recall, result.f1, result.points(4)) == (0.0, 0.0, 0.0, 0.0)
    assert len(result.missed) == 3


def test_points_are_a_plain_float_never_above_the_maximum():
    """nbgrader reads the cell's value with float() and rejects more than the cell's points."""
    result = claims.score_claims(table((KEY.claim[0], 3735), (KEY.claim[1], 39000)), KEY)
    assert result.points(4) == 3.2 and type(result.points(4)) is float
    assert repr(result.points(4)) == "3.2"
    assert claims.score_claims(KEY, KEY).points(2.5) == 2.5


# --- errors a student can read --------------------------------------------------------


def test_a_missing_column_is_named_with_the_scheme():
    """Does a table without `quantity` get an error naming it, what the table has, and the scheme?"""
    with pytest.raises(claims.ClaimsTableError) as error:
        claims.score_claims(pd.DataFrame({"claim": ["x y z w"], "number": [1]}), KEY)
    message = str(error.value)
    assert "lacks column(s) quantity" in message and "it has: claim, number" in message
    assert "claim, speaker, type, quantity, unit, when, hedge" in message


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (table(("KFOR has 3,735 soldiers", "3,735")),
         "row 0: 'quantity' must be a number or empty, not '3,735' (turn text into a number first"),
        (table(("KFOR has 3,735 soldiers", True)), "row 0: 'quantity' must be a number or empty, not True"),
        (table(("", 3735)), "row 0: 'claim' must be the claim's text, not ''"),
        (table((None, 3735)), "row 0: 'claim' must be the claim's text, not None"),
        (table(("a b c d", 1), ("e f g h", 2), (3735, 3735)), "row 2: 'claim' must be the claim's text, not 3735"),
        (table(("KFOR has 3,735 soldiers", 3735, 2023), columns=("claim", "quantity", "when")),
         "row 0: 'when' must be text or empty, not 2023"),
    ],
)
def test_wrong_types_are_named_by_row_and_column(rows, expected):
    """Does each wrong value get an error that names its row, its column and the value?"""
    with pytest.raises(claims.ClaimsTableError, match=re.escape(expected)):
        claims.score_claims(rows, KEY)


def test_something_that_is_not_a_table_is_named():
    """Is a list of rows, instead of a DataFrame, refused with its type named?"""
    with pytest.raises(claims.ClaimsTableError, match="must be a pandas DataFrame, not list"):
        claims.score_claims([("KFOR has 3,735 soldiers", 3735)], KEY)


def test_a_key_with_no_claims_or_a_bad_threshold_is_refused():
    """Are an empty key and a threshold outside 0-100 refused rather than scored?"""
    with pytest.raises(claims.ClaimsTableError, match="no claims"):
        claims.score_claims(KEY, KEY.iloc[:0])
    with pytest.raises(ValueError, match="between 0 and 100"):
        claims.score_claims(KEY, KEY, threshold=101)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda rows: rows, None),
        (lambda rows: [r[:3] + r[4:] for r in rows], "lacks column(s) claim"),
        (lambda rows: rows[:1] + [rows[1][:6] + ["many"] + rows[1][7:]], "line 2: quantity 'many' is not a number"),
        (lambda rows: rows[:1] + [rows[1], rows[1]], "claim_id used twice: K01"),
        (lambda rows: rows[:1] + [rows[1][:5] + ["rumour"] + rows[1][6:]], "unknown claim type(s) ['rumour']"),
    ],
)
def test_reading_a_key_checks_it(tmp_path, change, expected):
    """Does read_key accept a well-formed key and name what is wrong with a broken one?"""
    rows = list(csv.reader(io.StringIO(KEY_PATH.read_text(encoding="utf-8"))))[:2]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(change([list(r) for r in rows]))
    path = tmp_path / "key.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    if expected is None:
        assert len(claims.read_key(path)) == 1
    else:
        with pytest.raises(claims.ClaimsTableError, match=re.escape(expected)):
            claims.read_key(path)


def test_a_missing_key_file_is_named(tmp_path):
    """Does read_key name a key file that does not exist?"""
    with pytest.raises(claims.ClaimsTableError, match="answer key not found"):
        claims.read_key(tmp_path / "nope.csv")


# --- the key never reaches students -----------------------------------------------------


def _student_files():
    for folder in STUDENT_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and ".ipynb_checkpoints" not in path.parts:
                yield path


def _readable(path) -> str:
    if path.suffix == ".ipynb":
        nb = notebooks.read(path)
        return "\n".join([c.source for c in nb.cells] + [str(nb.metadata)])
    return path.read_text(encoding="utf-8", errors="replace")


def _key_lines() -> list[str]:
    """The key's header and every row, as the CSV file writes them: the key's annotation.

    The claim texts alone are the article's own words (in seeds/ by design); what must not
    reach students is the annotation: ids, offsets, types, quantities, units, hedges."""
    return [line for line in KEY_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]


def _key_leaks(text: str) -> list[str]:
    found = [line for line in _key_lines() if line in text]
    # A row copied as a tuple or a table row still carries its id next to its offsets.
    for row in claims.read_key(KEY_PATH).itertuples(index=False):
        if re.search(rf"\b{row.claim_id}\b\W+{row.start}\W+{row.end}\b", text):
            found.append(f"{row.claim_id} with its offsets")
    return found


def test_key_is_not_in_any_student_file():
    """Is no line of the answer key, and no id with its offsets, in exercises/, lessons/ or seeds/?"""
    assert len(_key_lines()) > 20
    leaks = {str(p.relative_to(ROOT)): _key_leaks(_readable(p)) for p in _student_files()}
    assert {p: found for p, found in leaks.items() if found} == {}


def test_key_scan_would_catch_a_leak():
    """Would one key row pasted into a notebook, or an id with its offsets, be found?"""
    row = _key_lines()[9]
    assert row in _key_leaks("intro\n" + row + "\nmore")
    assert _key_leaks("claims = [('K08', 1263, 1335, 'NATO has been')]") == ["K08 with its offsets"]


def test_nothing_but_the_notebook_is_released():
    """Does solutions/<id>/ hold only the notebook, so nbgrader copies no key into the release?"""
    assert sorted(p.name for p in (ROOT / "solutions" / ASSIGNMENT).iterdir()) == [f"{ASSIGNMENT}.ipynb"]
    assert sorted(p.name for p in (ROOT / "exercises" / ASSIGNMENT).iterdir()) == [f"{ASSIGNMENT}.ipynb"]


def test_release_keeps_no_embedded_key_row():
    """Has nbgrader removed every row of the hidden test's key from the student's notebook?"""
    release = _readable(ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    assert "_troop_key" not in release
    for claim_id in _embedded_troop_key()["claim_id"]:
        assert f'("{claim_id}"' not in release


# --- the lesson -------------------------------------------------------------------------


@pytest.mark.slow
def test_lesson_runs_in_under_30_seconds():
    """Does lessons/02-extracting-claims.ipynb run top to bottom, without error, within 30 s?"""
    nb = nbformat.read(LESSON, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=30, kernel_name="python3", resources={"metadata": {"path": str(LESSON.parent)}}
    )
    started = time.perf_counter()
    client.execute()
    assert time.perf_counter() - started < 30


def test_lesson_teaches_what_the_issue_asks():
    """Does the lesson cover the classes, sentence pitfalls, numbers, hedges, time phrases,
    the tidy table and precision/recall, with examples from the article?"""
    text = "\n".join(c.source for c in nbformat.read(LESSON, as_version=4).cells)
    for needed in ("non-factual", "unimportant factual", "check-worthy factual", "May 29th.",
                   "\\xa0", "3,735", "50,000", "2002,", "29th", "about", "almost", "well over",
                   "Initially", "By early 2002", "today", "one claim per row", "Precision",
                   "Recall", "F1", "score_claims"):
        assert needed in text, needed
